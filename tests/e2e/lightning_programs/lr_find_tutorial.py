"""The learning-rate finder tutorial: Tuner(trainer).lr_find on a model with ``self.lr``,
the suggestion applied, then a normal fit."""
import json

import pytorch_lightning as pl
import torch
from pytorch_lightning.tuner import Tuner
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class LitRegressor(pl.LightningModule):
    def __init__(self, lr=1e-6):
        super().__init__()
        self.lr = lr
        self.net = nn.Sequential(nn.Linear(6, 32), nn.Tanh(), nn.Linear(32, 1))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.mse_loss(self.net(x), y)
        self.log("loss", loss)
        return loss

    def train_dataloader(self):
        g = torch.Generator().manual_seed(9)
        x = torch.randn(640, 6, generator=g)
        y = (x @ torch.linspace(-1, 1, 6)).unsqueeze(1) + 0.1 * torch.randn(640, 1, generator=g)
        return DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


if __name__ == "__main__":
    pl.seed_everything(17)
    model = LitRegressor()
    trainer = pl.Trainer(max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    tuner = Tuner(trainer)
    lr_finder = tuner.lr_find(model, min_lr=1e-5, max_lr=1.0, num_training=30)
    suggestion = lr_finder.suggestion()
    weights_after_find = model.net[0].weight.detach().clone()
    step_after_find = trainer.global_step
    trainer.fit(model)
    print("RESULT " + json.dumps({
        "num_lrs": len(lr_finder.results["lr"]),
        "results_keys": sorted(lr_finder.results),
        "first_lr": lr_finder.results["lr"][0],
        "suggestion": suggestion,
        "model_lr": model.lr,
        "suggestion_applied": model.lr == suggestion,
        "global_step_after_find": step_after_find,
        "weights_restored_norm": weights_after_find.norm().item(),
        "global_step": trainer.global_step,
        "final_loss": trainer.callback_metrics["loss"].item(),
    }))
