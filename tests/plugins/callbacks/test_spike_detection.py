"""SpikeDetection: a real loss spike stops training and records the batches to skip."""

from __future__ import annotations

import json

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from lit_callbacks import SpikeDetection, TrainingSpikeException


def spiking_loader(spike_at: int, n_batches: int = 8, scale: float = 100.0):
    """Targets near zero, except batch ``spike_at``, whose targets are huge: its loss jumps."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n_batches * 2, 4, generator=g)
    y = torch.zeros(n_batches * 2, 1)
    y[spike_at * 2: spike_at * 2 + 2] = scale
    return DataLoader(TensorDataset(x, y), batch_size=2)


def test_spike_raises_and_writes_skip_file(make_trainer, boring_model, tmp_path):
    detector = SpikeDetection(window=3, warmup=2)
    trainer = make_trainer(callbacks=[detector], max_epochs=1)
    with pytest.raises(TrainingSpikeException, match="Training spike detected in batch 5"):
        trainer.fit(boring_model(), spiking_loader(spike_at=5))
    with open(tmp_path / "skip_batches.json") as f:
        assert json.load(f) == [4, 5], "the spiking batch and the one before, under default_root_dir"
    assert detector.bad_batches == [4, 5]


def test_no_spike_within_tolerance_or_warmup(make_trainer, boring_model, tmp_path):
    make_trainer(callbacks=[SpikeDetection(window=3, warmup=2, atol=1e6)]).fit(boring_model(), spiking_loader(spike_at=5))
    make_trainer(callbacks=[SpikeDetection(window=3, warmup=6)]).fit(boring_model(), spiking_loader(spike_at=5))
    make_trainer(callbacks=[SpikeDetection(mode="max", window=3, warmup=2)]).fit(boring_model(), spiking_loader(spike_at=5))
    assert not (tmp_path / "skip_batches.json").exists()


def test_non_finite_loss(make_trainer, boring_model, tmp_path):
    class NaNAt3(boring_model):
        def training_step(self, batch, batch_idx):
            loss = super().training_step(batch, batch_idx)
            return loss * float("nan") if batch_idx == 3 else loss

    path = tmp_path / "skips" / "bad.json"
    with pytest.raises(TrainingSpikeException, match="batch 3"):
        make_trainer(callbacks=[SpikeDetection(exclude_batches_path=path)]).fit(NaNAt3(), spiking_loader(spike_at=0, scale=0.0))
    assert json.loads(path.read_text()) == [2, 3]
    # finite_only=False: a NaN is neither a spike nor part of the mean (the kernel's own NaN check
    # would stop a run whose weights went NaN, so the hook is called directly after a real fit).
    detector = SpikeDetection(finite_only=False)
    model, trainer = boring_model(), make_trainer(callbacks=[detector])
    trainer.fit(model, spiking_loader(spike_at=0, scale=0.0))
    before = list(detector._values)
    detector.on_train_batch_end(trainer, model, torch.tensor(float("nan")), None, 8)
    assert detector.bad_batches == [] and list(detector._values) == before and len(before) == 8


def test_state_round_trip():
    a = SpikeDetection(window=2)
    a._values.extend([1.0, 2.0])
    a.last_val, a.bad_batches = 2.0, [3, 4]
    b = SpikeDetection(window=2)
    b.load_state_dict(a.state_dict())
    assert b.running_mean == 1.5 and b.bad_batches == [3, 4] and b.last_val == 2.0


def test_mode_is_checked():
    with pytest.raises(ValueError, match="min or max"):
        SpikeDetection(mode="up")


def test_usable_by_name(make_trainer):
    assert any(isinstance(cb, SpikeDetection) for cb in make_trainer(callbacks=["spike_detection"]).callbacks)
