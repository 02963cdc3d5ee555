"""self.log / log_dict: step and epoch values, reductions, and what each consumer sees."""

from __future__ import annotations

import csv

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import lit_core as lit


def constant_loader(values, batch_sizes):
    """Batches whose first column is ``values[i]`` repeated ``batch_sizes[i]`` times."""
    xs = torch.cat([torch.full((n, 4), float(v)) for v, n in zip(values, batch_sizes)])
    ys = torch.zeros(len(xs), 1)
    sampler = []
    start = 0
    for n in batch_sizes:
        sampler.append(list(range(start, start + n)))
        start += n
    return DataLoader(TensorDataset(xs, ys), batch_sampler=sampler)


def test_defaults_by_where_log_is_called(make_trainer, boring_model):
    class Logs(boring_model):
        def training_step(self, batch, batch_idx):
            loss = super().training_step(batch, batch_idx)
            self.log("train_loss", loss)
            self.log("both", loss, on_step=True, on_epoch=True)
            return loss

        def on_train_epoch_end(self):
            self.log("epoch_metric", 7.0)

    trainer = make_trainer(max_epochs=2)
    trainer.fit(Logs())
    metrics = trainer.callback_metrics
    assert set(metrics) == {"train_loss", "both_step", "both_epoch", "both", "epoch_metric", "val_loss"}
    assert all(isinstance(v, torch.Tensor) for v in metrics.values())
    assert metrics["both"] == metrics["both_epoch"]
    assert metrics["epoch_metric"] == 7.0


def test_epoch_mean_is_weighted_by_batch_size(make_trainer, boring_model):
    class Logs(boring_model):
        def validation_step(self, batch, batch_idx):
            self.log("value", batch[0][0, 0])
            self.log("total", batch[0][0, 0], reduce_fx="sum")
            self.log("biggest", batch[0][0, 0], reduce_fx=torch.max)
            self.log("smallest", batch[0][0, 0], reduce_fx="min")
            self.log("explicit", batch[0][0, 0], batch_size=1)

    loader = constant_loader([1.0, 4.0], [3, 1])
    (result,) = make_trainer().validate(Logs(), loader, verbose=False)
    assert result["value"] == pytest.approx((1 * 3 + 4 * 1) / 4)
    assert result["explicit"] == pytest.approx(2.5)
    assert result["total"] == 5.0 and result["biggest"] == 4.0 and result["smallest"] == 1.0


def test_unknown_reduce_fx(make_trainer, boring_model):
    class Logs(boring_model):
        def validation_step(self, batch, batch_idx):
            self.log("x", 1.0, reduce_fx="median")

    with pytest.raises(lit.trainer.MisconfigurationException, match=r"reduce_fx='median'\) is not supported"):
        make_trainer().validate(Logs(), verbose=False)


def test_log_dict_prog_bar_and_logger_flags(make_trainer, boring_model):
    class Logs(boring_model):
        def training_step(self, batch, batch_idx):
            loss = super().training_step(batch, batch_idx)
            self.log_dict({"a": loss, "b": 2 * loss}, prog_bar=True)
            self.log("hidden", 3.0, logger=False)
            return loss

    trainer = make_trainer(logger=True, log_every_n_steps=1)
    trainer.fit(Logs())
    assert set(trainer.progress_bar_metrics) == {"a", "b"}
    assert all(isinstance(v, float) for v in trainer.progress_bar_metrics.values())
    assert "hidden" in trainer.callback_metrics and "hidden" not in trainer.logged_metrics
    assert {"a", "b", "val_loss"} <= set(trainer.logged_metrics)


def test_csv_rows_every_n_steps_with_epoch_and_step(make_trainer, boring_model):
    class Logs(boring_model):
        def training_step(self, batch, batch_idx):
            loss = super().training_step(batch, batch_idx)
            self.log("loss", loss)
            return loss

    trainer = make_trainer(logger="csv", max_epochs=3, log_every_n_steps=2)
    trainer.fit(Logs())
    with open(f"{trainer.log_dir}/metrics.csv") as f:
        rows = list(csv.DictReader(f))
    train_rows = [r for r in rows if r["loss"]]
    val_rows = [r for r in rows if r["val_loss"]]
    assert [int(r["step"]) for r in train_rows] == [1, 3, 5, 7, 9, 11]
    assert [int(r["epoch"]) for r in train_rows] == [0, 0, 1, 1, 2, 2]
    assert [int(r["step"]) for r in val_rows] == [3, 7, 11]


def test_validation_metrics_per_dataloader(make_trainer, boring_model, random_loader):
    class TwoLoaders(boring_model):
        def validation_step(self, batch, batch_idx, dataloader_idx=0):
            self.log("val_loss", self.loss(batch))
            self.log("shared", 1.0, add_dataloader_idx=False)

    results = make_trainer().validate(TwoLoaders(), [random_loader(seed=1), random_loader(n=4, seed=2)], verbose=False)
    assert len(results) == 2
    assert set(results[0]) == {"val_loss/dataloader_idx_0", "shared"}
    assert set(results[1]) == {"val_loss/dataloader_idx_1", "shared"}


