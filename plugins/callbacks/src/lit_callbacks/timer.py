"""``Timer``: measure the time of each stage and stop training at a time limit (Lightning's callback)."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from lit_core.plugin_api import Callback, MisconfigurationException, rank_zero_info

if TYPE_CHECKING:
    from lit_core.plugin_api import LightningModule, Trainer

#: Lightning's stage names (``RunningStage`` values) that the timer measures.
STAGES = ("train", "sanity_check", "validate", "test", "predict")


class Timer(Callback):
    """Time the training, validation and test loops; stop training once ``duration`` has passed.

    :param duration: ``"DD:HH:MM:SS"``, a ``datetime.timedelta``, or a dict of ``timedelta``
        arguments (``dict(hours=2)``); ``None``: measure only.
    :param interval: check after every training step (``"step"``) or epoch (``"epoch"``).
    :param verbose: say when the limit is reached.

    >>> Timer(duration="00:01:30:00").time_remaining()
    5400.0
    """

    def __init__(self, duration: str | timedelta | dict[str, int] | None = None, interval: str = "step",
                 verbose: bool = True) -> None:
        if isinstance(duration, str):
            match = re.fullmatch(r"(\d+):(\d\d):(\d\d):(\d\d)", duration.strip())
            if not match:
                raise MisconfigurationException(
                    f"`Timer(duration={duration!r})` is not a valid duration. Expected a string in the format DD:HH:MM:SS."
                )
            days, hours, minutes, seconds = (int(g) for g in match.groups())
            duration = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        elif isinstance(duration, dict):
            duration = timedelta(**duration)
        if interval not in ("step", "epoch"):
            raise MisconfigurationException(
                f"Unsupported parameter value `Timer(interval={interval})`. Possible choices are: step, epoch"
            )
        self._duration = duration.total_seconds() if duration is not None else None
        self._interval = interval
        self._verbose = verbose
        self._start_time: dict[str, float | None] = dict.fromkeys(STAGES)
        self._end_time: dict[str, float | None] = dict.fromkeys(STAGES)
        #: Training time of the runs before a resume (from the checkpoint).
        self._offset = 0.0
        if not (interval == "step" and self._duration is not None) and type(self).on_train_batch_end is Timer.on_train_batch_end:
            # Nothing to check per step: a hook set to None on the instance is absent, so lit calls none per batch.
            self.on_train_batch_end = None  # type: ignore[assignment]

    @staticmethod
    def _stage(stage: Any) -> str:
        name = getattr(stage, "value", stage)
        if name not in STAGES:
            raise ValueError(f"{stage!r} is not a stage: use one of {', '.join(STAGES)}.")
        return name

    def start_time(self, stage: str = "train") -> float | None:
        """When ``stage`` last started (``time.monotonic()`` seconds), or ``None``."""
        return self._start_time[self._stage(stage)]

    def end_time(self, stage: str = "train") -> float | None:
        """When ``stage`` last ended (``time.monotonic()`` seconds), or ``None``."""
        return self._end_time[self._stage(stage)]

    def time_elapsed(self, stage: str = "train") -> float:
        """Seconds spent in ``stage`` (training: including the runs before a resume)."""
        stage = self._stage(stage)
        start, end = self._start_time[stage], self._end_time[stage]
        offset = self._offset if stage == "train" else 0.0
        if start is None:
            return offset
        return (time.monotonic() if end is None else end) - start + offset

    def time_remaining(self, stage: str = "train") -> float | None:
        """Seconds left of ``duration`` (``None`` without one)."""
        return None if self._duration is None else self._duration - self.time_elapsed(stage)

    def _start(self, stage: str) -> None:
        self._start_time[stage], self._end_time[stage] = time.monotonic(), None

    def _end(self, stage: str) -> None:
        self._end_time[stage] = time.monotonic()

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._start("train")

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._end("train")

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._start("validate")  # the sanity check included, as in Lightning

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._end("validate")

    def on_test_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._start("test")

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._end("test")

    def on_predict_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._start("predict")

    def on_predict_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._end("predict")

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # After a resume the restored time may already be spent, whatever the interval.
        if self._duration is not None:
            self._check_time_remaining(trainer)

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self._interval == "step" and self._duration is not None:
            self._check_time_remaining(trainer)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._interval == "epoch" and self._duration is not None:
            self._check_time_remaining(trainer)

    def state_dict(self) -> dict[str, Any]:
        """The time spent per stage, so a resumed run keeps counting the training time."""
        return {"time_elapsed": {stage: self.time_elapsed(stage) for stage in STAGES}}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the training time spent before the checkpoint."""
        self._offset = state_dict.get("time_elapsed", {}).get("train", 0.0)

    def _check_time_remaining(self, trainer: Trainer) -> None:
        assert self._duration is not None
        # Rank zero's clock decides, so every process stops at the same step.
        should_stop = trainer.strategy.broadcast(self.time_elapsed() >= self._duration)
        trainer.should_stop = trainer.should_stop or should_stop
        if should_stop and self._verbose:
            elapsed = timedelta(seconds=int(self.time_elapsed("train")))
            rank_zero_info(f"Time limit reached. Elapsed time is {elapsed}. Signaling Trainer to stop.")
