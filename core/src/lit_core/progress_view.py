"""``trainer.fit_loop``: Lightning's loop-progress attributes, read from ``trainer.state``.

Lightning programs and callbacks read ``trainer.fit_loop.epoch_progress.current.completed``,
``trainer.fit_loop.epoch_loop.batch_progress.current.ready`` and the like. lit's loops keep plain
counters in ``trainer.state`` (``lit_core.loop_state``) instead of progress objects; these views compute Lightning's numbers from
those counters when they are read, so the loops pay nothing per step.

Differences: ``batch_progress.current.completed`` already counts the batch whose
``on_train_batch_end`` is running (Lightning counts it once the hook returned); ``ready`` and
``started`` are equal, as are ``processed`` and ``completed``.
"""

from __future__ import annotations

from operator import attrgetter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .trainer import Trainer


class ProgressCounts:
    """Lightning's ``_ReadyCompletedTracker`` numbers: ``ready``, ``started``, ``processed``, ``completed``."""

    __slots__ = ("completed", "processed", "ready", "started")

    def __init__(self, started: int, completed: int) -> None:
        self.ready = self.started = started
        self.processed = self.completed = completed

    def __repr__(self) -> str:
        return f"ProgressCounts(ready={self.ready}, started={self.started}, processed={self.processed}, completed={self.completed})"


class Progress:
    """``current`` (this epoch / this fit) and ``total`` (since the first run) counts."""

    __slots__ = ("current", "total")

    def __init__(self, current: ProgressCounts, total: ProgressCounts) -> None:
        self.current = current
        self.total = total


def forwarded(path: str, doc: str, settable: bool = False) -> property:
    """A property that reads the attribute at ``path`` (``"_trainer.state.batch_idx"``) when read;
    ``settable``: assigning the property sets that attribute."""
    owner, _, name = path.rpartition(".")
    setter = (lambda obj, value: setattr(attrgetter(owner)(obj), name, value)) if settable else None
    return property(attrgetter(path), setter, doc=doc)


class _LoopView:
    """What both loop views show: the step limits and the current training batch's place."""

    def __init__(self, trainer: Trainer) -> None:
        self._trainer = trainer

    max_steps = forwarded("_trainer.max_steps", "``Trainer(max_steps=...)``.")
    min_steps = forwarded("_trainer.min_steps", "``Trainer(min_steps=...)``.")
    batch_idx = forwarded("_trainer.state.batch_idx", "Index of the current training batch in its epoch.")

    @property
    def total_batch_idx(self) -> int:
        """Index of the current training batch over all epochs."""
        return max(self._trainer.state.total_batches_seen - 1, 0)


class EpochLoopView(_LoopView):
    """``trainer.fit_loop.epoch_loop``: the training batches of the running epoch."""

    global_step = forwarded("_trainer.state.global_step", "Optimizer steps taken (``trainer.global_step``).")
    _batches_that_stepped = forwarded("_trainer.state.batches_that_stepped", "Training batches that stepped (the logging step).")

    @property
    def batch_progress(self) -> Progress:
        """Batches of this epoch (``current``) and of every epoch (``total``)."""
        t = self._trainer
        done = t.state.epoch_batches_done
        started = t.state.batch_idx + 1 if t.training and t.state.batch_idx + 1 > done else done
        return Progress(ProgressCounts(started, done), ProgressCounts(t.state.total_batches_seen + started - done, t.state.total_batches_seen))


class FitLoopView(_LoopView):
    """``trainer.fit_loop``: epochs of the fit (``epoch_progress``) and the epoch loop (``epoch_loop``)."""

    max_epochs = forwarded("_trainer.max_epochs", "``Trainer(max_epochs=...)``; settable (to train longer on a second ``fit``).", True)
    min_epochs = forwarded("_trainer.min_epochs", "``Trainer(min_epochs=...)``; settable.", True)

    def __init__(self, trainer: Trainer) -> None:
        super().__init__(trainer)
        self.epoch_loop = EpochLoopView(trainer)

    @property
    def epoch_progress(self) -> Progress:
        """Epochs started and completed; ``current.completed`` is ``trainer.current_epoch``, as in Lightning."""
        t = self._trainer
        completed = t.current_epoch
        running = t.training or t.state.epoch_batches_done > 0 or t.state.epoch_completed
        counts = ProgressCounts(completed + 1 if running else completed, completed)
        counts.processed = completed + 1 if t.state.epoch_completed else completed
        return Progress(counts, counts)
