"""``self.log``'s path: from ``LightningModule.log`` into the stage's ``MetricStore``, and on to the loggers.

``LightningModule.log`` calls ``log_value`` for every value. The logging session it writes to
is ``trainer.state.metrics`` (``lit_core.loop_state``), which the loops open and close.
``MetricLogging`` is a base class of ``Trainer``: what is sent to the loggers is recorded in
``trainer.state.logged_metrics`` (``trainer.logged_metrics``).
"""

from __future__ import annotations

import functools
import numbers
from typing import TYPE_CHECKING, Any

import torch

from .apply import extract_batch_size
from .exceptions import MisconfigurationException
from .metrics import is_metric_object, to_float

if TYPE_CHECKING:
    from .loop_state import LoopState
    from .registry import PluginManager
    from .trainer import Trainer
    from .trainer_state import TrainerState


def log_value(trainer: Trainer, name: str, value: Any, prog_bar: bool, logger: bool, on_step: bool | None,
              on_epoch: bool | None, reduce_fx: Any, enable_graph: bool, sync_dist: bool, add_dataloader_idx: bool,
              batch_size: int | None) -> None:
    """What ``LightningModule.log`` calls: check ``value``, then record it in the stage's ``MetricStore``."""
    state = trainer.state
    store = state.metrics
    if store is None:
        raise MisconfigurationException(
            f"self.log({name!r}, ...) was called outside the loops (e.g. in __init__ or configure_optimizers): "
            "log from the *_step methods and the on_* hooks."
        )
    if trainer.barebones:
        raise MisconfigurationException("self.log() is off with Trainer(barebones=True): remove the call or barebones=True.")
    if state.dataloader_idx is not None and add_dataloader_idx and len(state.eval_loaders) > 1:
        name = f"{name}/dataloader_idx_{state.dataloader_idx}"
    metric_object = None
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise MisconfigurationException(
                f"self.log({name!r}, value) takes a scalar; got a tensor of shape {tuple(value.shape)}. "
                "Reduce it (e.g. value.mean()) or log its elements with self.log_dict."
            )
        if not enable_graph:
            value = value.detach()
        if value.ndim:
            value = value.squeeze()
    elif isinstance(value, (int, float, numbers.Real)):
        value = torch.tensor(float(value))  # numpy scalars too (the ABC, slower, is tried last)
    elif is_metric_object(value):
        # Checked only for what is neither a tensor nor a number: logging plain values costs nothing more.
        # Its epoch value is its compute() (no reduce_fx, no sync_dist: the metric reduces and syncs itself).
        metric_object, value, reduce_fx, sync_dist = value, None, "mean", False
    else:
        raise MisconfigurationException(
            f"self.log({name!r}, value) takes a number or a scalar tensor; got {type(value).__name__}. "
            "(A torchmetrics Metric object can be logged too.)"
        )
    store.log(
        name, value, prog_bar, logger,
        state.log_on_step if on_step is None else on_step,
        (not state.log_on_step) if on_epoch is None else on_epoch,
        reduce_fx, sync_dist,
        batch_size if batch_size is not None else functools.partial(_current_batch_size, state),
        metric_object,
    )


def _current_batch_size(state: LoopState) -> int:
    """The current batch's size, read from the batch once (only when a logged value needs it)."""
    if state.batch_size is None:
        state.batch_size = extract_batch_size(state.batch)
    return state.batch_size


class MetricLogging:
    """Logging calls of the Trainer (a base class of ``Trainer``)."""

    # Set by Trainer.__init__; declared here for readers of this module.
    state: TrainerState
    plugin_manager: PluginManager

    def send_to_loggers(self, metrics: dict[str, torch.Tensor], step: int) -> None:
        """Record ``metrics`` in ``logged_metrics`` and, on rank zero, send them to the loggers at ``step``."""
        if not metrics:
            return
        self.state.logged_metrics.update(metrics)
        if self.is_global_zero and self.state.log_metrics is not None:
            values = to_float(metrics)
            values["epoch"] = self.current_epoch
            self.state.log_metrics(trainer=self, metrics=values, step=step)
