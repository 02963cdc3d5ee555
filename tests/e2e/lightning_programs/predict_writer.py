"""Batch inference written to disk by a BasePredictionWriter subclass, the pattern of Lightning's
"predict at scale" docs: one file per batch and one for the whole epoch."""
import json
import os

import lightning.pytorch as L
import torch
from lightning.pytorch.callbacks import BasePredictionWriter
from torch.utils.data import DataLoader, TensorDataset


class CustomWriter(BasePredictionWriter):
    def __init__(self, output_dir, write_interval):
        super().__init__(write_interval)
        self.output_dir = output_dir

    def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx):
        torch.save(prediction, os.path.join(self.output_dir, f"batch_{dataloader_idx}_{batch_idx}.pt"))

    def write_on_epoch_end(self, trainer, pl_module, predictions, batch_indices):
        torch.save(predictions, os.path.join(self.output_dir, f"predictions_{trainer.global_rank}.pt"))
        torch.save(batch_indices, os.path.join(self.output_dir, f"batch_indices_{trainer.global_rank}.pt"))


class Scorer(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(3, 1)
        with torch.no_grad():
            self.layer.weight.fill_(0.5)
            self.layer.bias.fill_(-1.0)

    def predict_step(self, batch, batch_idx, dataloader_idx=0):
        (x,) = batch
        return torch.sigmoid(self.layer(x)).squeeze(1)


if __name__ == "__main__":
    os.makedirs("preds", exist_ok=True)
    x = torch.arange(30, dtype=torch.float32).view(10, 3) / 10
    loader = DataLoader(TensorDataset(x), batch_size=4)
    writer = CustomWriter("preds", write_interval="batch_and_epoch")
    trainer = L.Trainer(callbacks=[writer], logger=False, enable_progress_bar=False)
    returned = trainer.predict(Scorer(), dataloaders=loader, return_predictions=True)
    saved = torch.load(os.path.join("preds", "predictions_0.pt"))
    indices = torch.load(os.path.join("preds", "batch_indices_0.pt"))
    print("RESULT " + json.dumps({
        "files": sorted(os.listdir("preds")),
        "returned": [t.tolist() for t in returned],
        "saved_equal_returned": all(torch.equal(a, b) for a, b in zip(saved, returned)),
        "saved_type": type(saved).__name__,
        "batch_indices": indices,
        "training_mode_after": trainer.lightning_module.training,
    }))
