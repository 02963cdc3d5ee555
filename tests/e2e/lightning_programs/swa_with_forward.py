"""Stochastic Weight Averaging on a model with ``forward``, configured by fraction
(``swa_epoch_start=0.5``) with cosine annealing: the averaged weights and their recomputed
BatchNorm statistics at the end of training."""
import json

import lightning.pytorch as L
import torch
from lightning.pytorch.callbacks import StochasticWeightAveraging
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Regressor(L.LightningModule):
    def __init__(self, lr=0.05):
        super().__init__()
        self.save_hyperparameters()
        self.body = nn.Sequential(nn.Linear(3, 12), nn.BatchNorm1d(12), nn.Tanh(), nn.Linear(12, 1))
        self.epoch_lrs = []

    def forward(self, x):
        return self.body(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.smooth_l1_loss(self(x), y)
        self.log("train_loss", loss, on_epoch=True)
        return loss

    def on_train_epoch_start(self):
        self.epoch_lrs.append(self.trainer.optimizers[0].param_groups[0]["lr"])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=0.9)


if __name__ == "__main__":
    L.seed_everything(12)
    g = torch.Generator().manual_seed(21)
    x = torch.randn(128, 3, generator=g)
    y = x[:, :1] * x[:, 1:2] + 0.5 * x[:, 2:]
    model = Regressor()
    swa = StochasticWeightAveraging(swa_lrs=0.01, swa_epoch_start=0.5, annealing_epochs=2, annealing_strategy="cos")
    trainer = L.Trainer(max_epochs=6, callbacks=[swa], logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True))
    model.eval()
    with torch.no_grad():
        mse = nn.functional.mse_loss(model(x), y).item()
    print("RESULT " + json.dumps({
        "global_step": trainer.global_step,
        "current_epoch": trainer.current_epoch,
        "epoch_lrs": model.epoch_lrs,
        "n_averaged": int(swa.n_averaged),
        "bn_running_mean_sum": model.body[1].running_mean.sum().item(),
        "bn_running_var_sum": model.body[1].running_var.sum().item(),
        "weight_sum": model.body[0].weight.sum().item(),
        "mse": mse,
    }))
