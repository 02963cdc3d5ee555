"""Two CPU processes (lit-ddp, gloo) with EarlyStopping, LearningRateMonitor and Timer.

Usage: ``python ddp_callbacks_script.py OUT``. Rank 1's ``score`` stops improving at epoch 2 while
rank 0's keeps improving (logged without ``sync_dist``), so only rank 1 decides to stop: every
rank must stop at that epoch. Each rank writes ``OUT/rank<R>.json``.
"""

from __future__ import annotations

import json
import os
import sys

import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

import lit_core as lit
from lit_callbacks import EarlyStopping, LearningRateMonitor, Timer

torch.set_num_threads(1)
SCORES = {0: [5.0, 4.0, 3.0, 2.0, 1.0, 0.5, 0.2, 0.1], 1: [5.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0]}


class Model(lit.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.mse_loss(self.layer(x), y)

    def validation_step(self, batch, batch_idx):
        self.log("score", torch.tensor(SCORES[self.global_rank][self.current_epoch]))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def loader(seed: int) -> DataLoader:
    g = torch.Generator().manual_seed(seed)
    return DataLoader(TensorDataset(torch.randn(16, 4, generator=g), torch.randn(16, 1, generator=g)), batch_size=4)


if __name__ == "__main__":
    out = sys.argv[1]
    early_stopping, monitor, timer = EarlyStopping(monitor="score", patience=1), LearningRateMonitor(), Timer("00:01:00:00")
    trainer = lit.Trainer(strategy="ddp", devices=2, accelerator="cpu", max_epochs=8, default_root_dir=out,
                          logger="csv", log_every_n_steps=1, enable_progress_bar=False, enable_checkpointing=False,
                          enable_model_summary=False, callbacks=[early_stopping, monitor, timer])
    trainer.fit(Model(), loader(1), loader(2))
    with open(os.path.join(out, f"rank{trainer.global_rank}.json"), "w") as f:
        json.dump({"current_epoch": trainer.current_epoch, "stopped_epoch": early_stopping.stopped_epoch,
                   "wait_count": early_stopping.wait_count, "lrs": monitor.lrs, "should_stop": trainer.should_stop}, f)
