"""What DDP buys and costs on CPU: 2 processes against 1, and the strategy's per-step cost.

* **scaling**: the epoch time of an MLP whose compute dominates (``--width`` wide, global batch
  ``--batch``), trained on the same data by one process (``strategy="auto"``) and by two
  (``strategy="ddp", devices=2``, gloo; each process gets half of every global batch). One torch
  thread per process. The second epoch is timed (the first builds DDP's buckets and warms up).
  Goal: 2 processes ≤ 0.6 × the time of 1. Two independent processes, each training on half the
  data at the same time with nothing synced, show what the machine allows (on a shared or
  hyper-threaded machine two processes do not get twice the compute).
* **preemption check cost**: lit-checkpoint's stop-signal check (every rank must stop at the same
  step) in a 2-process job (gloo, the tiny model below, ``ModelCheckpoint`` on): the time its
  per-batch hook takes, against the time of a step, and the same for the blocking reduction it
  used to make every step (``trainer.strategy.reduce(flag, "max").item()``), timed in the same
  run. Goal: ≤ 1 % of a step.
* **strategy cost per step**: a tiny model (``Linear 32-32-2``, batch 4) trained by one process
  with ``strategy="auto"`` and with ``strategy="ddp"`` at world size 1: the difference is what the
  strategy adds to a step, without communication worth the name. The same difference for a
  plain PyTorch loop with and without ``DistributedDataParallel`` is torch's own share; the rest
  is lit's (its hooks, the step routed through the wrapper). Also with gradient accumulation
  (the ``no_sync`` switch is a hook on every batch).

Each measurement runs in fresh processes (this file with ``--worker``). Run
``python benchmarks/ddp.py --help``; ``--quick`` is a smoke test (little data: figures are noise).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from typing import Any

GOAL_SCALING = 0.6
GOAL_PREEMPTION_PERCENT = 1.0


def worker(config: dict[str, Any], out: str) -> None:
    """Train as ``config`` says; global rank zero writes its epoch times (seconds) to ``out``."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    import lit_core as lit

    torch.set_num_threads(1)

    class Net(lit.LightningModule):
        def __init__(self, features: int, width: int, depth: int) -> None:
            super().__init__()
            torch.manual_seed(0)
            layers: list[nn.Module] = [nn.Linear(features, width), nn.ReLU()]
            for _ in range(depth - 1):
                layers += [nn.Linear(width, width), nn.ReLU()]
            self.net = nn.Sequential(*layers, nn.Linear(width, 2))
            self.epoch_times: list[float] = []

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            x, y = batch
            return nn.functional.cross_entropy(self.net(x), y)

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=0.01)

        def on_train_epoch_start(self) -> None:
            self._start = time.perf_counter()

        def on_train_epoch_end(self) -> None:
            self.epoch_times.append(time.perf_counter() - self._start)

    g = torch.Generator().manual_seed(0)
    n, features = config["samples"], config["features"]
    data = TensorDataset(torch.randn(n, features, generator=g), torch.randint(0, 2, (n,), generator=g))
    processes = config.get("devices", 1)
    loader = DataLoader(data, batch_size=config["batch"] // processes, shuffle=True)
    model = Net(features, config["width"], config["depth"])
    if config.get("preemption"):
        preemption_worker(model, loader, config, out)
        return
    if config["strategy"] in ("raw", "raw ddp"):
        times = raw_loop(model.net, loader, config["epochs"], ddp=config["strategy"] == "raw ddp")
        with open(out, "w") as f:
            json.dump({"epoch_times": times, "steps_per_epoch": len(loader)}, f)
        return
    trainer = lit.Trainer(strategy=config["strategy"], accelerator="cpu", devices=processes, max_epochs=config["epochs"],
                          accumulate_grad_batches=config.get("accumulate", 1), barebones=True)
    trainer.fit(model, loader)
    if trainer.is_global_zero:
        with open(out, "w") as f:
            json.dump({"epoch_times": model.epoch_times, "steps_per_epoch": trainer.num_training_batches}, f)


def preemption_worker(model: Any, loader: Any, config: dict[str, Any], out: str) -> None:
    """Train in 2 processes with ModelCheckpoint; time lit-checkpoint's preemption hook, and the blocking
    reduction the check used to be, at every batch end. Rank zero writes the totals to ``out``."""
    import functools
    import tempfile

    import torch

    import lit_core as lit
    from lit_checkpoint import preemption

    timed = {"hook": 0.0, "blocking": 0.0}
    calls = {"hook": 0, "blocking": 0}
    original = preemption.Preemption.lit_train_batch_end

    @functools.wraps(original)  # keeps lit's hookimpl marker
    def lit_train_batch_end(self: Any, trainer: Any) -> None:
        start = time.perf_counter()
        original(self, trainer)
        timed["hook"] += time.perf_counter() - start
        calls["hook"] += 1

    preemption.Preemption.lit_train_batch_end = lit_train_batch_end

    class BlockingCheck(lit.Callback):
        """The check as it was: a blocking all-reduce of the flag at every batch end."""

        def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
            start = time.perf_counter()
            bool(trainer.strategy.reduce(torch.tensor(0.0), reduce_op="max").item())
            timed["blocking"] += time.perf_counter() - start
            calls["blocking"] += 1

    with tempfile.TemporaryDirectory(prefix="lit-bench-preemption-") as root:
        trainer = lit.Trainer(strategy="ddp", accelerator="cpu", devices=2, max_epochs=config["epochs"], logger=False,
                              enable_progress_bar=False, enable_model_summary=False, default_root_dir=root,
                              callbacks=[BlockingCheck()])
        trainer.fit(model, loader)
    if trainer.is_global_zero:
        with open(out, "w") as f:
            json.dump({"epoch_times": model.epoch_times, "steps_per_epoch": trainer.num_training_batches,
                       "timed": timed, "calls": calls}, f)


def raw_loop(net: Any, loader: Any, epochs: int, ddp: bool) -> list[float]:
    """The same training in plain PyTorch, optionally through ``DistributedDataParallel`` (world
    size 1, gloo): what torch's DDP costs by itself."""
    import torch
    import torch.distributed as dist
    from torch import nn

    if ddp:
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", "29517")
        dist.init_process_group("gloo", rank=0, world_size=1)
        net = nn.parallel.DistributedDataParallel(net)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        for x, y in loader:
            loss = nn.functional.cross_entropy(net(x), y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        times.append(time.perf_counter() - start)
    if ddp:
        dist.destroy_process_group()
    return times


def measure(*configs: dict[str, Any]) -> list[dict[str, Any]]:
    """Run ``worker`` for each config, all at the same time, in fresh processes (lit starts the
    second process of a ``devices=2`` config itself)."""
    with tempfile.TemporaryDirectory(prefix="lit-bench-ddp-") as folder:
        env = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_PORT", "NODE_RANK")}
        env["OMP_NUM_THREADS"] = "1"
        outs = [os.path.join(folder, f"result{i}.json") for i in range(len(configs))]
        procs = [subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", json.dumps(config), out], env=env, cwd=folder)
                 for config, out in zip(configs, outs)]
        for proc in procs:
            if proc.wait() != 0:
                raise SystemExit(f"a benchmark worker failed (exit code {proc.returncode})")
        results = []
        for out in outs:
            with open(out) as f:
                results.append(json.load(f))
        return results


def scaling(args: argparse.Namespace) -> None:
    base = {"samples": args.samples, "features": args.width, "width": args.width, "depth": args.depth, "batch": args.batch,
            "epochs": 2, "strategy": "auto", "devices": 1}
    ddp = {**base, "strategy": "ddp", "devices": 2}
    # What this machine allows two processes at once: each trains on half the data, nothing synced.
    half = {**base, "samples": args.samples // 2, "batch": args.batch // 2}
    if args.quick:  # all at once: a smoke test's figures are noise anyway
        one, two, *halves = measure(base, ddp, half, half)
    else:
        (one,), (two,), halves = measure(base), measure(ddp), measure(half, half)
    print(f"\n== scaling: MLP {args.depth}x{args.width}, {args.samples} samples, global batch {args.batch}, "
          "1 torch thread per process ==")
    print(f"{'processes':<28}{'epoch 1 s':>11}{'epoch 2 s':>11}{'steps':>7}")
    for name, result in (("1", one), ("2 (ddp)", two), *((f"2 independent halves, #{i}", r) for i, r in enumerate(halves, 1))):
        first, second = result["epoch_times"][:2]
        print(f"{name:<28}{first:>11.3f}{second:>11.3f}{int(result['steps_per_epoch']):>7}")
    bound = max(r["epoch_times"][1] for r in halves) / one["epoch_times"][1]
    print(f"machine bound (2 independent halves / 1 process): {bound:.3f}")
    ratio = two["epoch_times"][1] / one["epoch_times"][1]
    print(f"GOAL 2-process epoch time / 1-process: {ratio:.3f} <= {GOAL_SCALING:g} -> {'PASS' if ratio <= GOAL_SCALING else 'FAIL'}")


def steady(result: dict[str, Any]) -> float:
    """Seconds per step: the fastest epoch after the first (the first warms up)."""
    return min(result["epoch_times"][1:]) / result["steps_per_epoch"]


def step_cost(args: argparse.Namespace) -> None:
    base = {"samples": args.steps * 4, "features": 32, "width": 32, "depth": 1, "batch": 4, "epochs": 3, "devices": 1}
    names = ("raw", "raw ddp", "auto", "ddp")
    configs = [{**base, "strategy": name} for name in names] + [{**base, "strategy": name, "accumulate": 2} for name in ("auto", "ddp")]
    # One at a time, so the runs do not share the CPUs; --quick runs them together (its figures are noise anyway).
    results = measure(*configs) if args.quick else [measure(config)[0] for config in configs]
    per_step = {name: steady(result) * 1e6 for name, result in zip(names, results)}
    accumulated = {name: steady(result) * 1e6 for name, result in zip(("auto", "ddp"), results[len(names):])}
    print(f"\n== strategy cost per step: Linear 32-32-2, batch 4, {args.steps} steps an epoch, world size 1 (gloo) ==")
    print(f"{'loop':<42}{'µs/step':>9}")
    for name, label in (("raw", "plain PyTorch"), ("raw ddp", "plain PyTorch + DistributedDataParallel"),
                        ("auto", "lit, strategy='auto'"), ("ddp", "lit, strategy='ddp'")):
        print(f"{label:<42}{per_step[name]:>9.1f}")
    for name in ("auto", "ddp"):
        print(f"{'lit, strategy=' + repr(name) + ', accumulate 2':<42}{accumulated[name]:>9.1f}")
    torch_ddp = per_step["raw ddp"] - per_step["raw"]
    lit_ddp = per_step["ddp"] - per_step["auto"]
    print(f"DistributedDataParallel's own cost: {torch_ddp:+.1f} µs/step")
    print(f"strategy='ddp' cost in lit: {lit_ddp:+.1f} µs/step; beyond torch's own: {lit_ddp - torch_ddp:+.1f} µs/step")
    print(f"strategy='ddp' cost while accumulating (no_sync switch): {accumulated['ddp'] - accumulated['auto']:+.1f} µs/batch")


def preemption_cost(args: argparse.Namespace) -> None:
    config = {"samples": args.steps * 8, "features": 32, "width": 32, "depth": 1, "batch": 8, "epochs": 3, "devices": 2,
              "strategy": "ddp", "preemption": True}
    (result,) = measure(config)
    steps = result["calls"]["hook"]
    step_us = steady(result) * 1e6  # includes the blocking check's own time
    hook_us = result["timed"]["hook"] / steps * 1e6
    blocking_us = result["timed"]["blocking"] / result["calls"]["blocking"] * 1e6
    step_without = step_us - blocking_us  # the step as a user has it: the blocking check is the benchmark's
    print(f"\n== preemption check cost: 2 processes (gloo), Linear 32-32-2, batch 4 per process, "
          f"{int(result['steps_per_epoch'])} steps an epoch ==")
    print(f"{'':<52}{'µs/step':>9}{'% of a step':>13}")
    print(f"{'a training step (without the blocking check)':<52}{step_without:>9.1f}")
    print(f"{'the check before: blocking all-reduce every step':<52}{blocking_us:>9.1f}{100 * blocking_us / step_without:>12.2f}%")
    percent = 100 * hook_us / step_without
    print(f"{'the check now (lit-checkpoint Preemption hook)':<52}{hook_us:>9.1f}{percent:>12.2f}%")
    print(f"GOAL preemption check cost: {percent:.2f} % of a step <= {GOAL_PREEMPTION_PERCENT:g} % -> "
          f"{'PASS' if percent <= GOAL_PREEMPTION_PERCENT else 'FAIL'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=16384, help="training samples in the scaling runs (default 16384)")
    parser.add_argument("--batch", type=int, default=4096, help="global batch of the scaling runs (default 4096)")
    parser.add_argument("--width", type=int, default=512, help="MLP width in the scaling runs (default 512)")
    parser.add_argument("--depth", type=int, default=3, help="hidden layers in the scaling runs (default 3)")
    parser.add_argument("--steps", type=int, default=2000, help="steps an epoch in the per-step runs (default 2000)")
    parser.add_argument("--quick", action="store_true", help="smoke test: 1024 samples, batch 256, 100 steps")
    parser.add_argument("--worker", nargs=2, metavar=("CONFIG", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(json.loads(args.worker[0]), args.worker[1])
        return 0
    if args.quick:
        args.samples, args.batch, args.steps = 1024, 256, 100
    import torch

    print(f"lit ddp benchmark: python {platform.python_version()}, torch {torch.__version__}, {os.cpu_count()} CPUs, "
          f"{platform.machine()}")
    scaling(args)
    step_cost(args)
    preemption_cost(args)
    if args.quick:
        print("(--quick: a smoke test; the figures above are too noisy to judge the goal)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
