"""Models and data the CLI tests name by class path (``lit_cli_models.Regressor``): importable, tiny."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lit_core as lit


class Regressor(lit.LightningModule):
    """A two-layer regression network.

    Args:
        features: input width.
        hidden: hidden width.
        lr: SGD's learning rate (its own configure_optimizers).
    """

    def __init__(self, features: int = 4, hidden: int = 8, lr: float = 0.1) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.predicted: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.mse_loss(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", nn.functional.mse_loss(self(batch[0]), batch[1]))

    def test_step(self, batch, batch_idx):
        self.log("test_loss", nn.functional.mse_loss(self(batch[0]), batch[1]))

    def predict_step(self, batch, batch_idx):
        out = self(batch[0])
        self.predicted.append(out)
        return out

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


class WideRegressor(Regressor):
    """A Regressor with a default hidden width of 32 (for subclass mode)."""

    def __init__(self, features: int = 4, hidden: int = 32, lr: float = 0.1, dropout: float = 0.0) -> None:
        super().__init__(features, hidden, lr)
        self.dropout = dropout


class RegressionData(lit.LightningDataModule):
    """Random regression data: ``n`` samples of ``features`` inputs.

    Args:
        features: input width.
        batch_size: samples per batch.
        n: samples.
    """

    def __init__(self, features: int = 4, batch_size: int = 4, n: int = 16) -> None:
        super().__init__()
        self.features = features
        generator = torch.Generator().manual_seed(0)
        self.dataset = TensorDataset(torch.randn(n, features, generator=generator), torch.randn(n, 1, generator=generator))
        self.batch_size = batch_size

    def train_dataloader(self):
        return DataLoader(self.dataset, batch_size=self.batch_size)

    def val_dataloader(self):
        return DataLoader(self.dataset, batch_size=self.batch_size)

    def test_dataloader(self):
        return DataLoader(self.dataset, batch_size=self.batch_size)

    def predict_dataloader(self):
        return DataLoader(self.dataset, batch_size=self.batch_size)
