"""Transfer learning with a pretrained backbone, written the way Lightning's fine-tuning tutorials are.

A small feature extractor is first "pretrained" on a related task (here: synthetic data, so the
program runs offline), saved, and loaded into a classifier whose backbone stays frozen for the
first epochs; ``BackboneFinetuning`` then unfreezes it with a low, growing learning rate.
``EarlyStopping`` watches the validation loss and ``LearningRateMonitor`` logs both learning rates.

Run it: ``python tests/e2e/finetune_backbone.py [--root DIR]``.
"""

from __future__ import annotations

import argparse
import os

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset, random_split

import lit_core as lit
from lit_core.callbacks import BackboneFinetuning, EarlyStopping, LearningRateMonitor

FEATURES, CLASSES = 16, 4


def make_blobs(n: int, seed: int) -> TensorDataset:
    """``n`` points around ``CLASSES`` centres (the same centres for every seed)."""
    centres = torch.randn(CLASSES, FEATURES, generator=torch.Generator().manual_seed(0)) * 2
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, CLASSES, (n,), generator=g)
    return TensorDataset(centres[labels] + torch.randn(n, FEATURES, generator=g), labels)


def feature_extractor() -> nn.Module:
    return nn.Sequential(nn.Linear(FEATURES, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU())


def pretrain(path: str) -> None:
    """Stand-in for downloading pretrained weights: a few epochs of plain PyTorch on other data."""
    backbone, head = feature_extractor(), nn.Linear(32, CLASSES)
    opt = torch.optim.SGD([*backbone.parameters(), *head.parameters()], lr=0.1, momentum=0.9)
    for x, y in DataLoader(make_blobs(512, seed=1), batch_size=64, shuffle=True):
        opt.zero_grad()
        F.cross_entropy(head(backbone(x)), y).backward()
        opt.step()
    torch.save(backbone.state_dict(), path)


class BlobsDataModule(lit.LightningDataModule):
    def __init__(self, batch_size: int = 32) -> None:
        super().__init__()
        self.batch_size = batch_size

    def setup(self, stage: str) -> None:
        self.train_set, self.val_set = random_split(make_blobs(384, seed=2), [256, 128],
                                                    generator=torch.Generator().manual_seed(3))

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=self.batch_size)


class TransferClassifier(lit.LightningModule):
    def __init__(self, backbone_weights: str, lr: float = 0.05) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.backbone = feature_extractor()
        self.backbone.load_state_dict(torch.load(backbone_weights, weights_only=True))
        self.classifier = nn.Linear(32, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.backbone(x))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("val_loss", F.cross_entropy(logits, y), prog_bar=True)
        self.log("val_acc", (logits.argmax(dim=1) == y).float().mean(), prog_bar=True)

    def configure_optimizers(self):
        # Only what trains now: BackboneFinetuning adds the backbone as a new param group later.
        optimizer = torch.optim.SGD(filter(lambda p: p.requires_grad, self.parameters()), lr=self.hparams.lr, momentum=0.9)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)
        return [optimizer], [scheduler]


def main(root: str) -> dict[str, float]:
    lit.seed_everything(7)
    weights = os.path.join(root, "pretrained_backbone.pt")
    pretrain(weights)
    model = TransferClassifier(weights)
    finetuning = BackboneFinetuning(unfreeze_backbone_at_epoch=2, lambda_func=lambda epoch: 1.5)
    early_stopping = EarlyStopping(monitor="val_loss", mode="min", patience=3)
    trainer = lit.Trainer(
        max_epochs=8,
        accelerator="cpu",
        default_root_dir=root,
        logger="csv",
        callbacks=[finetuning, early_stopping, LearningRateMonitor(logging_interval="epoch")],
        log_every_n_steps=4,
        enable_progress_bar=False,
        enable_checkpointing=False,
    )
    trainer.fit(model, datamodule=BlobsDataModule())
    metrics = {name: float(value) for name, value in trainer.callback_metrics.items()}
    print(f"epochs run: {trainer.current_epoch}, val_acc: {metrics['val_acc']:.3f}, "
          f"backbone lr: {finetuning.previous_backbone_lr}")
    print("FIT DONE")
    return metrics


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=".", help="where logs and the pretrained weights go")
    main(parser.parse_args().root)
