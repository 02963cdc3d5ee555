"""What saving a checkpoint costs: lit's save against a bare ``torch.save``, and async stalls.

Two measurements on a model of ``--mb`` megabytes (one square ``Linear``, SGD):

* **save time**: ``trainer.save_checkpoint(path)`` (build the checkpoint dict, write it to a
  temporary file, fsync, rename, fsync the folder) against ``torch.save`` of the very same dict
  to the same folder (read back from lit's file), and ``torch.save`` followed by ``fsync`` (what
  durability costs by itself). Interleaved rounds; medians and the median of per-round ratios.
  Goal: lit ≤ 1.1× the bare ``torch.save``; also judged against ``torch.save`` + ``fsync``, the
  same durability as lit's write.
* **load time**: what verifying a checkpoint on load costs (issue 14, case 9): lit's
  ``lit_core.checkpoint.load`` (verify, then ``torch.load(weights_only=True)``) against the bare
  ``torch.load(weights_only=True)`` of the same file, for a file lit wrote (each zip record's
  CRC32 and lit's checksum of the other bytes are checked) and for one ``torch.save`` wrote (as
  Lightning does: each record's CRC32), and the verification alone. Interleaved rounds, warm page
  cache; no goal, figures. (Writing lit's checksum reads back only the archive's headers: the
  save-time rows above include it.)
* **stall per save while training**: ``fit`` with a callback saving every ``--every`` steps, once
  with the default (synchronous) writer and once with ``AsyncCheckpointIO`` (background thread).
  The stall of a save is the time the training thread spends in ``save_checkpoint`` plus the
  time its next optimizer step waits for the background copy. Goal: async ≤ 5 ms per save.
  Steps without a save are timed too, to show whether the background writer slows them.

Run ``python benchmarks/checkpoint.py --help``; ``--quick`` is a smoke test (small model).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import tempfile
import time
from typing import Any

import torch
from torch import nn

import lit_core as lit
from lit_checkpoint import AsyncCheckpointIO

GOAL_SAVE_RATIO = 1.1
GOAL_ASYNC_STALL_MS = 5.0
BATCH = 16


class BigNet(lit.LightningModule):
    """One ``Linear(n, n)`` holding about ``mb`` megabytes of float32 parameters."""

    def __init__(self, mb: float) -> None:
        super().__init__()
        n = int(math.sqrt(mb * 2**20 / 4))
        self.layer = nn.Linear(n, n)
        self.register_buffer("seen", torch.zeros(n))  # a buffer, as batch-norm statistics would be

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        (x,) = batch
        self.seen += x.mean(0)
        return self.layer(x).pow(2).mean()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=1e-6)


class Batches:
    def __init__(self, n_features: int, steps: int) -> None:
        self.x = torch.randn(BATCH, n_features)
        self.steps = steps

    def __len__(self) -> int:
        return self.steps

    def __iter__(self):
        return ((self.x,) for _ in range(self.steps))


def quiet_trainer(root: str, **flags: Any) -> lit.Trainer:
    return lit.Trainer(default_root_dir=root, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                       enable_model_summary=False, num_sanity_val_steps=0, **flags)


def size_mb(path: str) -> float:
    return os.path.getsize(path) / 2**20


# ------------------------------------------------------------------------------------------
# Save time
# ------------------------------------------------------------------------------------------


def save_times(mb: float, rounds: int, root: str) -> None:
    model = BigNet(mb)
    trainer = quiet_trainer(root, max_steps=1)
    trainer.fit(model, Batches(model.layer.in_features, 1))
    lit_path, bare_path, synced_path = (os.path.join(root, name) for name in ("lit.ckpt", "bare.ckpt", "synced.ckpt"))
    trainer.save_checkpoint(lit_path)  # warm-up; also gives the exact state to save by hand
    state = torch.load(lit_path, weights_only=True)

    def bare() -> None:
        torch.save(state, bare_path)

    def synced() -> None:
        with open(synced_path, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())

    runs = {"lit save_checkpoint": lambda: trainer.save_checkpoint(lit_path), "torch.save": bare,
            "torch.save + fsync": synced}
    times: dict[str, list[float]] = {name: [] for name in runs}
    for r in range(rounds):
        names = list(runs)
        for name in names[r % 3:] + names[:r % 3]:
            start = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - start)
    print(f"\n== save time: {size_mb(lit_path):.1f} MB checkpoint, {rounds} interleaved rounds ==")
    print(f"{'writer':<22}{'median ms':>11}{'min ms':>9}{'max ms':>9}{'ratio to torch.save':>22}")
    for name, values in times.items():
        ratio = statistics.median(a / b for a, b in zip(values, times["torch.save"]))
        print(f"{name:<22}{statistics.median(values) * 1e3:>11.1f}{min(values) * 1e3:>9.1f}{max(values) * 1e3:>9.1f}"
              f"{ratio:>22.3f}")
    for reference in ("torch.save", "torch.save + fsync"):
        ratio = statistics.median(a / b for a, b in zip(times["lit save_checkpoint"], times[reference]))
        label = "bare torch.save" if reference == "torch.save" else "torch.save + fsync (the same durability)"
        print(f"GOAL lit save time / {label}: {ratio:.3f}x <= {GOAL_SAVE_RATIO:g}x -> "
              f"{'PASS' if ratio <= GOAL_SAVE_RATIO else 'FAIL'}")
    print("(lit fsyncs the file and its folder before and after the rename, so a machine crash cannot leave a torn "
          "checkpoint; on this disk the fsync alone costs the difference. AsyncCheckpointIO takes the whole write off "
          "the training thread: see below.)")


# ------------------------------------------------------------------------------------------
# Load time: what verification costs
# ------------------------------------------------------------------------------------------


def load_times(rounds: int, root: str) -> None:
    from lit_core.checkpoint import load
    from lit_core.checkpoint_files import verify_file

    lit_path, bare_path = os.path.join(root, "lit.ckpt"), os.path.join(root, "bare.ckpt")  # written by save_times
    runs = {
        "torch.load": lambda: torch.load(lit_path, weights_only=True),
        "lit load": lambda: load(lit_path),
        "verify alone": lambda: verify_file(lit_path),
        "torch.load, torch.save file": lambda: torch.load(bare_path, weights_only=True),
        "lit load, torch.save file": lambda: load(bare_path),
        "verify alone, torch.save file": lambda: verify_file(bare_path),
    }
    reference = {name: "torch.load, torch.save file" if "torch.save file" in name else "torch.load" for name in runs}
    times: dict[str, list[float]] = {name: [] for name in runs}
    for name in runs:  # warm the page cache and torch's first-call costs
        runs[name]()
    for r in range(rounds):
        names = list(runs)
        for name in names[r % len(names):] + names[:r % len(names)]:
            start = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - start)
    print(f"\n== load time: verification on load, {size_mb(lit_path):.1f} MB checkpoint, {rounds} interleaved rounds ==")
    print("(lit's file: each zip record's CRC32 and lit's checksum of the rest; torch.save's file, as Lightning "
          "writes it: each zip record's CRC32)")
    print(f"{'reader':<32}{'median ms':>11}{'min ms':>9}{'max ms':>9}{'ratio to torch.load':>22}")
    for name, values in times.items():
        ratio = statistics.median(a / b for a, b in zip(values, times[reference[name]]))
        print(f"{name:<32}{statistics.median(values) * 1e3:>11.1f}{min(values) * 1e3:>9.1f}{max(values) * 1e3:>9.1f}"
              f"{ratio:>22.3f}")
    extra = statistics.median(times["lit load"]) - statistics.median(times["torch.load"])
    print(f"verification cost, lit checkpoint: {extra * 1e3:+.1f} ms per load "
          f"({extra * 1e3 / size_mb(lit_path) * 100:+.1f} ms per 100 MB)")


# ------------------------------------------------------------------------------------------
# Stalls while training
# ------------------------------------------------------------------------------------------


class SaveEvery(lit.Callback):
    """Saves every ``every`` steps and times the training thread around each step and save."""

    def __init__(self, folder: str, every: int) -> None:
        self.folder, self.every = folder, every
        self.save_times: list[float] = []
        self.step_times: list[tuple[bool, float]] = []  # (a save happened just before, seconds)
        self._start = 0.0
        self._after_save = False

    def on_train_batch_start(self, trainer: lit.Trainer, pl_module: Any, batch: Any, batch_idx: int) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer: lit.Trainer, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.step_times.append((self._after_save, time.perf_counter() - self._start))
        self._after_save = False
        if trainer.global_step % self.every == 0:
            start = time.perf_counter()
            trainer.save_checkpoint(os.path.join(self.folder, f"step={trainer.global_step}.ckpt"))
            self.save_times.append(time.perf_counter() - start)
            self._after_save = True


def stalls(mb: float, steps: int, every: int, root: str) -> float:
    results = {}
    for name in ("synchronous", "AsyncCheckpointIO"):
        folder = tempfile.mkdtemp(prefix=f"{name}-", dir=root)
        model = BigNet(mb)
        saver = SaveEvery(folder, every)
        plugins = [AsyncCheckpointIO()] if name != "synchronous" else []
        trainer = quiet_trainer(folder, max_steps=steps, callbacks=[saver], plugins=plugins)
        trainer.fit(model, Batches(model.layer.in_features, steps))
        files = sorted(f for f in os.listdir(folder) if f.endswith(".ckpt"))
        for f in files:  # every checkpoint complete and loadable
            torch.load(os.path.join(folder, f), weights_only=True)
        if plugins:
            per_save = plugins[0].stalls
        else:
            per_save = saver.save_times
        plain = [t for after, t in saver.step_times[1:] if not after]
        following = [t for after, t in saver.step_times if after]
        results[name] = (per_save, plain, following, size_mb(os.path.join(folder, files[-1])), len(files))
    print(f"\n== stall per save while training: {steps} steps, a save every {every} ==")
    print(f"{'writer':<20}{'saves':>6}{'ckpt MB':>9}{'stall ms per save':>40}{'max ms':>9}{'step ms':>9}"
          f"{'step after save ms':>20}")
    for name, (per_save, plain, following, mb_written, count) in results.items():
        shown = " ".join(f"{s * 1e3:.1f}" for s in per_save[:8]) + (" ..." if len(per_save) > 8 else "")
        print(f"{name:<20}{count:>6}{mb_written:>9.1f}{shown:>40}{max(per_save) * 1e3:>9.1f}"
              f"{statistics.median(plain) * 1e3:>9.1f}{statistics.median(following) * 1e3 if following else float('nan'):>20.1f}")
    worst = max(results["AsyncCheckpointIO"][0])
    print(f"GOAL async save stall (max per save): {worst * 1e3:.2f} ms <= {GOAL_ASYNC_STALL_MS:g} ms -> "
          f"{'PASS' if worst * 1e3 <= GOAL_ASYNC_STALL_MS else 'FAIL'}")
    return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=100.0, help="model size in MB (default 100)")
    parser.add_argument("--rounds", type=int, default=7, help="save-time rounds (default 7)")
    parser.add_argument("--steps", type=int, default=13, help="training steps in the stall runs (default 13)")
    parser.add_argument("--every", type=int, default=3, help="save every N steps in the stall runs (default 3)")
    parser.add_argument("--dir", default=None, help="folder to write into (default: a temporary folder)")
    parser.add_argument("--quick", action="store_true", help="smoke test: a 4 MB model, 2 rounds, 7 steps")
    args = parser.parse_args(argv)
    if args.quick:
        args.mb, args.rounds, args.steps, args.every = 4.0, 2, 7, 2
    torch.set_num_threads(1)
    print(f"lit checkpoint benchmark: python {platform.python_version()}, torch {torch.__version__}, "
          f"lit_core {lit.__version__}, model {args.mb:g} MB")
    with tempfile.TemporaryDirectory(prefix="lit-ckpt-bench-", dir=args.dir) as root:
        print(f"writing into {root}")
        save_times(args.mb, args.rounds, root)
        load_times(args.rounds, root)
        stalls(args.mb, args.steps, args.every, root)
    if args.quick:
        print("(--quick: a smoke test; the figures above are too noisy to judge the goals)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
