"""Issue 13's Lightning API on a real GPU: torchmetrics objects logged from CUDA, early stopping on
them, the lr monitor, ``Trainer.init_module()`` / ``configure_model`` placing weights on the device,
and a demo model. Skipped without CUDA; ``tests/device_check.sh`` runs them."""

from __future__ import annotations

import csv

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import lit_core as pl
from lit_core.callbacks import EarlyStopping, LearningRateMonitor
from lit_core.demos import BoringDataModule, BoringModel
from lit_core.loggers import CSVLogger

torchmetrics = pytest.importorskip("torchmetrics")
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


class Classifier(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))
        self.train_acc = torchmetrics.Accuracy(task="multiclass", num_classes=4)
        self.val_acc = torchmetrics.Accuracy(task="multiclass", num_classes=4)

    def training_step(self, batch):
        x, y = batch
        logits = self.net(x)
        self.train_acc(logits, y)
        self.log("train_acc", self.train_acc, on_step=True, on_epoch=True)
        return F.cross_entropy(logits, y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.val_acc.update(self.net(x), y)
        self.log("val_acc", self.val_acc)

    def configure_optimizers(self):
        opt = torch.optim.Adam(self.parameters(), lr=0.01)
        return [opt], [torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)]


def loader(seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 8, generator=g)
    y = (x[:, 0] > 0).long() + 2 * (x[:, 1] > 0).long()
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)


def test_metric_objects_early_stopping_and_lr_monitor_on_cuda(tmp_path):
    torch.manual_seed(0)
    model = Classifier()
    stop = EarlyStopping(monitor="val_acc", mode="max", patience=1, min_delta=0.9)
    trainer = pl.Trainer(accelerator="cuda", devices=1, max_epochs=5, logger=CSVLogger(tmp_path), log_every_n_steps=1,
                         callbacks=[stop, LearningRateMonitor()], enable_progress_bar=False, enable_checkpointing=False)
    trainer.fit(model, loader(0), loader(1))
    assert model.train_acc.device.type == "cuda"
    assert stop.stopped_epoch == 1 and trainer.current_epoch == 2
    with open(trainer.logger.metrics_file_path, newline="") as f:
        rows = list(csv.DictReader(f))
    lrs = [float(r["lr-Adam"]) for r in rows if r.get("lr-Adam")]
    assert lrs[0] == pytest.approx(0.01) and lrs[-1] == pytest.approx(0.005)
    val = [float(r["val_acc"]) for r in rows if r.get("val_acc")]
    assert len(val) == 2 and 0.0 <= val[-1] <= 1.0


def test_init_module_and_configure_model_place_weights_on_the_gpu(tmp_path):
    class Built(BoringModel):
        def configure_model(self):
            if not hasattr(self, "extra"):
                self.extra = nn.Linear(2, 2)

    trainer = pl.Trainer(accelerator="cuda", devices=1, max_steps=2, limit_val_batches=1, logger=False,
                         enable_progress_bar=False, enable_checkpointing=False, default_root_dir=tmp_path)
    with trainer.init_module():
        model = Built()
    assert model.layer.weight.is_cuda
    trainer.fit(model, datamodule=BoringDataModule())
    assert model.extra.weight.is_cuda and trainer.global_step == 2
