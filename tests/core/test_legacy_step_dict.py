"""``training_step`` returning Lightning 0.x / 1.0's ``{'loss', 'log', 'progress_bar'}`` dict
(issue 13 §3): 'log' values reach the loggers, 'progress_bar' values the bar, one warning per fit."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch

import lit_core as lit


class Rows(lit.Logger):
    """Keeps what the Trainer sends."""

    def __init__(self) -> None:
        self.rows: list[tuple[int | None, dict[str, float]]] = []

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.rows.append((step, dict(metrics)))

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        pass


def old_style_model(boring_model: type) -> Any:
    class OldStyle(boring_model):
        def training_step(self, batch, batch_idx):
            loss = self.loss(batch)
            return {
                "loss": loss,
                "log": {"train_loss": loss, "lr": 0.1, "shared": torch.tensor(float(batch_idx))},
                "progress_bar": {"batch": batch_idx, "shared": torch.tensor(float(batch_idx))},
            }

    return OldStyle()


def test_log_and_progress_bar_entries_are_logged(make_trainer, boring_model):
    logger = Rows()
    trainer = make_trainer(logger=logger, log_every_n_steps=1, limit_val_batches=0)
    with pytest.deprecated_call(match=r"'log' / 'progress_bar' entries.*self.log\(name, value, prog_bar=True\)") as record:
        trainer.fit(old_style_model(boring_model))
    assert sum("'progress_bar' entries" in str(w.message) for w in record) == 1  # once per fit, not per step
    steps = [(step, row) for step, row in logger.rows if "train_loss" in row]
    assert [step for step, _ in steps] == [0, 1, 2, 3]
    assert steps[-1][1]["lr"] == pytest.approx(0.1) and steps[-1][1]["shared"] == 3.0
    assert all("batch" not in row for _, row in logger.rows)  # progress_bar only: not sent to the loggers
    bar = trainer.progress_bar_metrics
    assert bar["batch"] == 3.0 and bar["shared"] == 3.0 and "train_loss" not in bar
    # The loss still trained the model: the same run with a plain return ends at the same weights.
    plain = boring_model()
    make_trainer(limit_val_batches=0).fit(plain)
    assert torch.equal(plain.layer.weight, trainer.lightning_module.layer.weight)


def test_plain_dicts_and_tensors_do_not_warn(make_trainer, boring_model):
    class DictModel(boring_model):
        def training_step(self, batch, batch_idx):
            return {"loss": self.loss(batch), "extra": 1}

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        make_trainer(limit_val_batches=0).fit(DictModel())
        make_trainer(limit_val_batches=0).fit(boring_model())


def test_manual_optimization_dict_without_loss(make_trainer, boring_model):
    class Manual(boring_model):
        def __init__(self) -> None:
            super().__init__()
            self.automatic_optimization = False

        def training_step(self, batch, batch_idx):
            opt = self.optimizers()
            loss = self.loss(batch)
            opt.zero_grad()
            self.manual_backward(loss)
            opt.step()
            return {"log": {"manual_loss": loss.detach()}}

    trainer = make_trainer(limit_val_batches=0)
    with pytest.deprecated_call(match="'log' / 'progress_bar' entries"):
        trainer.fit(Manual())
    assert "manual_loss" in trainer.callback_metrics and trainer.global_step == 4
