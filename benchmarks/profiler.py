"""What ``SimpleProfiler`` costs per training step: lit's, and Lightning's on the same benchmark.

The tiny model of ``overhead.py`` (``Linear(32 -> 2)``, cross-entropy, batch 32, SGD, 64
pre-generated batches cycled), trained by a Trainer with no logger, bar, checkpointing or
summary, twice per round: ``profiler=None`` and ``profiler="simple"`` (order rotated each round).
Each run is *paired* as in ``overhead.py``: before each batch reaches the Trainer, a twin model
takes one hand-written step on it, timed, so the Trainer's step is measured against a raw step
taken microseconds earlier. A run's overhead is the median over steps of ``trainer step - raw
step``; the profiler's cost is ``overhead(simple) - overhead(off)`` in the same round, median over
rounds. Goal (issue 17): lit's ``SimpleProfiler`` <= 10 µs/step.

Lightning is measured by the same code run by another interpreter, one where ``lightning`` is
installed (never lit's: ``--lightning-python``, default ``/work/wt/plvenv/bin/python`` when it
exists), and the two are printed side by side. Run ``python benchmarks/profiler.py --help``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

SEED = 1234
LR = 0.01
POOL = 64
GOAL_US = 10.0
#: Where this workspace keeps a Lightning install (a venv of its own; lit never depends on it).
DEFAULT_LIGHTNING_PYTHON = "/work/wt/plvenv/bin/python"
CLOCK: Callable[[], float] = time.process_time


class TinyNet(nn.Module):
    """``Linear(32 -> 2)``: almost no math, so what the loop (and the profiler) costs shows."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(32, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)


def module_class(base: type) -> type:
    """``TinyNet`` as a ``base`` (lit's or Lightning's ``LightningModule``) with the recipe."""

    def training_step(self: Any, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        return F.cross_entropy(self(x), y)

    def configure_optimizers(self: Any) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=LR)

    return type("LitTinyNet", (TinyNet, base), {"training_step": training_step, "configure_optimizers": configure_optimizers})


def pool() -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(SEED)
    return [(torch.randn(32, 32, generator=g), torch.randint(0, 2, (32,), generator=g)) for _ in range(POOL)]


class PairedBatches:
    """``steps`` batches; before yielding each, a twin model takes one raw step on it (timed)."""

    def __init__(self, batches: list[tuple[torch.Tensor, torch.Tensor]], steps: int) -> None:
        self.batches, self.steps = batches, steps
        self.stamps: list[float] = []
        self.raw: list[float] = []

    def __len__(self) -> int:
        return self.steps

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        torch.manual_seed(SEED)
        twin = TinyNet()
        optimizer = torch.optim.SGD(twin.parameters(), lr=LR)
        self.stamps, self.raw = stamps, raw = [], []
        for i in range(self.steps):
            x, y = batch = self.batches[i % len(self.batches)]
            start = CLOCK()
            F.cross_entropy(twin(x), y).backward()
            optimizer.step()
            optimizer.zero_grad()
            stamp = CLOCK()
            raw.append(stamp - start)
            stamps.append(stamp)
            yield batch

    def overhead(self, warmup: int) -> float:
        """Median over steps of (trainer step - the raw step taken just before it), seconds.

        Trainer step ``i`` is the time between two stamps less the raw step taken in between.
        """
        s, r = self.stamps, self.raw
        if len(s) != self.steps:
            raise RuntimeError(f"expected {self.steps} batches fetched, got {len(s)}")
        return statistics.median(b - a - 2 * rr for a, b, rr in zip(s[warmup:-1], s[warmup + 1:], r[warmup + 1:]))


def trainer_runner(framework: str) -> tuple[Callable[[str | None, PairedBatches], None], str]:
    """``run(profiler, data)``: fit once with ``profiler`` (``None`` or ``"simple"``) on ``data``; and the version."""
    if framework == "lit":
        import lit_core as lib

        version = f"lit_core {lib.__version__}"
        flags: dict[str, Any] = {}
    else:
        import lightning.pytorch as lib

        version = f"lightning {lib.__version__}"
        flags = {"accelerator": "cpu", "devices": 1}
        for name in ("lightning.pytorch", "lightning.fabric"):
            logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger("lit_profilers").setLevel(logging.ERROR)  # the report itself is not what is measured
    cls = module_class(lib.LightningModule)

    def run(profiler: str | None, data: PairedBatches) -> None:
        torch.manual_seed(SEED)
        model = cls()
        with tempfile.TemporaryDirectory(prefix="prof-bench-") as root, contextlib.redirect_stdout(io.StringIO()), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trainer = lib.Trainer(max_epochs=1, default_root_dir=root, logger=False, enable_checkpointing=False,
                                  enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                                  profiler=profiler, **flags)
            trainer.fit(model, train_dataloaders=data)
        if trainer.global_step != data.steps:
            raise RuntimeError(f"{framework} ran {trainer.global_step} steps, expected {data.steps}")

    return run, version


