"""DeviceStatsMonitor: CPU statistics through the loggers under Lightning's keys, at the logging steps."""

from __future__ import annotations

import csv

import pytest

from lit_callbacks import DeviceStatsMonitor
from lit_core.exceptions import MisconfigurationException


def read_rows(trainer):
    trainer.logger.save()
    with open(f"{trainer.log_dir}/metrics.csv") as f:
        return list(csv.DictReader(f))


def test_cpu_stats_logged_every_n_steps(make_trainer, boring_model):
    trainer = make_trainer(logger="csv", callbacks=[DeviceStatsMonitor()], log_every_n_steps=2, limit_val_batches=0)
    trainer.fit(boring_model())
    rows = read_rows(trainer)
    key = "DeviceStatsMonitor.on_train_batch_end/cpu_percent"
    logged = [r for r in rows if r.get(key)]
    assert [int(r["step"]) for r in logged] == [1, 3], "4 batches, every 2 steps, at the trainer's logging steps"
    for name in ("cpu_percent", "cpu_vm_percent", "cpu_swap_percent"):
        for hook in ("on_train_batch_start", "on_train_batch_end"):
            values = [float(r[f"DeviceStatsMonitor.{hook}/{name}"]) for r in rows if r.get(f"DeviceStatsMonitor.{hook}/{name}")]
            assert len(values) == 2 and all(0.0 <= v <= 100.0 for v in values)


def test_validation_and_test_batches_logged_and_filter_keys(make_trainer, boring_model):
    monitor = DeviceStatsMonitor(filter_keys={"cpu_vm_percent"})
    trainer = make_trainer(logger="csv", callbacks=[monitor], log_every_n_steps=1, limit_train_batches=1, limit_val_batches=1,
                           num_sanity_val_steps=0)
    trainer.fit(boring_model())
    columns = set(read_rows(trainer)[0])
    assert "DeviceStatsMonitor.on_validation_batch_end/cpu_vm_percent" in columns
    assert not any(c.endswith("/cpu_percent") for c in columns), "filter_keys keeps only the named statistic"


def test_cpu_stats_false_logs_nothing_on_cpu(make_trainer, boring_model):
    trainer = make_trainer(logger="csv", callbacks=[DeviceStatsMonitor(cpu_stats=False)], log_every_n_steps=1)
    trainer.fit(boring_model())
    rows = read_rows(trainer)
    assert rows and all(r["val_loss"] for r in rows), "only the model's own metric was logged"
    assert not any(k.startswith("DeviceStatsMonitor") for k in rows[0])


def test_no_logger_is_an_error(make_trainer, boring_model):
    with pytest.raises(MisconfigurationException, match=r"Trainer\(logger=False\)"):
        make_trainer(callbacks=[DeviceStatsMonitor()]).fit(boring_model())


def test_usable_by_name(make_trainer):
    trainer = make_trainer(logger="csv", callbacks=["device_stats"])
    assert any(isinstance(cb, DeviceStatsMonitor) for cb in trainer.callbacks)


def test_device_stats_come_from_the_accelerator(make_trainer, boring_model, monkeypatch):
    # A GPU is not needed to check the path: the accelerator's own statistics are what is logged.
    trainer = make_trainer(logger="csv", callbacks=[DeviceStatsMonitor(cpu_stats=True)], log_every_n_steps=1, limit_train_batches=1)
    monkeypatch.setattr(type(trainer.accelerator), "get_device_stats", lambda self, device: {"memory_allocated": 123.0}, raising=False)
    trainer.fit(boring_model())
    values = [r["DeviceStatsMonitor.on_train_batch_end/memory_allocated"] for r in read_rows(trainer)]
    assert [float(v) for v in values if v] == [123.0]
