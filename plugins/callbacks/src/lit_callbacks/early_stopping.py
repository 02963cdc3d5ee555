"""``EarlyStopping``: stop training when a monitored metric stops improving (Lightning 2.6's callback)."""

from __future__ import annotations

import logging
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from lit_core.plugin_api import Callback, MisconfigurationException, rank_zero_warn

if TYPE_CHECKING:
    from lit_core.plugin_api import LightningModule, Trainer

# Under lit_core's logger (where the names are imported from), so messages show as lit's own do.
log = logging.getLogger("lit_core.callbacks.early_stopping")


class EarlyStoppingReason(Enum):
    """Why ``EarlyStopping`` stopped training (``early_stopping.stopping_reason``)."""

    NOT_STOPPED = 0
    STOPPING_THRESHOLD = 1
    DIVERGENCE_THRESHOLD = 2
    PATIENCE_EXHAUSTED = 3
    NON_FINITE_METRIC = 4


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved for ``patience`` checks.

    :param monitor: the logged metric to watch (``self.log("val_loss", ...)``).
    :param min_delta: an improvement must be larger than this (absolute) amount.
    :param patience: how many checks without improvement before stopping. A check runs at the end
        of each validation, or at the end of each training epoch when there is no validation.
    :param verbose: log each improvement and the reason for stopping.
    :param mode: ``"min"`` (lower is better) or ``"max"``.
    :param strict: raise when ``monitor`` was not logged (else warn, with ``verbose``, and skip the check).
    :param check_finite: stop when the metric becomes NaN or infinite.
    :param stopping_threshold: stop as soon as the metric is better than this.
    :param divergence_threshold: stop as soon as the metric is worse than this.
    :param check_on_train_epoch_end: check at the end of the training epoch instead of after
        validation (``None``: decided from the Trainer, as Lightning does).
    :param log_rank_zero_only: with several processes, log the messages on rank zero only.
    """

    mode_dict: ClassVar[dict[str, Any]] = {"min": torch.lt, "max": torch.gt}
    order_dict: ClassVar[dict[str, str]] = {"min": "<", "max": ">"}

    def __init__(self, monitor: str, min_delta: float = 0.0, patience: int = 3, verbose: bool = False,
                 mode: str = "min", strict: bool = True, check_finite: bool = True,
                 stopping_threshold: float | None = None, divergence_threshold: float | None = None,
                 check_on_train_epoch_end: bool | None = None, log_rank_zero_only: bool = False) -> None:
        if mode not in self.mode_dict:
            raise MisconfigurationException(f"EarlyStopping(mode={mode!r}): `mode` can be {', '.join(self.mode_dict)}.")
        self.monitor = monitor
        self.patience = patience
        self.verbose = verbose
        self.mode = mode
        self.strict = strict
        self.check_finite = check_finite
        self.stopping_threshold = stopping_threshold
        self.divergence_threshold = divergence_threshold
        self.log_rank_zero_only = log_rank_zero_only
        self._check_on_train_epoch_end = check_on_train_epoch_end
        # Stored signed, as Lightning does: an improvement is ``current - min_delta`` beating the best.
        self.min_delta = min_delta * (1 if mode == "max" else -1)
        self.wait_count = 0
        self.stopped_epoch = 0
        self.best_score = torch.tensor(torch.inf if mode == "min" else -torch.inf)
        self.stopping_reason = EarlyStoppingReason.NOT_STOPPED
        self.stopping_reason_message: str | None = None

    @property
    def monitor_op(self) -> Any:
        """``torch.lt`` for ``mode="min"``, ``torch.gt`` for ``"max"``."""
        return self.mode_dict[self.mode]

    @property
    def state_key(self) -> str:
        """Several EarlyStopping callbacks (other monitor or mode) keep separate states in a checkpoint."""
        return f"{type(self).__qualname__}{{'monitor': {self.monitor!r}, 'mode': {self.mode!r}}}"

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs to continue counting exactly where this one stopped."""
        return {"wait_count": self.wait_count, "stopped_epoch": self.stopped_epoch, "best_score": self.best_score,
                "patience": self.patience, "stopping_reason": self.stopping_reason.value,
                "stopping_reason_message": self.stopping_reason_message}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""
        self.wait_count = state_dict["wait_count"]
        self.stopped_epoch = state_dict["stopped_epoch"]
        self.best_score = state_dict["best_score"]
        self.patience = state_dict["patience"]
        self.stopping_reason = EarlyStoppingReason(state_dict.get("stopping_reason", 0))
        self.stopping_reason_message = state_dict.get("stopping_reason_message")

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if self._check_on_train_epoch_end is None:
            # Validation several times an epoch, or not every epoch: check after validation; else at the epoch's end.
            self._check_on_train_epoch_end = trainer.val_check_interval == 1.0 and trainer.check_val_every_n_epoch == 1

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._check_on_train_epoch_end and not self._skip(trainer):
            self._run_early_stopping_check(trainer)

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not self._check_on_train_epoch_end and not self._skip(trainer):
            self._run_early_stopping_check(trainer)

    @staticmethod
    def _skip(trainer: Trainer) -> bool:
        return trainer.state.fn != "fit" or trainer.sanity_checking

    def _validate_condition_metric(self, logs: dict[str, torch.Tensor]) -> bool:
        if self.monitor in logs:
            return True
        message = (f"Early stopping conditioned on metric `{self.monitor}` which is not available. Pass in or modify "
                   f"your `EarlyStopping` callback to use any of the following: `{'`, `'.join(logs)}`")
        if self.strict:
            raise RuntimeError(message)
        if self.verbose:
            rank_zero_warn(message, category=RuntimeWarning)
        return False

    def _run_early_stopping_check(self, trainer: Trainer) -> None:
        """Evaluate the metric; every process stops if any one decides to (a sum over ranks)."""
        logs = trainer.callback_metrics
        if trainer.fast_dev_run or not self._validate_condition_metric(logs):
            return
        current = torch.as_tensor(logs[self.monitor]).detach().squeeze()
        should_stop, reason = self._evaluate_stopping_criteria(current)
        if trainer.world_size > 1:
            decision = torch.tensor(int(should_stop), device=current.device)
            should_stop = bool(trainer.strategy.reduce(decision, "sum") > 0)
        trainer.should_stop = trainer.should_stop or should_stop
        if should_stop:
            self.stopped_epoch = trainer.current_epoch
        if reason and self.verbose:
            self._log_info(trainer, reason)

    def _evaluate_stopping_criteria(self, current: torch.Tensor) -> tuple[bool, str | None]:
        should_stop, reason = False, None
        order = self.order_dict[self.mode]
        if self.check_finite and not torch.isfinite(current):
            should_stop, self.stopping_reason = True, EarlyStoppingReason.NON_FINITE_METRIC
            reason = (f"Monitored metric {self.monitor} = {current} is not finite. Previous best value was "
                      f"{self.best_score:.3f}. Signaling Trainer to stop.")
        elif self.stopping_threshold is not None and self.monitor_op(current, self.stopping_threshold):
            should_stop, self.stopping_reason = True, EarlyStoppingReason.STOPPING_THRESHOLD
            reason = (f"Stopping threshold reached: {self.monitor} = {current} {order} {self.stopping_threshold}. "
                      "Signaling Trainer to stop.")
        elif self.divergence_threshold is not None and self.monitor_op(-current, -self.divergence_threshold):
            should_stop, self.stopping_reason = True, EarlyStoppingReason.DIVERGENCE_THRESHOLD
            reason = (f"Divergence threshold reached: {self.monitor} = {current} {order} {self.divergence_threshold}. "
                      "Signaling Trainer to stop.")
        elif self.monitor_op(current - self.min_delta, self.best_score.to(current.device)):
            reason = (f"Metric {self.monitor} improved by {abs(self.best_score - current):.3f} >= min_delta = "
                      f"{abs(self.min_delta)}. New best score: {current:.3f}" if torch.isfinite(self.best_score)
                      else f"Metric {self.monitor} improved. New best score: {current:.3f}")
            self.best_score = current
            self.wait_count = 0
        else:
            self.wait_count += 1
            if self.wait_count >= self.patience:
                should_stop, self.stopping_reason = True, EarlyStoppingReason.PATIENCE_EXHAUSTED
                reason = (f"Monitored metric {self.monitor} did not improve in the last {self.wait_count} records. "
                          f"Best score: {self.best_score:.3f}. Signaling Trainer to stop.")
        if should_stop:
            self.stopping_reason_message = reason
        return should_stop, reason

    def _log_info(self, trainer: Trainer, message: str) -> None:
        rank = trainer.global_rank if trainer.world_size > 1 else None
        if rank is not None:
            message = f"[rank: {rank}] {message}"
        if rank is None or not self.log_rank_zero_only or rank == 0:
            log.info(message)