def measure(framework: str, steps: int, rounds: int, warmup: int) -> dict[str, Any]:
    """Per round: the overhead over raw of ``off`` and ``simple``, in µs; one unrecorded round first."""
    torch.set_num_threads(1)
    run, version = trainer_runner(framework)
    data = PairedBatches(pool(), steps)
    names = ["off", "simple"]
    found: dict[str, list[float]] = {name: [] for name in names}
    raw: list[float] = []
    for r in range(-1, rounds):
        for name in (names if r % 2 == 0 else names[::-1]):
            gc.collect()
            run(None if name == "off" else name, data)
            if r >= 0:
                found[name].append(data.overhead(warmup) * 1e6)
                raw.append(statistics.median(data.raw) * 1e6)
    return {"framework": framework, "version": version, "torch": torch.__version__, "raw_us": statistics.median(raw),
            **{name: values for name, values in found.items()}}


def lightning_figures(python: str, args: argparse.Namespace) -> dict[str, Any] | str:
    """Lightning's figures from ``python`` (another venv), or why there are none."""
    if not Path(python).exists():
        return f"no interpreter at {python} (pass --lightning-python, one whose environment has lightning)"
    command = [python, __file__, "--framework", "lightning", "--json", "--steps", str(args.steps), "--rounds",
               str(args.rounds), "--warmup", str(args.warmup), "--clock", args.clock]
    result = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""})
    if result.returncode != 0:
        return f"{python} failed: {result.stderr.strip().splitlines()[-1] if result.stderr.strip() else result.returncode}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def summary(figures: dict[str, Any]) -> tuple[float, float, float, float]:
    """``(off overhead, simple overhead, profiler cost, simple/off step ratio)``, µs and x, medians over rounds."""
    off, simple, raw = figures["off"], figures["simple"], figures["raw_us"]
    cost = statistics.median(s - o for s, o in zip(simple, off))
    ratio = statistics.median((raw + s) / (raw + o) for s, o in zip(simple, off))
    return statistics.median(off), statistics.median(simple), cost, ratio


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=2000, help="training steps per run (default 2000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; medians are reported (default 5)")
    parser.add_argument("--warmup", type=int, default=None, help="steps left out at each run's start (default steps // 10)")
    parser.add_argument("--clock", choices=("cpu", "wall"), default="cpu", help="cpu: time.process_time (default); wall")
    parser.add_argument("--lightning-python", default=DEFAULT_LIGHTNING_PYTHON,
                        help=f"an interpreter whose environment has lightning (default {DEFAULT_LIGHTNING_PYTHON})")
    parser.add_argument("--framework", choices=("lit", "lightning"), default="lit", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="smoke test: 200 steps, 1 round (the figures are noise)")
    args = parser.parse_args(argv)
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.quick:
        args.steps, args.rounds = 200, 1
    if args.warmup is None:
        args.warmup = args.steps // 10
    if args.steps < args.warmup + 10:
        parser.error("need --steps >= --warmup + 10")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.json:  # the child run for another framework: figures only
        print(json.dumps(measure(args.framework, args.steps, args.rounds, args.warmup)))
        return 0
    print(f"profiler overhead benchmark: python {platform.python_version()}, torch {torch.__version__}, tiny model "
          f"Linear(32->2) batch 32, {args.steps} steps, {args.rounds} round(s) + 1 warm-up, warmup {args.warmup} steps, "
          f"clock {'CPU time' if args.clock == 'cpu' else 'wall'}; load average {os.getloadavg()[0]:.2f}")
    rows = {"lit": measure("lit", args.steps, args.rounds, args.warmup)}
    other = lightning_figures(args.lightning_python, args)
    if isinstance(other, str):
        print(f"lightning: skipped, {other}")
    else:
        rows["lightning"] = other
    print(f"{'framework':<22}{'raw step µs':>12}{'off over raw':>14}{'simple over raw':>17}{'SimpleProfiler µs/step':>24}"
          f"{'step ratio':>12}")
    results = {}
    for key, figures in rows.items():
        off, simple, cost, ratio = results[key] = summary(figures)
        print(f"{figures['version']:<22}{figures['raw_us']:>12.1f}{off:>+14.1f}{simple:>+17.1f}{cost:>+24.1f}{ratio:>11.3f}x")
    if "lightning" in results:
        lit_cost, pl_cost = results["lit"][2], results["lightning"][2]
        print(f"SimpleProfiler cost, Lightning / lit: {pl_cost / lit_cost:.1f}x" if lit_cost > 0 else
              f"SimpleProfiler cost: lit {lit_cost:+.1f} µs/step (no measurable cost), Lightning {pl_cost:+.1f}")
    verdict = "PASS" if results["lit"][2] <= GOAL_US else "FAIL"
    print(f"GOAL lit SimpleProfiler cost, tiny model: {results['lit'][2]:.1f} µs/step <= {GOAL_US:g} µs/step -> {verdict}")
    if args.quick:
        print("(--quick: a smoke test; the figures above are too noisy to judge the goal)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
