"""Host-device synchronisations per CUDA training step: lit's default Trainer, and Lightning's.

A default Trainer (its default logger and checkpoint callback, the tqdm bar redrawn every 10
batches; ``log_every_n_steps`` 10) trains a small classifier for 60 batches on the GPU. A callback turns on
``torch.cuda.set_sync_debug_mode("warn")`` from each batch's start to its end, so torch warns at
every synchronising call, and counts the warnings per batch. Batches are grouped into logging
steps (every 10th), the epoch's last, and the others ("quiet" steps: no value has to be read, so
no sync is needed). Goal (issue 18): lit makes 0 syncs in quiet steps. Lightning 2.6 is measured
with the same code in an interpreter where it is installed (``--lightning-python``), printed side
by side. Needs a CUDA GPU (without one it says so and exits 0). ``tests/device_check.sh`` has
the pass/fail test (``tests/plugins/cuda/test_cuda_no_host_sync.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import warnings
from typing import Any

LOG_EVERY = 10
BATCHES = 60


def worker(framework: str, out: str) -> None:
    """Train with ``framework`` (``lit`` or ``lightning``); write each batch's sync count to ``out``."""
    import torch
    from torch import nn
    from torch.nn import functional as F
    from torch.utils.data import DataLoader, TensorDataset

    if framework == "lit":
        import lit_core as pl
    else:
        import lightning.pytorch as pl

    class Classifier(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 2))

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            x, y = batch
            loss = F.cross_entropy(self.net(x), y)
            self.log("train_loss", loss, prog_bar=True)
            return loss

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.1)

    class Counter(pl.Callback):
        def __init__(self) -> None:
            self.counts: list[int] = []

        def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
            self._catch = warnings.catch_warnings(record=True)
            self._records = self._catch.__enter__()
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")

        def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
            torch.cuda.set_sync_debug_mode("default")
            self._catch.__exit__(None, None, None)
            self.counts.append(sum("synchroniz" in str(w.message) for w in self._records))

    g = torch.Generator().manual_seed(0)
    x = torch.randn(BATCHES * 8, 16, generator=g)
    loader = DataLoader(TensorDataset(x, (x.sum(dim=1) > 0).long()), batch_size=8, pin_memory=True)
    counter = Counter()
    with tempfile.TemporaryDirectory(prefix="lit-bench-syncs-") as root:
        # Both bars redraw with the logging (every LOG_EVERY batches), so quiet steps have nothing to show.
        bar = pl.callbacks.TQDMProgressBar(refresh_rate=LOG_EVERY)
        trainer = pl.Trainer(accelerator="cuda", devices=1, max_epochs=1, log_every_n_steps=LOG_EVERY, callbacks=[counter, bar],
                             default_root_dir=root, enable_model_summary=False, num_sanity_val_steps=0)
        trainer.fit(Classifier(), loader)
    with open(out, "w") as f:
        json.dump(counter.counts, f)


def summarise(counts: list[int]) -> dict[str, float]:
    groups: dict[str, list[int]] = {"quiet": [], "logging": [], "last": []}
    for idx, count in enumerate(counts):
        kind = "last" if idx == len(counts) - 1 else "logging" if (idx + 1) % LOG_EVERY == 0 else "quiet"
        groups[kind].append(count)
    return {kind: sum(values) / len(values) for kind, values in groups.items() if values}


def run(python: str, framework: str) -> dict[str, float] | str:
    with tempfile.TemporaryDirectory(prefix="lit-bench-syncs-") as folder:
        out = os.path.join(folder, "counts.json")
        done = subprocess.run([python, os.path.abspath(__file__), "--worker", framework, out], capture_output=True, text=True,
                              timeout=600, cwd=folder)
        if done.returncode != 0:
            return f"failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}"
        with open(out) as f:
            return summarise(json.load(f))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lightning-python", help="an interpreter whose environment has lightning (compared when given)")
    parser.add_argument("--worker", nargs=2, metavar=("FRAMEWORK", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(*args.worker)
        return 0
    import torch

    if not torch.cuda.is_available():
        print("host_syncs: needs a CUDA GPU; none here (torch", torch.__version__ + "): nothing measured")
        return 0
    rows = [("lit", run(sys.executable, "lit"))]
    if args.lightning_python:
        rows.append(("Lightning", run(args.lightning_python, "lightning")))
    print(f"== host syncs per training step, {BATCHES} batches, log_every_n_steps={LOG_EVERY}, {torch.cuda.get_device_name()} ==")
    print(f"{'':<12}{'quiet steps':>14}{'logging steps':>16}{'last step':>12}")
    for name, figures in rows:
        if isinstance(figures, str):
            print(f"{name:<12}{figures}")
        else:
            print(f"{name:<12}{figures.get('quiet', 0):>14.2f}{figures.get('logging', 0):>16.2f}{figures.get('last', 0):>12.2f}")
    lit = rows[0][1]
    if not isinstance(lit, str):
        quiet = lit.get("quiet", 0)
        print(f"GOAL lit syncs per quiet step: {quiet:.2f} <= 0 -> {'PASS' if quiet <= 0 else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
