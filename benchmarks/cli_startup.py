"""What ``python train.py fit --help`` costs with lit's ``LightningCLI``, against ``python -c "import torch"``.

``train.py`` is a realistic CLI script (a LightningModule and a LightningDataModule with typed,
documented ``__init__`` arguments, then ``LightningCLI(Model, DataModule)``), written to a
temporary folder. Fresh processes, interleaved run by run (``--runs`` of each, median wall time
of the whole process, interpreter start included):

* ``import torch``: ``python -c "import torch"``, the floor every torch program pays;
* ``lit``: ``python train.py fit --help`` with ``from lit_core.cli import LightningCLI``;
* ``lightning`` (with ``--lightning-python PATH``): the same script with ``lightning.pytorch``'s
  imports, run by that interpreter (its own venv with Lightning and ``jsonargparse[signatures]``),
  and that interpreter's ``import torch`` for its own difference.

The goal is judged on lit's difference: ``lit - import torch``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

#: Goal for ``train.py fit --help`` above ``import torch``, seconds.
GOAL_S = 0.5

SCRIPT = '''
"""Train a small regression network: python train.py fit --config config.yaml."""

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

{imports}


class Regressor(LightningModule):
    """A multi-layer perceptron for regression."""

    def __init__(self, features: int = 16, hidden: int = 64, layers: int = 2, dropout: float = 0.1,
                 lr: float = 1e-3, weight_decay: float = 0.0) -> None:
        """Build the network.

        Args:
            features: input width.
            hidden: width of the hidden layers.
            layers: number of hidden layers.
            dropout: dropout probability after each hidden layer.
            lr: Adam's learning rate.
            weight_decay: Adam's weight decay.
        """
        super().__init__()
        self.save_hyperparameters()
        widths = [features] + [hidden] * layers
        blocks = [m for a, b in zip(widths, widths[1:]) for m in (nn.Linear(a, b), nn.ReLU(), nn.Dropout(dropout))]
        self.net = nn.Sequential(*blocks, nn.Linear(widths[-1], 1))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)


class RegressionData(LightningDataModule):
    """Random regression data."""

    def __init__(self, features: int = 16, samples: int = 1024, batch_size: int = 32, num_workers: int = 0) -> None:
        """Make the data.

        Args:
            features: input width.
            samples: number of samples.
            batch_size: samples per batch.
            num_workers: dataloader worker processes.
        """
        super().__init__()
        self.features, self.samples, self.batch_size, self.num_workers = features, samples, batch_size, num_workers

    def setup(self, stage: str) -> None:
        self.data = TensorDataset(torch.randn(self.samples, self.features), torch.randn(self.samples, 1))

    def train_dataloader(self):
        return DataLoader(self.data, batch_size=self.batch_size, num_workers=self.num_workers)

    def val_dataloader(self):
        return DataLoader(self.data, batch_size=self.batch_size, num_workers=self.num_workers)


if __name__ == "__main__":
    LightningCLI(Regressor, RegressionData)
'''

IMPORTS = {
    "lit": "from lit_core import LightningDataModule, LightningModule\nfrom lit_core.cli import LightningCLI",
    "lightning": "from lightning.pytorch import LightningDataModule, LightningModule\n"
                 "from lightning.pytorch.cli import LightningCLI",
}


def wall(python: str, *args: str, cwd: Path) -> float:
    """Wall time of one fresh ``python *args`` process (seconds); fail loudly when it fails.

    Bytecode caching stays on, as for a user (the untimed first runs write the ``.pyc`` files).
    """
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPROFILEIMPORTTIME", "PYTHONDONTWRITEBYTECODE")}
    start = time.perf_counter()
    done = subprocess.run([python, *args], cwd=cwd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{python} {' '.join(args)} exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    if args[-1] == "--help" and "--trainer.max_epochs" not in done.stdout:
        raise SystemExit(f"{python} {' '.join(args)}: the help lists no --trainer.max_epochs:\n{done.stdout[:2000]}")
    return elapsed


def measure(kinds: dict[str, tuple[str, list[str]]], runs: int, folder: Path) -> dict[str, list[float]]:
    """``runs`` wall times of each kind, interleaved run by run, after one untimed run of each."""
    for python, args in kinds.values():
        wall(python, *args, cwd=folder)
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    for _ in range(runs):
        for kind, (python, args) in kinds.items():
            times[kind].append(wall(python, *args, cwd=folder))
    return times


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="fresh processes per kind (default 9)")
    parser.add_argument("--lightning-python", metavar="PATH",
                        help="an interpreter with lightning and jsonargparse[signatures]: measures Lightning's "
                             "LightningCLI on the same script, side by side")
    parser.add_argument("--quick", action="store_true", help="smoke test: 1 run per kind")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs = 1
    if args.runs < 1:
        parser.error("--runs must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lit-cli-startup-") as tmp:
        folder = Path(tmp)
        kinds: dict[str, tuple[str, list[str]]] = {"import torch": (sys.executable, ["-c", "import torch"])}
        for name in ("lit", "lightning") if args.lightning_python else ("lit",):
            (folder / f"train_{name}.py").write_text(textwrap.dedent(SCRIPT).format(imports=IMPORTS[name]))
        kinds["lit"] = (sys.executable, ["train_lit.py", "fit", "--help"])
        if args.lightning_python:
            kinds["import torch (lightning's python)"] = (args.lightning_python, ["-c", "import torch"])
            kinds["lightning"] = (args.lightning_python, ["train_lightning.py", "fit", "--help"])
        print(f"lit CLI start-up benchmark: `python train.py fit --help`; {sys.executable}; "
              f"{args.runs} fresh process(es) per kind, interleaved, median wall time")
        times = measure(kinds, args.runs, folder)
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    for kind, values in times.items():
        print(f"{kind:<36}median {medians[kind]:.3f} s  (min {min(values):.3f}, max {max(values):.3f})")
    lit_cost = medians["lit"] - medians["import torch"]
    print(f"{'lit above import torch':<36}{lit_cost:+.3f} s")
    if args.lightning_python:
        lightning_cost = medians["lightning"] - medians["import torch (lightning's python)"]
        print(f"{'lightning above import torch':<36}{lightning_cost:+.3f} s")
        print(f"{'lightning / lit (whole process)':<36}{medians['lightning'] / medians['lit']:.2f}x; "
              f"above import torch: {lightning_cost / lit_cost if lit_cost > 0 else float('inf'):.2f}x")
    verdict = "PASS" if lit_cost <= GOAL_S else "FAIL"
    print(f"\nGOAL lit fit --help above import torch: {lit_cost:.3f}s <= {GOAL_S:g}s -> {verdict}")
    if args.quick:
        print("(--quick: a smoke test; too few runs to judge the goal)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
