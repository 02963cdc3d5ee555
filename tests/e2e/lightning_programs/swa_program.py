"""Stochastic Weight Averaging from epoch 3 on: the averaged weights are put in the model at the
end of training and the BatchNorm statistics recomputed."""
import json

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import StochasticWeightAveraging
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class SWAModel(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(5, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 1))
        self.lrs = []

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.mse_loss(self.net(x), y)
        self.log("loss", loss)
        return loss

    def on_train_epoch_end(self):
        self.lrs.append(self.trainer.optimizers[0].param_groups[0]["lr"])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


if __name__ == "__main__":
    pl.seed_everything(99)
    g = torch.Generator().manual_seed(8)
    x = torch.randn(160, 5, generator=g)
    y = torch.sin(x[:, :1]) + x[:, 1:2]
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    swa = StochasticWeightAveraging(swa_lrs=0.02, swa_epoch_start=3, annealing_epochs=2)
    model = SWAModel()
    trainer = pl.Trainer(max_epochs=6, callbacks=[swa], logger=False, enable_checkpointing=False,
                         enable_progress_bar=False)
    trainer.fit(model, loader)
    model.eval()
    with torch.no_grad():
        final_mse = nn.functional.mse_loss(model.net(x), y).item()
    print("RESULT " + json.dumps({
        "global_step": trainer.global_step,
        "lrs_per_epoch": model.lrs,
        "bn_running_mean_sum": model.net[1].running_mean.sum().item(),
        "bn_batches_tracked": int(model.net[1].num_batches_tracked),
        "weight_sum": model.net[0].weight.sum().item(),
        "final_mse": final_mse,
    }))
