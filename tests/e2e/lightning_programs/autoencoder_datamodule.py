"""An autoencoder with its own LightningDataModule (prepare_data/setup with random_split),
``save_hyperparameters`` on both, and a reload through ``load_from_checkpoint``."""
import json
import os

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset, random_split


class SyntheticDataModule(pl.LightningDataModule):
    def __init__(self, data_dir: str = "./data", batch_size: int = 32, num_samples: int = 400):
        super().__init__()
        self.save_hyperparameters()

    def prepare_data(self):
        os.makedirs(self.hparams.data_dir, exist_ok=True)
        path = os.path.join(self.hparams.data_dir, "points.pt")
        if not os.path.exists(path):
            g = torch.Generator().manual_seed(11)
            latent = torch.randn(self.hparams.num_samples, 3, generator=g)
            mixing = torch.randn(3, 20, generator=g)
            torch.save(latent @ mixing + 0.05 * torch.randn(self.hparams.num_samples, 20, generator=g), path)

    def setup(self, stage: str):
        data = torch.load(os.path.join(self.hparams.data_dir, "points.pt"))
        full = TensorDataset(data)
        if stage == "fit":
            self.train_set, self.val_set = random_split(full, [320, 80], generator=torch.Generator().manual_seed(42))
        if stage == "test":
            self.test_set = TensorDataset(data[:80])

    def train_dataloader(self):
        return DataLoader(self.train_set, batch_size=self.hparams.batch_size, shuffle=True)

    def val_dataloader(self):
        return DataLoader(self.val_set, batch_size=self.hparams.batch_size)

    def test_dataloader(self):
        return DataLoader(self.test_set, batch_size=self.hparams.batch_size)


class LitAutoEncoder(pl.LightningModule):
    def __init__(self, input_dim: int = 20, code_dim: int = 3, lr: float = 1e-2):
        super().__init__()
        self.save_hyperparameters()
        self.encoder = nn.Sequential(nn.Linear(input_dim, 16), nn.ReLU(), nn.Linear(16, code_dim))
        self.decoder = nn.Sequential(nn.Linear(code_dim, 16), nn.ReLU(), nn.Linear(16, input_dim))

    def forward(self, x):
        return self.encoder(x)

    def _loss(self, batch):
        (x,) = batch
        return nn.functional.mse_loss(self.decoder(self.encoder(x)), x)

    def training_step(self, batch, batch_idx):
        loss = self._loss(batch)
        self.log("train_loss", loss, on_step=True, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", self._loss(batch))

    def test_step(self, batch, batch_idx):
        self.log("test_loss", self._loss(batch))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


if __name__ == "__main__":
    pl.seed_everything(0, workers=True)
    dm = SyntheticDataModule(batch_size=40)
    model = LitAutoEncoder(code_dim=3, lr=5e-3)
    trainer = pl.Trainer(max_epochs=4, deterministic=True, logger=False, enable_progress_bar=False,
                         default_root_dir=os.getcwd())
    trainer.fit(model, datamodule=dm)
    fit_metrics = {k: v.item() for k, v in trainer.callback_metrics.items()}
    ckpt = trainer.checkpoint_callback.best_model_path
    reloaded = LitAutoEncoder.load_from_checkpoint(ckpt)
    test = trainer.test(reloaded, datamodule=dm)
    sample = torch.ones(1, 20)
    print("RESULT " + json.dumps({
        "global_step": trainer.global_step,
        "checkpoint": os.path.relpath(ckpt, os.getcwd()),
        "reloaded_hparams": dict(reloaded.hparams),
        "datamodule_hparams": dict(dm.hparams),
        "fit_metric_keys": sorted(fit_metrics),
        "train_loss_epoch": fit_metrics["train_loss_epoch"],
        "val_loss": fit_metrics["val_loss"],
        "test_loss": test[0]["test_loss"],
        "same_weights": torch.allclose(model(sample), reloaded(sample)),
        "train_size": len(dm.train_set),
        "val_size": len(dm.val_set),
    }))
