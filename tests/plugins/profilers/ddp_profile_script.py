"""Two CPU processes (lit-ddp, gloo), each profiled: ``python ddp_profile_script.py OUT``.

Each rank writes its own report, ``OUT/fit-perf-<rank>.txt`` (Lightning's naming under DDP).
"""

from __future__ import annotations

import sys

import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

import lit_core as lit
from lit_profilers import SimpleProfiler

torch.set_num_threads(1)


class Model(lit.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.mse_loss(self.layer(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


if __name__ == "__main__":
    out = sys.argv[1]
    g = torch.Generator().manual_seed(0)
    data = DataLoader(TensorDataset(torch.randn(16, 4, generator=g), torch.randn(16, 1, generator=g)), batch_size=4)
    trainer = lit.Trainer(strategy="ddp", devices=2, accelerator="cpu", max_epochs=1, default_root_dir=out, logger=False,
                          enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                          profiler=SimpleProfiler(dirpath=out, filename="perf"))
    trainer.fit(Model(), data)