def test_test_returns_floats_and_prints_table(make_trainer, boring_model, capsys):
    results = make_trainer().test(boring_model())
    assert isinstance(results, list) and isinstance(results[0]["test_loss"], float)
    out = capsys.readouterr().out
    assert "Test metric" in out and "test_loss" in out and f"{results[0]['test_loss']:.6g}" in out
    make_trainer().test(boring_model(), verbose=False)
    assert capsys.readouterr().out == ""


def test_sanity_check_metrics_are_discarded(make_trainer, boring_model):
    seen = []

    class Probe(lit.Callback):
        def on_sanity_check_end(self, trainer, pl_module):
            seen.append(dict(trainer.callback_metrics))

    trainer = make_trainer(callbacks=[Probe()], limit_train_batches=1)
    trainer.fit(boring_model())
    assert seen == [{}]
    assert "val_loss" in trainer.callback_metrics


def test_step_values_stay_tensors_until_read(make_trainer, boring_model, monkeypatch):
    """Logging never converts to Python numbers on the hot path: only loggers and bars do."""
    items = []
    original = torch.Tensor.item

    def counting_item(self):
        items.append(1)
        return original(self)

    class Logs(boring_model):
        def training_step(self, batch, batch_idx):
            loss = super().training_step(batch, batch_idx)
            self.log("loss", loss, on_epoch=True)
            return loss

    monkeypatch.setattr(torch.Tensor, "item", counting_item)
    make_trainer(logger=False, limit_val_batches=0, max_epochs=5).fit(Logs())
    # One .item() per epoch, where DataLoader draws its base seed; none for logging, none for the
    # NaN check (it reads the latest loss every log_every_n_steps steps, without .item()).
    assert len(items) == 5


def test_epoch_end_outputs_seed_style(make_trainer, boring_model):
    got = {}

    class SeedStyle(boring_model):
        def training_step(self, batch, batch_idx):
            return {"loss": super().training_step(batch, batch_idx), "n": batch_idx}

        def training_epoch_end(self, outputs):
            got["train"] = [o["n"] for o in outputs]

        def validation_epoch_end(self, outputs):
            got["val"] = len(outputs)
            self.log("val_mean", torch.stack(outputs).mean())

    trainer = make_trainer(num_sanity_val_steps=0)
    trainer.fit(SeedStyle())
    assert got == {"train": [0, 1, 2, 3], "val": 4}
    assert "val_mean" in trainer.callback_metrics


def test_log_in_start_hooks_records_epoch_values(make_trainer, boring_model):
    class StartLogs(boring_model):
        def on_train_start(self):
            self.log("at_train_start", 1.0)

        def on_train_epoch_start(self):
            self.log("at_epoch_start", 2.0)

    trainer = make_trainer(limit_val_batches=0)
    trainer.fit(StartLogs())
    metrics = trainer.state.train_metrics.metrics
    assert [(metrics[k].on_step, metrics[k].on_epoch) for k in ("at_train_start", "at_epoch_start")] == [(False, True)] * 2


def test_step_and_epoch_metric_has_its_plain_name_mid_epoch(make_trainer, boring_model):
    seen = []

    class Logs(boring_model):
        def training_step(self, batch, batch_idx):
            loss = super().training_step(batch, batch_idx)
            self.log("tl", loss, on_step=True, on_epoch=True)
            return loss

    class Probe(lit.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            seen.append(sorted(trainer.callback_metrics))

    make_trainer(callbacks=[Probe()], limit_val_batches=0).fit(Logs())
    assert seen[0] == ["tl", "tl_step"]


def test_csv_logger_continues_an_existing_file(tmp_path):
    from lit_core.builtins.csv_logger import CSVLogger

    first = CSVLogger(tmp_path, version=0)
    first.log_metrics({"a": 1.0}, step=0)
    first.save()
    second = CSVLogger(tmp_path, version=0)
    second.log_metrics({"b": 2.0}, step=1)
    second.save()
    with open(second.metrics_file_path) as f:
        rows = list(csv.DictReader(f))
    assert rows == [{"a": "1.0", "step": "0", "b": ""}, {"a": "", "step": "1", "b": "2.0"}]
    with pytest.raises(ValueError, match="flush_logs_every_n_steps=0"):
        CSVLogger(tmp_path, flush_logs_every_n_steps=0)


def test_step_values_logged_in_evaluation_reach_the_loggers(make_trainer, boring_model):
    class Logs(boring_model):
        def validation_step(self, batch, batch_idx):
            self.log("per_batch", float(batch_idx), on_step=True, on_epoch=False)

    trainer = make_trainer(logger="csv", num_sanity_val_steps=2)
    trainer.validate(Logs(), verbose=False)
    trainer.logger.save()
    with open(f"{trainer.log_dir}/metrics.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["per_batch"]]
    assert [(r["step"], r["per_batch"]) for r in rows] == [("0", "0.0"), ("1", "1.0"), ("2", "2.0"), ("3", "3.0")]
