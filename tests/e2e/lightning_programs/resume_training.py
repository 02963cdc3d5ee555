"""Resume from a checkpoint: train two epochs, then a new Trainer continues to four with
``fit(ckpt_path=...)``; the resumed run must equal one uninterrupted four-epoch run."""
import json
import os

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class Net(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.mse_loss(self.layer(x), y)
        self.log("loss", loss)
        return loss

    def configure_optimizers(self):
        opt = torch.optim.Adam(self.parameters(), lr=0.05)
        return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.7)}


def loader():
    g = torch.Generator().manual_seed(4)
    x = torch.randn(64, 4, generator=g)
    return DataLoader(TensorDataset(x, x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])), batch_size=16)


def trainer(max_epochs, dirpath):
    return pl.Trainer(max_epochs=max_epochs, logger=False, enable_progress_bar=False,
                      callbacks=[ModelCheckpoint(dirpath=dirpath, save_last=True)])


if __name__ == "__main__":
    pl.seed_everything(5)
    model = Net()
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    first = trainer(2, "ckpts")
    first.fit(model, loader())
    ckpt = torch.load(os.path.join("ckpts", "last.ckpt"), weights_only=False)

    resumed_model = Net()
    second = trainer(4, "ckpts")
    second.fit(resumed_model, loader(), ckpt_path=os.path.join("ckpts", "last.ckpt"))

    straight_model = Net()
    straight_model.load_state_dict(initial)
    straight = trainer(4, "straight")
    straight.fit(straight_model, loader())
    print("RESULT " + json.dumps({
        "ckpt_epoch": ckpt["epoch"],
        "ckpt_global_step": ckpt["global_step"],
        "ckpt_keys": sorted(k for k in ckpt if k != "pytorch-lightning_version"),
        "resumed_global_step": second.global_step,
        "resumed_current_epoch": second.current_epoch,
        "resumed_lr": second.optimizers[0].param_groups[0]["lr"],
        "resumed_equals_straight": all(torch.allclose(a, b) for a, b in
                                       zip(resumed_model.parameters(), straight_model.parameters())),
        "files": sorted(os.listdir("ckpts")),
        "final_loss": second.callback_metrics["loss"].item(),
    }))
