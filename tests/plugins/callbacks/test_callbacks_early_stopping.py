"""lit-callbacks' ``EarlyStopping``: the epoch training stops at, its options, state on resume, errors."""

from __future__ import annotations

import logging
import math
from typing import Any

import pytest
import torch

from lit_callbacks import EarlyStopping, EarlyStoppingReason
from lit_core.exceptions import MisconfigurationException


@pytest.fixture
def scored_model(boring_model: Any) -> Any:
    """``scored_model(scores)``: the boring model logging ``score = scores[epoch]`` in validation."""

    def make(scores: list[float], name: str = "score") -> Any:
        class Scored(boring_model):
            def validation_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
                loss = self.loss(batch)
                self.log(name, torch.tensor(scores[min(self.current_epoch, len(scores) - 1)]))
                return loss

        return Scored()

    return make


def test_stops_when_patience_runs_out(make_trainer: Any, scored_model: Any) -> None:
    # best 4.0 at epoch 1, then two checks without improvement: stop at the end of epoch 3.
    es = EarlyStopping(monitor="score", patience=2)
    trainer = make_trainer(max_epochs=10, callbacks=[es])
    trainer.fit(scored_model([5.0, 4.0, 4.0, 4.5, 3.0, 2.0]))
    assert es.stopped_epoch == 3
    assert trainer.current_epoch == 4
    assert es.wait_count == 2
    assert float(es.best_score) == 4.0
    assert es.stopping_reason is EarlyStoppingReason.PATIENCE_EXHAUSTED
    assert "did not improve in the last 2 records" in es.stopping_reason_message


def test_verbose_messages(make_trainer: Any, scored_model: Any, caplog: pytest.LogCaptureFixture) -> None:
    es = EarlyStopping(monitor="score", patience=1, verbose=True)
    with caplog.at_level(logging.INFO, logger="lit_core"):
        make_trainer(max_epochs=10, callbacks=[es]).fit(scored_model([5.0, 4.0, 4.5]))
    messages = [r.getMessage() for r in caplog.records if r.name == "lit_core.callbacks.early_stopping"]
    assert messages == [
        "Metric score improved. New best score: 5.000",
        "Metric score improved by 1.000 >= min_delta = 0.0. New best score: 4.000",
        "Monitored metric score did not improve in the last 1 records. Best score: 4.000. Signaling Trainer to stop.",
    ]


def test_min_delta_and_max_mode(make_trainer: Any, scored_model: Any) -> None:
    # Improvements of 0.05 are below min_delta=0.1: they count as no improvement.
    es = EarlyStopping(monitor="score", mode="max", min_delta=0.1, patience=2)
    trainer = make_trainer(max_epochs=10, callbacks=[es])
    trainer.fit(scored_model([1.0, 1.05, 1.1, 2.0]))
    assert es.stopped_epoch == 2
    assert float(es.best_score) == 1.0


@pytest.mark.parametrize(("kwargs", "scores", "epoch", "reason"), [
    ({"stopping_threshold": 2.5}, [4.0, 3.0, 2.0, 1.0], 2, EarlyStoppingReason.STOPPING_THRESHOLD),
    ({"divergence_threshold": 10.0}, [4.0, 3.0, 11.0, 1.0], 2, EarlyStoppingReason.DIVERGENCE_THRESHOLD),
    ({}, [4.0, math.nan, 1.0], 1, EarlyStoppingReason.NON_FINITE_METRIC),
])
def test_thresholds_and_non_finite(make_trainer: Any, scored_model: Any, kwargs: dict[str, Any], scores: list[float],
                                   epoch: int, reason: EarlyStoppingReason) -> None:
    es = EarlyStopping(monitor="score", patience=100, **kwargs)
    trainer = make_trainer(max_epochs=10, callbacks=[es])
    trainer.fit(scored_model(scores))
    assert es.stopped_epoch == epoch
    assert trainer.current_epoch == epoch + 1
    assert es.stopping_reason is reason


