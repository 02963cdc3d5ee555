"""A 1.x-era program (Lightning 1.5-1.9): Trainer.add_argparse_args / from_argparse_args,
``weights_summary`` and ``progress_bar_refresh_rate``, ``training_epoch_end(outputs)``.
It does not run on Lightning 2.x; lit runs it the way Lightning 1.9 did, with deprecation warnings."""
import json
import warnings
from argparse import ArgumentParser

import pytorch_lightning as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class LitModel(pl.LightningModule):
    def __init__(self, lr=0.1, **kwargs):
        super().__init__()
        self.save_hyperparameters()
        self.layer = nn.Linear(3, 1)
        self.epoch_end_sizes = []

    @staticmethod
    def add_model_specific_args(parent_parser):
        parser = parent_parser.add_argument_group("LitModel")
        parser.add_argument("--lr", type=float, default=0.1)
        return parent_parser

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.mse_loss(self.layer(x), y)
        return {"loss": loss}

    def training_epoch_end(self, outputs):
        self.epoch_end_sizes.append(len(outputs))
        self.log("epoch_loss", torch.stack([o["loss"] for o in outputs]).mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


if __name__ == "__main__":
    parser = ArgumentParser()
    parser = LitModel.add_model_specific_args(parser)
    parser = pl.Trainer.add_argparse_args(parser)
    args = parser.parse_args(["--max_epochs", "3", "--lr", "0.05", "--limit_train_batches", "4"])
    pl.seed_everything(0)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 3, generator=g)
    loader = DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer = pl.Trainer.from_argparse_args(args, weights_summary=None, progress_bar_refresh_rate=0,
                                                logger=False, checkpoint_callback=False)
        model = LitModel(**vars(args))
        trainer.fit(model, loader)
    print("RESULT " + json.dumps({
        "global_step": trainer.global_step,
        "max_epochs": trainer.max_epochs,
        "lr": model.hparams.lr,
        "epoch_end_sizes": model.epoch_end_sizes,
        "epoch_loss_logged": "epoch_loss" in trainer.callback_metrics,
        "deprecations": sum(1 for w in caught if issubclass(w.category, DeprecationWarning)) > 0,
    }))
