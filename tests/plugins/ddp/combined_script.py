"""Two processes (gloo) training on a dict of two loaders: ``python combined_script.py OUT``.

Each process writes ``OUT/rank<R>.json``: the sample indices of each loader it saw, per epoch.
"""

from __future__ import annotations

import json
import os
import sys

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

import lit_core as lit

torch.set_num_threads(1)


def indexed(n: int, seed: int) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    return TensorDataset(torch.arange(n), torch.randn(n, 4, generator=g), torch.randn(n, 1, generator=g))


class Model(lit.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.layer = nn.Linear(4, 1)
        self.seen: dict[str, list[list[int]]] = {"a": [[], []], "b": [[], []]}

    def training_step(self, batch, batch_idx):
        loss = 0.0
        for name, (index, x, y) in batch.items():
            self.seen[name][self.current_epoch] += index.tolist()
            loss = loss + F.mse_loss(self.layer(x), y)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


if __name__ == "__main__":
    out = sys.argv[1]
    lit.seed_everything(3)
    model = Model()
    trainer = lit.Trainer(strategy="ddp", devices=2, accelerator="cpu", max_epochs=2, logger=False,
                          enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                          default_root_dir=out)
    loaders = {"a": DataLoader(indexed(8, 1), batch_size=2, shuffle=True), "b": DataLoader(indexed(16, 2), batch_size=2, shuffle=True)}
    trainer.fit(model, train_dataloaders=loaders)
    with open(os.path.join(out, f"rank{trainer.global_rank}.json"), "w") as f:
        json.dump({"seen": model.seen, "batches": trainer.num_training_batches, "steps": trainer.global_step}, f)
