"""A Lightning tutorial's learning-rate finder program, ported by the import sed, tunes then trains.

The program is written for Lightning (``lightning.pytorch``); the test ports it with issue 13's
``sed`` expressions and runs it: ``Tuner(trainer).lr_find`` on a datamodule, the suggestion put
into ``hparams``, then ``trainer.fit`` and ``trainer.validate``.
"""

from __future__ import annotations

import re
import runpy
from pathlib import Path
from typing import Any

PROGRAM = '''
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset, random_split

import lightning.pytorch as pl
from lightning.pytorch.tuner import Tuner


class LitClassifier(pl.LightningModule):
    def __init__(self, learning_rate=1e-5, hidden=32):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(8, hidden), nn.ReLU(), nn.Linear(hidden, 3))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("val_loss", F.cross_entropy(logits, y), prog_bar=True)
        self.log("val_acc", (logits.argmax(dim=1) == y).float().mean(), prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.learning_rate)


class BlobsDataModule(pl.LightningDataModule):
    def __init__(self, batch_size=32):
        super().__init__()
        self.batch_size = batch_size

    def setup(self, stage=None):
        g = torch.Generator().manual_seed(0)
        centers = torch.randn(3, 8, generator=g) * 2
        y = torch.randint(0, 3, (600,), generator=g)
        x = centers[y] + torch.randn(600, 8, generator=g)
        self.train_set, self.val_set = random_split(TensorDataset(x, y), [500, 100], generator=g)

    def train_dataloader(self):
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self):
        return DataLoader(self.val_set, batch_size=self.batch_size)


def main():
    pl.seed_everything(42)
    dm = BlobsDataModule()
    model = LitClassifier()
    trainer = pl.Trainer(max_epochs=3, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)

    tuner = Tuner(trainer)
    lr_finder = tuner.lr_find(model, datamodule=dm, num_training=40)
    new_lr = lr_finder.suggestion()
    print(f"Suggested learning rate: {new_lr:.2e}")
    model.hparams.learning_rate = new_lr

    trainer.fit(model, datamodule=dm)
    metrics = trainer.validate(model, datamodule=dm, verbose=False)
    return trainer, lr_finder, metrics[0]
'''


def port(source: str) -> str:
    """Issue 13's sed: ``s/pytorch_lightning/lit_core/g; s/lightning\\.pytorch/lit_core/g``."""
    return re.sub(r"lightning\.pytorch", "lit_core", source.replace("pytorch_lightning", "lit_core"))


def test_tutorial_lr_find_then_train(tmp_root: Path) -> None:
    path = tmp_root / "lr_find_tutorial.py"
    path.write_text(port(PROGRAM))
    trainer, lr_finder, metrics = runpy.run_path(str(path))["main"]()
    lrs: list[Any] = lr_finder.results["lr"]
    assert len(lrs) == len(lr_finder.results["loss"]) == 40
    suggestion = lr_finder.suggestion()
    assert 1e-8 <= suggestion <= 1.0
    # lr_find(update_attr=True) had already set it, as in Lightning; the program set it again.
    assert trainer.lightning_module.hparams.learning_rate == suggestion
    # The tuning steps were undone: the fit ran its own 3 epochs of 16 batches from step 0.
    assert trainer.global_step == 3 * 16 and trainer.current_epoch == 3
    assert metrics["val_acc"] > 0.9