def test_min_epochs_keeps_training(make_trainer: Any, scored_model: Any) -> None:
    es = EarlyStopping(monitor="score", patience=1)
    trainer = make_trainer(max_epochs=10, min_epochs=4, callbacks=[es])
    trainer.fit(scored_model([1.0, 2.0]))
    assert es.stopped_epoch == 3  # decided at epoch 1, and again at each later check
    assert trainer.current_epoch == 4


def test_checks_after_each_validation_with_val_check_interval(make_trainer: Any, scored_model: Any) -> None:
    # Two validations per epoch: the check runs at validation end, and patience counts checks.
    es = EarlyStopping(monitor="score", patience=3)
    trainer = make_trainer(max_epochs=10, val_check_interval=0.5, callbacks=[es])
    trainer.fit(scored_model([1.0, 1.0, 1.0]))
    assert es._check_on_train_epoch_end is False
    assert es.stopped_epoch == 1  # check 1 improves; checks 2 (epoch 0), 3 and 4 (epoch 1) do not
    assert trainer.current_epoch == 2


def test_train_metric_checked_at_train_epoch_end_without_validation(make_trainer: Any, boring_model: Any) -> None:
    class NoVal(boring_model):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            loss = self.loss(batch)
            self.log("train_metric", torch.tensor(float(self.current_epoch == 0)), on_step=False, on_epoch=True)
            return loss

        validation_step = None

    es = EarlyStopping(monitor="train_metric", mode="max", patience=1, check_on_train_epoch_end=True)
    trainer = make_trainer(max_epochs=10, callbacks=[es])
    trainer.fit(NoVal())
    assert es.stopped_epoch == 1


def test_missing_monitor_strict_lists_available_metrics(make_trainer: Any, boring_model: Any) -> None:
    trainer = make_trainer(max_epochs=2, callbacks=[EarlyStopping(monitor="val_acc")])
    with pytest.raises(RuntimeError, match=r"`val_acc` which is not available.*`val_loss`"):
        trainer.fit(boring_model())


def test_missing_monitor_not_strict_never_stops(make_trainer: Any, boring_model: Any) -> None:
    es = EarlyStopping(monitor="val_acc", strict=False, verbose=True, patience=0)
    trainer = make_trainer(max_epochs=3, callbacks=[es])
    with pytest.warns(RuntimeWarning, match="val_acc"):
        trainer.fit(boring_model())
    assert trainer.current_epoch == 3 and es.stopped_epoch == 0


def test_fast_dev_run_skips_the_check(make_trainer: Any, scored_model: Any) -> None:
    es = EarlyStopping(monitor="score", patience=0)
    make_trainer(fast_dev_run=True, callbacks=[es]).fit(scored_model([1.0]))
    assert es.wait_count == 0 and not torch.isfinite(es.best_score)


def test_bad_mode() -> None:
    with pytest.raises(MisconfigurationException, match="`mode` can be min, max"):
        EarlyStopping(monitor="x", mode="maximum")


def test_state_key_separates_monitors() -> None:
    assert EarlyStopping("a").state_key != EarlyStopping("b").state_key
    assert EarlyStopping("a").state_key != EarlyStopping("a", mode="max").state_key


def test_resume_continues_the_count(make_trainer: Any, scored_model: Any, tmp_root: Any) -> None:
    scores = [5.0, 4.0, 4.2, 4.1, 4.3, 3.0, 2.0, 1.0]
    full = EarlyStopping(monitor="score", patience=3)
    make_trainer(max_epochs=10, callbacks=[full]).fit(scored_model(scores))

    first = EarlyStopping(monitor="score", patience=3)
    half = make_trainer(max_epochs=3, callbacks=[first])
    half.fit(scored_model(scores))
    assert first.wait_count == 1
    half.save_checkpoint(tmp_root / "half.ckpt")

    resumed = EarlyStopping(monitor="score", patience=3)
    trainer = make_trainer(max_epochs=10, callbacks=[resumed])
    trainer.fit(scored_model(scores), ckpt_path=tmp_root / "half.ckpt")
    assert (resumed.stopped_epoch, resumed.wait_count, float(resumed.best_score)) == (
        full.stopped_epoch, full.wait_count, float(full.best_score)) == (4, 3, 4.0)
    assert trainer.current_epoch == 5
