"""The callbacks on a real GPU (lit-cuda): skipped without one; ``tests/device_check.sh`` runs them."""

from __future__ import annotations

import csv

import pytest
import torch
from torch import nn

import lit_core as lit
from lit_callbacks import BasePredictionWriter, DeviceStatsMonitor, ModelSummary, OnExceptionCheckpoint, ThroughputMonitor

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


class Net(lit.LightningModule):
    def __init__(self, crash_at: int | None = None):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 64), nn.ReLU(), nn.Linear(64, 1))
        self.example_input_array = torch.zeros(5, 4)
        self.crash_at = crash_at

    def forward(self, x):
        return self.body(x)

    def training_step(self, batch, batch_idx):
        assert batch[0].is_cuda
        if self.crash_at is not None and self.global_step == self.crash_at:
            raise RuntimeError("crash")
        return nn.functional.mse_loss(self(batch[0]), batch[1])

    def predict_step(self, batch, batch_idx):
        return self(batch[0])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def loader(shuffle=False):
    g = torch.Generator().manual_seed(0)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(32, 4, generator=g), torch.randn(32, 1, generator=g)),
                                       batch_size=8, shuffle=shuffle, generator=g)


def cuda_trainer(tmp_path, **flags):
    return lit.Trainer(accelerator="cuda", devices=1, default_root_dir=tmp_path, max_epochs=1, enable_progress_bar=False,
                       enable_checkpointing=False, **flags)


def test_device_stats_and_throughput_on_gpu(tmp_path, capsys):
    callbacks = [DeviceStatsMonitor(), ThroughputMonitor(batch_size_fn=lambda b: b[0].size(0), window_size=2), ModelSummary(max_depth=2)]
    trainer = cuda_trainer(tmp_path, logger="csv", log_every_n_steps=1, callbacks=callbacks)
    trainer.fit(Net(), loader())
    trainer.logger.save()
    with open(f"{trainer.log_dir}/metrics.csv") as f:
        rows = list(csv.DictReader(f))
    allocated = [float(r["DeviceStatsMonitor.on_train_batch_end/memory_allocated"]) for r in rows
                 if r.get("DeviceStatsMonitor.on_train_batch_end/memory_allocated")]
    assert len(allocated) == 4 and all(v > 0 for v in allocated), "the GPU's memory, from lit-cuda"
    assert not any("cpu_percent" in k for k in rows[0]), "cpu_stats=None: no CPU figures on a GPU"
    rates = [float(r["train/device/samples_per_sec"]) for r in rows if r.get("train/device/samples_per_sec")]
    assert len(rates) == 3 and all(v > 0 for v in rates)
    out = capsys.readouterr().out
    assert "[5, 4]" in out and "body.2" in out, "the example input ran on the GPU model"


def test_prediction_writer_on_gpu(tmp_path):
    class Keep(BasePredictionWriter):
        def write_on_epoch_end(self, trainer, pl_module, predictions, batch_indices):
            self.predictions, self.indices = predictions, batch_indices

    writer = Keep("epoch")
    model = Net()
    cuda_trainer(tmp_path, logger=False, callbacks=[writer]).predict(model, loader(shuffle=True), return_predictions=False)
    order = [i for b in writer.indices[0] for i in b]
    assert sorted(order) == list(range(32))
    with torch.no_grad():
        expected = model(loader().dataset.tensors[0].cuda())[order]
    torch.testing.assert_close(torch.cat(writer.predictions), expected)


def test_on_exception_checkpoint_loads_on_cpu(tmp_path):
    cb = OnExceptionCheckpoint(tmp_path)
    with pytest.raises(RuntimeError, match="crash"):
        cuda_trainer(tmp_path, logger=False, callbacks=[cb]).fit(Net(crash_at=2), loader())
    state = torch.load(cb.ckpt_path, map_location="cpu", weights_only=False)
    assert state["global_step"] == 2 and state["state_dict"]["body.0.weight"].device.type == "cpu"
