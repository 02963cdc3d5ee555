"""Several datasets at once: a CombinedLoader of two training sources ("max_size_cycle"), two
validation dataloaders told apart by ``dataloader_idx``."""
import json

import torch
from lightning.pytorch import LightningModule, Trainer, seed_everything
from lightning.pytorch.utilities import CombinedLoader
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def regression_set(n, shift, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g) + shift
    return TensorDataset(x, x.sum(1, keepdim=True))


class MultiSourceModel(LightningModule):
    def __init__(self):
        super().__init__()
        self.net = nn.Linear(4, 1)
        self.train_batches = {"clean": 0, "shifted": 0}
        self.val_batches = [0, 0]

    def training_step(self, batch, batch_idx):
        loss = 0
        for name, (x, y) in batch.items():
            self.train_batches[name] += 1
            loss = loss + nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx, dataloader_idx=0):
        x, y = batch
        self.val_batches[dataloader_idx] += 1
        self.log("val_loss", nn.functional.mse_loss(self.net(x), y))

    def train_dataloader(self):
        loaders = {
            "clean": DataLoader(regression_set(96, 0.0, 1), batch_size=16),
            "shifted": DataLoader(regression_set(48, 2.0, 2), batch_size=16),
        }
        return CombinedLoader(loaders, mode="max_size_cycle")

    def val_dataloader(self):
        return [DataLoader(regression_set(32, 0.0, 3), batch_size=16),
                DataLoader(regression_set(48, 2.0, 4), batch_size=16)]

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


if __name__ == "__main__":
    seed_everything(3)
    model = MultiSourceModel()
    trainer = Trainer(max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      num_sanity_val_steps=0)
    trainer.fit(model)
    combined = CombinedLoader({"a": range(5), "b": range(3)}, mode="min_size")
    iter(combined)
    print("RESULT " + json.dumps({
        "global_step": trainer.global_step,
        "num_training_batches": trainer.num_training_batches,
        "num_val_batches": list(trainer.num_val_batches),
        "train_batches": model.train_batches,
        "val_batches": model.val_batches,
        "callback_metrics": sorted(trainer.callback_metrics),
        "val_loss_0": trainer.callback_metrics["val_loss/dataloader_idx_0"].item(),
        "val_loss_1": trainer.callback_metrics["val_loss/dataloader_idx_1"].item(),
        "min_size_len": len(combined),
        "min_size_batches": [list(b) for b, _, _ in combined],
    }))
