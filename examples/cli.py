"""A command-line training script with ``LightningCLI``: every argument from the command line or YAML.

Needs lit-cli (``pip install lit-cli``). Run it from the repository root::

    python examples/cli.py fit --config examples/configs/cli.yaml
    python examples/cli.py fit --config examples/configs/cli.yaml --config examples/configs/cli_adam.yaml
    python examples/cli.py fit --config examples/configs/cli.yaml --model.hidden 64 --trainer.max_epochs 3
    python examples/cli.py fit --help                      # every flag, with its type and default
    python examples/cli.py fit --config examples/configs/cli.yaml --print_config   # the full config
    python examples/cli.py test --config examples/configs/cli.yaml --ckpt_path <a checkpoint>

The same config runs without this file being a script: ``lit fit --config examples/configs/cli.yaml``
with ``examples`` on ``PYTHONPATH`` (``model.class_path: cli.Classifier`` names this module).

The data are made up (points around ``classes`` centres), so the example runs anywhere in
seconds; the arguments of ``Classifier`` and ``ClusterData`` become ``--model.*`` and
``--data.*`` flags, their type hints the types the CLI checks.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset, random_split

import lit_core as lit
from lit_core.cli import LightningCLI


class Classifier(lit.LightningModule):
    """A multi-layer perceptron classifier.

    Args:
        features: input width.
        classes: number of classes.
        hidden: width of the hidden layer.
        lr: SGD's learning rate (``--optimizer`` replaces the optimizer altogether).
    """

    def __init__(self, features: int = 2, classes: int = 3, hidden: int = 32, lr: float = 0.1) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, classes))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def _step(self, batch: tuple[Tensor, Tensor], prefix: str) -> Tensor:
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y)
        self.log(f"{prefix}_loss", loss, prog_bar=prefix == "val")
        self.log(f"{prefix}_acc", (logits.argmax(-1) == y).float().mean())
        return loss

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> None:
        self._step(batch, "test")

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self(batch[0]).argmax(-1)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


class ClusterData(lit.LightningDataModule):
    """Points scattered around ``classes`` random centres, split 80/20 into train and validation.

    Args:
        features: dimensions of each point.
        classes: number of clusters (the labels).
        samples: points in all.
        batch_size: points per batch.
        seed: the generator's seed (the same data every run).
    """

    def __init__(self, features: int = 2, classes: int = 3, samples: int = 600, batch_size: int = 32, seed: int = 0) -> None:
        super().__init__()
        self.save_hyperparameters()

    def setup(self, stage: str) -> None:
        g = torch.Generator().manual_seed(self.hparams.seed)
        centres = torch.randn(self.hparams.classes, self.hparams.features, generator=g) * 3
        labels = torch.randint(self.hparams.classes, (self.hparams.samples,), generator=g)
        points = centres[labels] + torch.randn(self.hparams.samples, self.hparams.features, generator=g)
        n_val = self.hparams.samples // 5
        self.train_set, self.val_set = random_split(TensorDataset(points, labels), [self.hparams.samples - n_val, n_val],
                                                    generator=g)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=self.hparams.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=self.hparams.batch_size)

    test_dataloader = val_dataloader
    predict_dataloader = val_dataloader


class ClassifierCLI(LightningCLI):
    """The data's ``features`` and ``classes`` are the model's: linked, so they are set once (``--data.classes 4``)."""

    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments("data.features", "model.features")
        parser.link_arguments("data.classes", "model.classes")


def main(args: list[str] | None = None) -> ClassifierCLI:
    """Run the CLI on ``args`` (``sys.argv[1:]`` when ``None``); the CLI object, for tests."""
    return ClassifierCLI(Classifier, ClusterData, args=args)


if __name__ == "__main__":
    main()
