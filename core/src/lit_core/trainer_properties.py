"""Lightning's read-only ``Trainer`` properties: loggers, metrics, callbacks, loop counters, batch counts.

``TrainerProperties`` is a base class of ``Trainer``; its properties read what ``Trainer.__init__``
sets and what the loops keep in ``trainer.state`` (``lit_core.loop_state``), and compute nothing
per step. The setters (``current_epoch``, ``global_step``, ``is_last_batch``, ``should_stop``,
``ckpt_path``) write the same places.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

import torch

from . import namespace
from .builtins.adapters import overrides
from .callbacks.checkpoint import Checkpoint
from .data import LOADER_METHODS, batches_per_loader, num_batches, process_dataloader
from .datamodule import LightningDataModule
from .metrics import to_float
from .module import LightningModule
from .progress_view import FitLoopView, forwarded
from .trainer_state import RunningStage, TrainerStatus

if TYPE_CHECKING:
    from .callback import Callback
    from .logger import Logger
    from .trainer_state import TrainerState


def _loader_batches(kind: str, doc: str) -> property:
    """``trainer.num_<kind>_batches``: the batches of each ``<kind>`` dataloader under ``limit_<kind>_batches``."""
    return property(lambda trainer: batches_per_loader(getattr(trainer, f"{kind}_dataloaders"), getattr(trainer, f"limit_{kind}_batches")),
                    doc=doc)


def _first_of(name: str) -> property:
    """``trainer.checkpoint_callback`` and the like: the first of the list property ``name``, or ``None``."""
    return property(lambda trainer: next(iter(getattr(trainer, name)), None), doc=f"The first of ``{name}``, or ``None``.")


def _stage_is(stage: RunningStage) -> property:
    """``trainer.training`` and the like: whether ``stage`` is running."""
    return property(lambda trainer: trainer.state.stage == stage, doc=f"Whether ``trainer.state.stage`` is ``RunningStage.{stage.name}``.")


class TrainerProperties:
    """The properties a Lightning user (and a callback) reads on ``trainer`` (a base class of ``Trainer``)."""

    # Set by Trainer.__init__; declared here for readers of this module.
    state: TrainerState
    loggers: list[Logger]
    callbacks: list[Callback]
    default_root_dir: str
    global_rank: int
    lightning_module: LightningModule | None

    @property
    def logger(self) -> Logger | None:
        """The first logger, or ``None``."""
        return self.loggers[0] if self.loggers else None

    @property
    def log_dir(self) -> str:
        """The first logger's folder for this run, else ``default_root_dir``."""
        lg = self.logger
        path = lg.log_dir if lg is not None else None
        return path if path is not None else self.default_root_dir

    @property
    def is_global_zero(self) -> bool:
        """Whether this process is global rank zero."""
        return self.global_rank == 0

    @property
    def callback_metrics(self) -> dict[str, torch.Tensor]:
        """Everything logged: step values, then epoch values (tensors)."""
        return {**self.state.train_metrics.callback, **self.state.eval_metrics.callback}

    @property
    def logged_metrics(self) -> dict[str, Any]:
        """What was last sent to the loggers."""
        return dict(self.state.logged_metrics)

    @property
    def progress_bar_metrics(self) -> dict[str, float]:
        """The ``prog_bar=True`` metrics as Python floats (read now, not per step)."""
        return to_float({**self.state.train_metrics.progress_bar(), **self.state.eval_metrics.progress_bar()})

    @property
    def progress_bar_callback(self) -> Callback | None:
        """The progress bar among the callbacks (one whose ``is_progress_bar`` is true), if any."""
        return next((cb for cb in self.callbacks if getattr(cb, "is_progress_bar", False)), None)

    @property
    def checkpoint_callbacks(self) -> list[Checkpoint]:
        """The checkpointing callbacks (``lit_core.callbacks.Checkpoint`` instances, such as ``ModelCheckpoint``)."""
        return [cb for cb in self.callbacks if isinstance(cb, Checkpoint)]

    checkpoint_callback = _first_of("checkpoint_callbacks")

    @property
    def early_stopping_callbacks(self) -> list[Callback]:
        """The ``lit_core.callbacks.EarlyStopping`` callbacks (none when no distribution provides that name)."""
        cls = namespace.imported_class("lit_core.callbacks", "EarlyStopping")
        return [cb for cb in self.callbacks if isinstance(cb, cls)] if cls is not None else []

    early_stopping_callback = _first_of("early_stopping_callbacks")

    # Lightning's loop counters: fields of trainer.state (lit_core.loop_state), where the loops keep them.
    current_epoch = forwarded("state.current_epoch", "Epochs completed.", True)
    global_step = forwarded("state.global_step", "Optimizer steps taken.", True)
    is_last_batch = forwarded("state.is_last_batch", "Whether the current training batch is the last of its epoch.", True)
    should_stop = forwarded("state.should_stop", "Set it to stop the fit (honoured once ``min_epochs`` / ``min_steps`` are reached).", True)

    @property
    def interrupted(self) -> bool:
        """Whether the last stage was interrupted (an exception or ``KeyboardInterrupt``)."""
        return self.state.status == TrainerStatus.INTERRUPTED

    @property
    def ckpt_path(self) -> str | None:
        """The checkpoint the last ``fit`` / ``validate`` / ``test`` / ``predict`` restored (``None``: none).

        Setting it (``trainer.ckpt_path = path``) makes the next stage restore ``path`` when it is
        not given a ``ckpt_path=`` of its own, as in Lightning.
        """
        return self._ckpt_path

    @ckpt_path.setter
    def ckpt_path(self, path: str | os.PathLike | None) -> None:
        self._ckpt_path = None if path is None else os.fspath(path)
        self._ckpt_path_set = path is not None

    @property
    def fit_loop(self) -> FitLoopView:
        """Lightning's read-only loop progress: ``fit_loop.epoch_progress``, ``fit_loop.epoch_loop.batch_progress``..."""
        return FitLoopView(self)

    @property
    def num_training_batches(self) -> float:
        """Batches per training epoch after limits (``inf`` for an unsized loader)."""
        return float("inf") if self.state.epoch_batches_total is None else self.state.epoch_batches_total

    @property
    def num_sanity_val_batches(self) -> list[int | float]:
        """Batches of each validation dataloader the sanity check runs (``num_sanity_val_steps``, within the limit)."""
        most = math.inf if self.num_sanity_val_steps == -1 else self.num_sanity_val_steps
        return batches_per_loader(self.val_dataloaders, self.limit_val_batches, most)

    num_val_batches = _loader_batches("val", "Batches of each validation dataloader a validation run takes, after ``limit_val_batches``.")
    num_test_batches = _loader_batches("test", "Batches of each test dataloader ``test()`` runs, after ``limit_test_batches``.")
    num_predict_batches = _loader_batches("predict", "Batches of each predict dataloader ``predict()`` runs, after ``limit_predict_batches``.")

    @property
    def estimated_stepping_batches(self) -> float:
        """The total number of optimizer steps fit will take (for schedulers like OneCycleLR).

        Lightning's formula: batches per epoch on this process (after ``limit_train_batches`` and the
        strategy's sharding), divided by ``accumulate_grad_batches``, times ``max_epochs``, capped by
        ``max_steps``. Reads the training dataloader when the loop has not done so yet.
        """
        max_steps = math.inf if self.max_steps == -1 else self.max_steps
        if self.max_epochs == -1:
            return max_steps
        batches = self.state.epoch_batches_total
        if batches is None:
            loaders = self.fetch_dataloaders("train") if self.lightning_module is not None else []
            if loaders and self.world_size > 1:
                # The strategy shards the data over the processes (the per-process count is what steps);
                # a CombinedLoader's loaders each go through the strategy, as in the fit loop.
                loaders = [process_dataloader(self, loaders[0], "train")]
            batches = num_batches(loaders[0], self.limit_train_batches, "train", "limit_train_batches") if loaders else float("inf")
        if math.isinf(batches):
            per_epoch = batches
        else:
            # lit's 1.x-style several optimizers in automatic optimization each count a step.
            several = len(self.optimizers or [None]) if getattr(self.lightning_module, "automatic_optimization", True) else 1
            per_epoch = math.ceil(batches / self.accumulate_grad_batches) * several
        return min(per_epoch * max(self.max_epochs or 1, 1), max_steps)

    training = _stage_is(RunningStage.TRAINING)
    validating = _stage_is(RunningStage.VALIDATING)
    testing = _stage_is(RunningStage.TESTING)
    predicting = _stage_is(RunningStage.PREDICTING)

    @property
    def enable_validation(self) -> bool:
        """Whether ``fit`` runs validation: val data, a ``validation_step`` and ``limit_val_batches > 0``."""
        module = self.lightning_module
        if module is None or not overrides(module, LightningModule, "validation_step") or self.limit_val_batches == 0:
            return False
        if self.state.dataloader_args.get("val") is not None:
            return True
        return any(source is not None and overrides(source, base, LOADER_METHODS["val"])
                   for source, base in ((self.datamodule, LightningDataModule), (module, LightningModule)))
