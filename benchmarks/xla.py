"""lit on XLA against a hand-written torch_xla loop: steps per second, graph compilations.

Runs in ``.venv-xla`` (torch 2.9 + torch_xla 2.9) on XLA's CPU backend::

    PJRT_DEVICE=CPU .venv-xla/bin/python benchmarks/xla.py [--steps 200] [--repeats 9]

Both loops train the walk-through's MLP (784-128-256-10, Adam) on the same random batches,
uploaded by torch_xla's ``MpDeviceLoader``; the hand-written loop is torch_xla's canonical one
(``xm.optimizer_step`` per batch, the loader's step boundary). After one warm-up run of each
(it compiles the graphs), ``--repeats`` rounds each run both loops once, interleaved, the order
alternating from round to round; both timings start before the model is built and moved to the
device (what ``fit`` does inside). The ratio is judged per round (lit's steps/s over the
hand-written loop's in the same round; the median over rounds), because this machine's speed
drifts by 20 % over seconds: back-to-back blocks of runs of one loop then the other measured
that drift, not lit. The best run of each loop is printed too. Compilations are torch_xla's
``UncachedCompile`` counter over a whole ``--steps`` run, warm-up included, counted in a fresh
process for each loop. Goals: lit >= 0.95x the hand-written loop's steps/s; a constant number of
compilations (the same for 10 and for 100 steps).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("PJRT_DEVICE", "CPU")

import torch
from torch import nn
from torch.nn import functional as F

BATCH = 64


def mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 256), nn.ReLU(), nn.Linear(256, 10))


def data(steps: int) -> torch.utils.data.DataLoader:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(steps * BATCH, 1, 28, 28, generator=g), torch.randint(0, 10, (steps * BATCH,), generator=g)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=BATCH)


def hand_written(steps: int) -> float:
    """Seconds for ``steps`` steps of torch_xla's canonical training loop."""
    import torch_xla
    import torch_xla.core.xla_model as xm
    from torch_xla.distributed.parallel_loader import MpDeviceLoader

    loader = data(steps)
    start = time.perf_counter()  # from building the model, as fit() does
    device = torch_xla.device()
    model = mlp().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for x, y in MpDeviceLoader(loader, device):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        xm.optimizer_step(optimizer)
    xm.wait_device_ops()
    return time.perf_counter() - start


def with_lit(steps: int) -> float:
    """Seconds for ``steps`` steps of ``Trainer(accelerator="xla").fit`` (barebones off: the default Trainer)."""
    import torch_xla.core.xla_model as xm

    import lit_core as lit

    class Module(lit.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = mlp()

        def training_step(self, batch, batch_idx):
            x, y = batch
            return F.cross_entropy(self.net(x), y)

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-3)

    trainer = lit.Trainer(accelerator="xla", max_epochs=1, logger=False, enable_progress_bar=False,
                          enable_checkpointing=False, enable_model_summary=False)
    loader = data(steps)
    start = time.perf_counter()
    trainer.fit(Module(), loader)
    xm.wait_device_ops()
    return time.perf_counter() - start


LOOPS = {"hand-written torch_xla": hand_written, "lit": with_lit}


def compilations(loop: str, steps: int) -> int:
    """``UncachedCompile`` after one ``steps``-step run of ``loop`` in a fresh process."""
    code = (f"import sys; sys.argv = ['x']; sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r}); "
            f"import xla as b; b.LOOPS[{loop!r}]({steps}); import torch_xla.debug.metrics as met; "
            "print(met.counter_value('UncachedCompile') or 0)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="steps per timed run (default 200, ~3 s here)")
    parser.add_argument("--repeats", type=int, default=9, help="interleaved rounds (default 9)")
    parser.add_argument("--quick", action="store_true", help="20 steps, one round; compilations over 20 steps")
    args = parser.parse_args()
    steps, repeats = (20, 1) if args.quick else (args.steps, args.repeats)
    counted = 20 if args.quick else 100  # the compilation goal is about a 100-step run
    import torch_xla

    torch_xla.device()  # the runtime up before any CPU work (see docs/xla.rst)
    names = list(LOOPS)
    for loop in LOOPS.values():
        loop(steps)  # warm-up: compiles the graphs
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for r in range(repeats):
        for name in names if r % 2 == 0 else names[::-1]:
            seconds[name].append(LOOPS[name](steps))
    hand, lit_ = seconds["hand-written torch_xla"], seconds["lit"]
    ratios = [h / t for h, t in zip(hand, lit_)]  # lit's steps/s over the hand-written loop's, same round
    counts = {name: (compilations(name, 10), compilations(name, counted)) for name in LOOPS}
    print(f"XLA:CPU, MLP 784-128-256-10, batch {BATCH}, {steps} steps, {repeats} interleaved round(s)")
    rates = {name: steps / min(seconds[name]) for name in names}
    for name in names:
        few, many = counts[name]
        print(f"{name:24s} best {rates[name]:7.1f} steps/s, median {steps / statistics.median(seconds[name]):7.1f}   "
              f"compilations: {few} in 10 steps, {many} in {counted} steps")
    print("per-round ratio (lit / hand-written steps/s): " + " ".join(f"{r:.3f}" for r in ratios))
    ratio = statistics.median(ratios)
    print(f"GOAL lit steps/s vs hand-written (median per-round ratio): {ratio:.3f}x >= 0.95x -> "
          f"{'PASS' if ratio >= 0.95 else 'FAIL'}")
    few, many = counts["lit"]
    print(f"GOAL lit compilations constant: {few} (10 steps) == {many} ({counted} steps) -> {'PASS' if few == many else 'FAIL'}")
    print(json.dumps({"rates": rates, "ratios": ratios, "compilations": counts}))


if __name__ == "__main__":
    main()
