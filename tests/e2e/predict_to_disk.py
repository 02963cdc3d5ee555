"""A user's train-then-infer script: fit a small classifier, then write its predictions to disk.

Shaped like Lightning's documented prediction-writer recipe; ported by changing the imports
only. Run: ``python predict_to_disk.py OUT_DIR``.
"""

from __future__ import annotations

import argparse
import os

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

import lit_core as L

# Lightning's places are lit_core.callbacks / lit_core.loggers once the namespaces are wired;
# until then the same classes come from their distributions.
from lit_core.callbacks import BasePredictionWriter, DeviceStatsMonitor, ModelSummary
from lit_core.loggers import CSVLogger


class Classifier(L.LightningModule):
    def __init__(self, hidden: int = 16, lr: float = 0.05):
        super().__init__()
        self.save_hyperparameters()
        self.backbone = nn.Sequential(nn.Linear(8, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, 3)
        self.example_input_array = torch.zeros(2, 8)

    def forward(self, x):
        return self.head(self.backbone(x))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train_loss", loss)
        return loss

    def predict_step(self, batch, batch_idx, dataloader_idx=0):
        x, _ = batch
        return self(x).softmax(dim=-1)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


class CustomWriter(BasePredictionWriter):
    def __init__(self, output_dir, write_interval):
        super().__init__(write_interval)
        self.output_dir = output_dir

    def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx):
        torch.save({"prediction": prediction, "batch_indices": batch_indices},
                   os.path.join(self.output_dir, f"batch_{dataloader_idx}_{batch_idx}.pt"))

    def write_on_epoch_end(self, trainer, pl_module, predictions, batch_indices):
        torch.save(predictions, os.path.join(self.output_dir, f"predictions_{trainer.global_rank}.pt"))
        torch.save(batch_indices, os.path.join(self.output_dir, f"batch_indices_{trainer.global_rank}.pt"))


def make_data(n: int, seed: int) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    return TensorDataset(x, (x[:, 0] > 0).long() + (x[:, 1] > 1).long())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)

    L.seed_everything(7)
    model = Classifier()
    trainer = L.Trainer(
        max_epochs=args.epochs,
        accelerator="cpu",
        default_root_dir=args.out_dir,
        logger=CSVLogger(save_dir=args.out_dir),
        log_every_n_steps=2,
        enable_progress_bar=False,
        enable_checkpointing=False,
        callbacks=[ModelSummary(max_depth=2), DeviceStatsMonitor()],
    )
    trainer.fit(model, DataLoader(make_data(64, seed=1), batch_size=16, shuffle=True))
    trainer.save_checkpoint(os.path.join(args.out_dir, "final.ckpt"))

    writer = CustomWriter(output_dir=os.path.join(args.out_dir, "predictions"), write_interval="batch_and_epoch")
    os.makedirs(writer.output_dir, exist_ok=True)
    inference = L.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, callbacks=[writer],
                          default_root_dir=args.out_dir)
    unlabeled = DataLoader(make_data(40, seed=2), batch_size=16, shuffle=True)
    inference.predict(model, unlabeled, return_predictions=False)


if __name__ == "__main__":
    main()
