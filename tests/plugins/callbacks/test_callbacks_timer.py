"""lit-callbacks' ``Timer``: durations, per-stage times, stopping, state for resume."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest

from lit_callbacks import Timer
from lit_core.exceptions import MisconfigurationException


@pytest.mark.parametrize(("duration", "seconds"), [
    ("01:02:03:04", 93784.0), (timedelta(minutes=5), 300.0), ({"hours": 1, "seconds": 2}, 3602.0), (None, None),
])
def test_duration_forms(duration: Any, seconds: float | None) -> None:
    assert Timer(duration).time_remaining() == seconds


@pytest.mark.parametrize("kwargs", [{"duration": "1:2:3"}, {"duration": "00:00:00:1"}, {"interval": "batch"}])
def test_bad_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(MisconfigurationException):
        Timer(**kwargs)


def test_stage_times_are_measured(make_trainer: Any, boring_model: Any) -> None:
    timer = Timer()
    trainer = make_trainer(max_epochs=1, callbacks=[timer])
    trainer.fit(boring_model())
    trainer.test(boring_model())
    for stage in ("train", "validate", "test"):
        assert timer.start_time(stage) is not None and timer.end_time(stage) >= timer.start_time(stage)
        assert timer.time_elapsed(stage) > 0
    assert timer.time_elapsed("train") >= timer.time_elapsed("validate")
    assert timer.start_time("predict") is None and timer.time_elapsed("predict") == 0


def test_stops_training_mid_epoch(make_trainer: Any, boring_model: Any) -> None:
    class Slow(boring_model):
        def training_step(self, batch: Any, batch_idx: int) -> Any:
            time.sleep(0.05)
            return super().training_step(batch, batch_idx)

    timer = Timer(duration=timedelta(seconds=0.12), verbose=False)
    trainer = make_trainer(max_epochs=100, callbacks=[timer])
    trainer.fit(Slow())
    assert 1 <= trainer.global_step <= 4 and trainer.current_epoch == 1
    assert timer.time_remaining() <= 0


def test_epoch_interval_stops_at_the_epoch_end(make_trainer: Any, boring_model: Any) -> None:
    trainer = make_trainer(max_epochs=100, callbacks=[Timer(duration={"seconds": 0}, interval="epoch")])
    # A zero duration is spent at fit start already: one epoch is never begun.
    trainer.fit(boring_model())
    assert trainer.global_step == 0


def test_state_carries_training_time(make_trainer: Any, boring_model: Any, tmp_root: Any) -> None:
    timer = Timer()
    trainer = make_trainer(max_epochs=1, callbacks=[timer])
    trainer.fit(boring_model())
    trainer.save_checkpoint(tmp_root / "t.ckpt")
    spent = timer.time_elapsed()

    resumed = Timer(duration=timedelta(seconds=spent * 0.99))  # already spent: training does not go on
    trainer = make_trainer(max_epochs=5, callbacks=[resumed])
    trainer.fit(boring_model(), ckpt_path=tmp_root / "t.ckpt")
    assert trainer.current_epoch == 1 and resumed.time_elapsed() >= spent
    assert set(timer.state_dict()["time_elapsed"]) == {"train", "sanity_check", "validate", "test", "predict"}


def test_usable_by_name(make_trainer: Any, boring_model: Any) -> None:
    trainer = make_trainer(callbacks=["timer"])
    timer = next(cb for cb in trainer.callbacks if isinstance(cb, Timer))
    trainer.fit(boring_model())
    assert timer.time_elapsed() > 0
