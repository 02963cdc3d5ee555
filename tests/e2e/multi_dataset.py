"""A user's multi-dataset training script, as Lightning users write it (imports ported with sed).

Two regression tasks share one network: the training batches of both come together as a dict
(``max_size_cycle``: the shorter dataset starts over), and each task has its own validation set,
logged per dataloader. Run it: ``python multi_dataset.py [output folder]``.
"""

from __future__ import annotations

import json
import sys
import tempfile

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset, random_split

import lit_core as pl
from lit_core.loggers import CSVLogger


def make_task(n: int, weight: float, seed: int) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=g)
    y = weight * x.sum(dim=1, keepdim=True) + 0.01 * torch.randn(n, 1, generator=g)
    return TensorDataset(x, y)


class TwoTaskData(pl.LightningDataModule):
    def __init__(self, batch_size: int = 8, n_small: int = 40, n_large: int = 100) -> None:
        super().__init__()
        self.save_hyperparameters()

    def setup(self, stage: str) -> None:
        g = torch.Generator().manual_seed(0)
        self.small_train, self.small_val = random_split(make_task(self.hparams.n_small, 1.0, 1), [0.8, 0.2], generator=g)
        self.large_train, self.large_val = random_split(make_task(self.hparams.n_large, -2.0, 2), [0.8, 0.2], generator=g)

    def train_dataloader(self):
        bs = self.hparams.batch_size
        return {"small": DataLoader(self.small_train, batch_size=bs, shuffle=True),
                "large": DataLoader(self.large_train, batch_size=bs, shuffle=True)}

    def val_dataloader(self):
        bs = self.hparams.batch_size
        return [DataLoader(self.small_val, batch_size=bs), DataLoader(self.large_val, batch_size=bs)]


class TwoHeads(pl.LightningModule):
    def __init__(self, hidden: int = 16, lr: float = 0.05) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.body = nn.Sequential(nn.Linear(3, hidden), nn.Tanh())
        self.heads = nn.ModuleList([nn.Linear(hidden, 1), nn.Linear(hidden, 1)])
        self.train_batches = 0
        self.val_batches = [0, 0]

    def forward(self, x, task: int):
        return self.heads[task](self.body(x))

    def training_step(self, batch, batch_idx):
        self.train_batches += 1
        losses = {name: F.mse_loss(self(x, task), y) for task, (name, (x, y)) in enumerate(batch.items())}
        for name, loss in losses.items():
            self.log(f"train_loss_{name}", loss)
        return sum(losses.values())

    def validation_step(self, batch, batch_idx, dataloader_idx=0):
        x, y = batch
        self.val_batches[dataloader_idx] += 1
        self.log("val_loss", F.mse_loss(self(x, dataloader_idx), y))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def pl_hparams(log_dir: str) -> dict:
    import yaml

    with open(f"{log_dir}/hparams.yaml") as f:
        return yaml.safe_load(f)


def main(root: str) -> dict:
    pl.seed_everything(7)
    data = TwoTaskData()
    model = TwoHeads()
    trainer = pl.Trainer(max_epochs=3, default_root_dir=root, accelerator="cpu", enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0, logger=CSVLogger(root))
    trainer.fit(model, datamodule=data)
    results = trainer.validate(model, datamodule=data, verbose=False)
    return {
        "train_batches": model.train_batches,
        "val_batches": model.val_batches,
        "num_training_batches": trainer.num_training_batches,
        "num_val_batches": list(trainer.num_val_batches),
        "global_step": trainer.global_step,
        "validate": results,
        "metrics": {k: float(v) for k, v in trainer.callback_metrics.items()},
        "metrics_csv": trainer.logger.experiment.metrics_file_path,
        "hparams": pl_hparams(trainer.logger.log_dir),
        "datamodule": str(data),
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()), indent=1))
