"""The tiny real models and Trainers the conformance suites train (CPU, a second or less each)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from .. import LightningModule, Trainer

FEATURES = 4


def loader(n: int = 8, batch_size: int = 2, seed: int = 0) -> DataLoader:
    """``n`` random ``(x, y)`` regression pairs in batches of ``batch_size``, the same for a given ``seed``."""
    g = torch.Generator().manual_seed(seed)
    return DataLoader(TensorDataset(torch.randn(n, FEATURES, generator=g), torch.randn(n, 1, generator=g)), batch_size=batch_size)


class TinyModel(LightningModule):
    """A linear regression trained with SGD that logs ``loss`` every step and keeps ``(global_step, loss)``
    (``losses``), the devices its batches were on (``devices``) and the dtypes of its parameters
    and of ``forward``'s output (``dtypes``).

    :param fail_with: raised by ``training_step`` at batch ``fail_at`` (a failed or interrupted run).
    :param hparams: saved with ``save_hyperparameters`` (they reach the loggers).
    """

    def __init__(self, fail_with: BaseException | None = None, fail_at: int = 2, **hparams: Any) -> None:
        super().__init__()
        self.save_hyperparameters(hparams)
        with torch.random.fork_rng(devices=[]):  # the same weights every time, the global RNG untouched
            torch.manual_seed(0)
            self.layer = nn.Linear(FEATURES, 1)
        self.fail_with, self.fail_at = fail_with, fail_at
        self.losses: list[tuple[int, float]] = []
        self.devices: set[torch.device] = set()  # where training_step saw its batches
        self.dtypes: set[tuple[torch.dtype, torch.dtype]] = set()  # (parameters, forward's output) in training_step

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        if self.fail_with is not None and batch_idx == self.fail_at:
            raise self.fail_with
        x, y = batch
        self.devices.add(x.device)
        out = self(x)
        self.dtypes.add((self.layer.weight.dtype, out.dtype))
        loss = F.mse_loss(out, y.to(out.dtype))
        self.losses.append((self.global_step, loss.item()))
        self.log("loss", loss)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def train_dataloader(self) -> DataLoader:
        return loader(seed=1)


def quiet_trainer(root: Path, **flags: Any) -> Trainer:
    """A one-epoch CPU Trainer under ``root`` with nothing the test did not ask for (no logger, bar, checkpoints, summary)."""
    defaults: dict[str, Any] = {
        "default_root_dir": root,
        "accelerator": "cpu",
        "max_epochs": 1,
        "logger": False,
        "enable_progress_bar": False,
        "enable_checkpointing": False,
        "enable_model_summary": False,
        "num_sanity_val_steps": 0,
    }
    return Trainer(**{**defaults, **flags})
