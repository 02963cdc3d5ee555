"""A Lightning 1.x-era training script, ported with the import changed only.

The shape of the 1.x documentation's examples: ``Trainer.add_argparse_args``, the model's own
``add_model_specific_args``, a data module's ``add_argparse_args``, ``Trainer.from_argparse_args``
with 1.x flags (``weights_summary``, ``progress_bar_refresh_rate``, ``checkpoint_callback``), and
a ``training_step`` returning the 0.x-era ``{'loss', 'log'}`` dict. Run it with ``--help`` to see
the options; tests/e2e/test_legacy_argparse.py runs it.
"""

from argparse import ArgumentParser

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset, random_split

import lit_core as pl
from lit_core import LightningDataModule, LightningModule, Trainer


class LitRegressor(LightningModule):
    def __init__(self, hidden_dim=16, learning_rate=1e-2):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(8, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, 1))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.mse_loss(self(x), y)
        return {"loss": loss, "log": {"train_loss": loss}, "progress_bar": {"loss": loss}}

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", F.mse_loss(self(x), y))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.learning_rate)

    @staticmethod
    def add_model_specific_args(parent_parser):
        parser = parent_parser.add_argument_group("LitRegressor")
        parser.add_argument("--hidden_dim", type=int, default=16)
        parser.add_argument("--learning_rate", type=float, default=1e-2)
        return parent_parser


class RandomDataModule(LightningDataModule):
    def __init__(self, batch_size: int = 8, num_samples: int = 96, num_workers: int = 0):
        super().__init__()
        self.batch_size, self.num_samples, self.num_workers = batch_size, num_samples, num_workers

    def setup(self, stage=None):
        x = torch.randn(self.num_samples, 8)
        y = x.sum(dim=1, keepdim=True)
        self.train_set, self.val_set = random_split(TensorDataset(x, y), [self.num_samples - 16, 16])

    def train_dataloader(self):
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True, num_workers=self.num_workers)

    def val_dataloader(self):
        return DataLoader(self.val_set, batch_size=self.batch_size, num_workers=self.num_workers)


def cli_main():
    pl.seed_everything(1234)
    parser = ArgumentParser()
    parser = Trainer.add_argparse_args(parser)
    parser = LitRegressor.add_model_specific_args(parser)
    parser = RandomDataModule.add_argparse_args(parser)
    args = parser.parse_args()

    dm = RandomDataModule.from_argparse_args(args)
    model = LitRegressor(args.hidden_dim, args.learning_rate)
    trainer = Trainer.from_argparse_args(args, weights_summary=None, progress_bar_refresh_rate=0, checkpoint_callback=False)
    trainer.fit(model, datamodule=dm)
    logged = sorted(trainer.logged_metrics)  # fit's: each stage starts with no logged metrics
    result = trainer.validate(model, datamodule=dm, verbose=False)
    print(f"RESULT epochs={trainer.current_epoch} steps={trainer.global_step} batch_size={dm.batch_size} "
          f"hidden={model.hparams.hidden_dim} logged={logged} val_loss={result[0]['val_loss']:.4f}")


if __name__ == "__main__":
    cli_main()
