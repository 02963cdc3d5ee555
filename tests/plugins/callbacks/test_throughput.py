"""ThroughputMonitor: rates per stage through the loggers under Lightning's names; Throughput's arithmetic."""

from __future__ import annotations

import csv

import pytest

from lit_callbacks import Throughput, ThroughputMonitor


def rows_of(trainer):
    trainer.logger.save()
    with open(f"{trainer.log_dir}/metrics.csv") as f:
        return list(csv.DictReader(f))


def test_training_and_validation_throughput_logged(make_trainer, boring_model):
    class Flops(boring_model):
        flops_per_batch = 1000

    monitor = ThroughputMonitor(batch_size_fn=lambda batch: batch[0].size(0), length_fn=lambda batch: 3,  # items per sample (a sequence length)
                                window_size=2)
    trainer = make_trainer(logger="csv", callbacks=[monitor], max_epochs=2, log_every_n_steps=2, num_sanity_val_steps=1)
    trainer.fit(Flops())
    rows = rows_of(trainer)
    train = [r for r in rows if r.get("train/samples")]
    assert [int(r["step"]) for r in train] == [1, 3, 5, 7], "every log_every_n_steps optimizer steps"
    assert [int(float(r["train/samples"])) for r in train] == [4, 8, 12, 16], "running totals over the whole fit"
    assert [int(float(r["train/batches"])) for r in train] == [2, 4, 6, 8]
    assert all(float(r["train/device/samples_per_sec"]) > 0 for r in train)
    assert all(float(r["train/device/items_per_sec"]) == pytest.approx(3 * float(r["train/device/samples_per_sec"])) for r in train)
    assert all(float(r["train/device/flops_per_sec"]) == pytest.approx(1000 * float(r["train/device/batches_per_sec"])) for r in train)
    val = [r for r in rows if r.get("validate/batches")]
    assert [int(float(r["validate/batches"])) for r in val] == [1, 2, 3, 4] * 2, "not the sanity check; every validation batch"
    assert "batches_per_sec" not in rows[0], "global rates only with several processes"


def test_predict_throughput(make_trainer, boring_model):
    trainer = make_trainer(logger="csv", callbacks=[ThroughputMonitor(batch_size_fn=len, window_size=3)])
    with pytest.warns(UserWarning, match="flops_per_batch"):
        trainer.predict(boring_model())
    rows = [r for r in rows_of(trainer) if r.get("predict/samples")]
    assert [int(float(r["predict/samples"])) for r in rows] == [2, 4, 6, 8]
    assert [bool(r["predict/device/batches_per_sec"]) for r in rows] == [False, False, True, True], "rates once the window is full"


def test_throughput_arithmetic_and_errors():
    t = Throughput(window_size=3, world_size=2, available_flops=100.0)
    for i in range(1, 4):
        t.update(time=float(i), batches=i, samples=4 * i, lengths=10 * i, flops=50)
    m = t.compute()
    assert m["device/batches_per_sec"] == 1.0 and m["samples_per_sec"] == 8.0 and m["batches_per_sec"] == 2.0
    assert m["device/items_per_sec"] == 40.0 and m["items_per_sec"] == 80.0
    assert m["flops_per_sec"] == 100.0 and m["device/flops_per_sec"] == 50.0 and m["device/mfu"] == 0.5
    with pytest.raises(ValueError, match="went down"):
        t.update(time=0.5, batches=4, samples=16)
    with pytest.raises(ValueError, match="window_size"):
        Throughput(window_size=1)
    with pytest.raises(TypeError, match="unexpected"):
        ThroughputMonitor(batch_size_fn=len, window=3)
