"""A training script that checkpoints every step, for the kill / preemption tests (run as a process).

``python resumable.py ROOT [--resume] [--mb MB] [--epochs N] [--step-delay S]``

Trains a small network that draws from every random source (shuffled order, noisy samples,
dropout, Python's and numpy's generators), with Adam and a per-epoch StepLR, under
``lit-checkpoint``'s ``ModelCheckpoint(every_n_train_steps=1, save_last=True)`` in
``ROOT/checkpoints``. ``--resume`` passes ``ckpt_path="last"``. Prints ``step <global_step>`` after
every step (flushed), so a test can choose when to kill it, and writes the final parameters to
``ROOT/final.pt``. ``--mb`` adds a frozen buffer of that many megabytes, so that writes take long
enough for a kill to land inside one.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset

import lit_core as lit
from lit_checkpoint import ModelCheckpoint


class NoisyData(Dataset):
    def __init__(self) -> None:
        g = torch.Generator().manual_seed(11)
        self.x = torch.randn(40, 6, generator=g)
        self.y = torch.randn(40, 1, generator=g)

    def __len__(self) -> int:
        return 40

    def __getitem__(self, i: int):
        return self.x[i] + 0.01 * torch.randn(6), self.y[i]


class Net(lit.LightningModule):
    def __init__(self, mb: float = 0.0, step_delay: float = 0.0) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 1))
        self.register_buffer("ballast", torch.zeros(int(mb * 2**20 / 4)))

    def training_step(self, batch, batch_idx):
        x, y = batch
        scale = 1.0 + 0.01 * random.random() + 0.01 * float(np.random.rand())
        return F.mse_loss(self.net(x), y) * scale

    def on_train_batch_end(self, outputs, batch, batch_idx):
        print(f"step {self.trainer.global_step}", flush=True)
        time.sleep(self.hparams.step_delay)

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=0.01)
        return [optimizer], [torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)]

    def train_dataloader(self):
        return DataLoader(NoisyData(), batch_size=4, shuffle=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("root", type=Path)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--mb", type=float, default=0.0)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--step-delay", type=float, default=0.0)
    args = parser.parse_args()
    lit.seed_everything(7)
    model = Net(args.mb, args.step_delay)
    trainer = lit.Trainer(
        max_epochs=args.epochs, default_root_dir=args.root, logger=False, enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[ModelCheckpoint(dirpath=args.root / "checkpoints", every_n_train_steps=1, save_last=True)],
    )
    trainer.fit(model, ckpt_path="last" if args.resume else None)
    torch.save({k: v for k, v in model.state_dict().items() if k != "ballast"}, args.root / "final.pt")
    print(f"done {trainer.global_step}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
