"""A classifier that logs torchmetrics objects, written the way Lightning's docs teach it.

``Accuracy`` and ``F1Score`` are updated in the steps and logged as objects (per step and per
epoch in training, per epoch in validation). The values are read back from the CSV logger's
``metrics.csv`` and checked against torchmetrics' functional API computed by hand.
"""

from __future__ import annotations

import csv

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

torchmetrics = pytest.importorskip("torchmetrics")
from torchmetrics.functional import accuracy, f1_score  # noqa: E402

import lit_core as pl  # noqa: E402
from lit_core.callbacks import EarlyStopping, LearningRateMonitor  # noqa: E402
from lit_core.loggers import CSVLogger  # noqa: E402

CLASSES = 4


class LitClassifier(pl.LightningModule):
    def __init__(self, hidden: int = 16, lr: float = 0.05) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model = nn.Sequential(nn.Linear(8, hidden), nn.ReLU(), nn.Linear(hidden, CLASSES))
        self.train_acc = torchmetrics.Accuracy(task="multiclass", num_classes=CLASSES)
        self.val_acc = torchmetrics.Accuracy(task="multiclass", num_classes=CLASSES)
        self.val_f1 = torchmetrics.F1Score(task="multiclass", num_classes=CLASSES, average="macro")
        #: (predictions, targets) of every training batch, as the step saw them.
        self.train_batches: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y)
        self.train_acc(logits, y)
        self.log("train_acc", self.train_acc, on_step=True, on_epoch=True)
        self.log("train_loss", loss)
        self.train_batches.append((logits.detach().argmax(-1), y))
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.val_acc.update(logits, y)
        self.val_f1.update(logits, y)
        self.log("val_loss", F.cross_entropy(logits, y), prog_bar=True)
        self.log_dict({"val_acc": self.val_acc, "val_f1": self.val_f1}, prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def loader(seed: int, n: int) -> DataLoader:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    y = (x[:, 0] > 0).long() + 2 * (x[:, 1] > 0).long()  # learnable classes
    return DataLoader(TensorDataset(x, y), batch_size=8)


def read_csv(path: str) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def column(rows: list[dict[str, str]], name: str) -> list[float]:
    return [float(row[name]) for row in rows if row.get(name)]


def test_torchmetrics_classifier_logs_what_torchmetrics_computes(tmp_path):
    torch.manual_seed(0)
    model = LitClassifier()
    logger = CSVLogger(save_dir=tmp_path)
    train, val = loader(0, 48), loader(1, 24)
    trainer = pl.Trainer(max_epochs=3, logger=logger, log_every_n_steps=1, accelerator="cpu", enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(model, train, val)
    rows = read_csv(logger.metrics_file_path)

    def train_acc(batches):
        preds = torch.cat([p for p, _ in batches])
        target = torch.cat([t for _, t in batches])
        return accuracy(preds, target, task="multiclass", num_classes=CLASSES).item()

    per_epoch = len(train)
    assert column(rows, "train_acc_step") == pytest.approx([train_acc([b]) for b in model.train_batches])
    assert column(rows, "train_acc_epoch") == pytest.approx(
        [train_acc(model.train_batches[e * per_epoch:(e + 1) * per_epoch]) for e in range(3)]
    )

    # The last validation ran with the final weights.
    x, y = val.dataset.tensors
    with torch.no_grad():
        logits = model(x)
    expected_acc = accuracy(logits, y, task="multiclass", num_classes=CLASSES).item()
    expected_f1 = f1_score(logits, y, task="multiclass", num_classes=CLASSES, average="macro").item()
    assert column(rows, "val_acc")[-1] == pytest.approx(expected_acc)
    assert column(rows, "val_f1")[-1] == pytest.approx(expected_f1)
    assert len(column(rows, "val_acc")) == 3, "one value per validation run (the sanity check is not logged)"
    assert trainer.progress_bar_metrics["val_f1"] == pytest.approx(expected_f1)
    assert expected_acc > 0.5, "the classifier learned something"


class ScheduledClassifier(LitClassifier):
    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
        return {"optimizer": optimizer, "lr_scheduler": torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)}


def test_early_stopping_on_a_metric_object_and_the_lr_monitor(tmp_path):
    """``EarlyStopping`` watches the torchmetrics accuracy logged as an object; ``LearningRateMonitor``
    writes the scheduled rate beside it. ``min_delta=0.5`` cannot be met after the first epoch, so
    with ``patience=2`` the run stops after epoch 2, as Lightning's would."""
    torch.manual_seed(0)
    model = ScheduledClassifier()
    logger = CSVLogger(save_dir=tmp_path)
    stop = EarlyStopping(monitor="val_acc", mode="max", patience=2, min_delta=0.5)
    trainer = pl.Trainer(max_epochs=10, logger=logger, log_every_n_steps=1, accelerator="cpu", enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
                         callbacks=[stop, LearningRateMonitor(logging_interval="epoch")])
    trainer.fit(model, loader(0, 48), loader(1, 24))
    assert trainer.early_stopping_callback is stop and stop.stopped_epoch == 2
    assert trainer.current_epoch == 3 and trainer.global_step == 3 * 6
    rows = read_csv(logger.metrics_file_path)
    assert column(rows, "lr-Adam") == pytest.approx([0.05, 0.025, 0.0125])
    assert len(column(rows, "val_acc")) == 3
    assert stop.best_score.item() == pytest.approx(column(rows, "val_acc")[0])
