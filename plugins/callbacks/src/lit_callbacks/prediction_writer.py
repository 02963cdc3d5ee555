"""``BasePredictionWriter``: write ``trainer.predict`` outputs per batch and/or per epoch."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from enum import Enum
from typing import Any, Literal

import lit_core as lit
from lit_core.plugin_api import MisconfigurationException


class WriteInterval(str, Enum):
    """When a prediction writer writes."""

    BATCH = "batch"
    EPOCH = "epoch"
    BATCH_AND_EPOCH = "batch_and_epoch"

    @property
    def on_batch(self) -> bool:
        return self in (WriteInterval.BATCH, WriteInterval.BATCH_AND_EPOCH)

    @property
    def on_epoch(self) -> bool:
        return self in (WriteInterval.EPOCH, WriteInterval.BATCH_AND_EPOCH)


class BasePredictionWriter(lit.Callback):
    """Lightning's base class for saving predictions: override ``write_on_batch_end`` and/or ``write_on_epoch_end``.

    Args:
        write_interval: ``"batch"`` (after each predict batch), ``"epoch"`` (once, with every
            batch's predictions) or ``"batch_and_epoch"``.

    With ``"epoch"``, the predict loop keeps every batch's output for the writer even with
    ``trainer.predict(..., return_predictions=False)``; ``batch_indices`` are the dataset
    indices of each batch's samples (for a ``DataLoader`` over a map-style dataset).

    >>> class Collect(BasePredictionWriter):
    ...     def write_on_epoch_end(self, trainer, pl_module, predictions, batch_indices):
    ...         self.written = predictions
    >>> Collect("epoch").interval.on_epoch
    True
    """

    def __init__(self, write_interval: Literal["batch", "epoch", "batch_and_epoch"] = "batch") -> None:
        if write_interval not in [i.value for i in WriteInterval]:
            raise MisconfigurationException(f"`write_interval` should be one of {[i.value for i in WriteInterval]}.")
        self.interval = WriteInterval(write_interval)

    def setup(self, trainer: lit.Trainer, pl_module: lit.LightningModule, stage: str) -> None:
        if "dataloader_iter" in inspect.signature(pl_module.predict_step).parameters:
            raise NotImplementedError("The `PredictionWriterCallback` does not support using `dataloader_iter`.")

    def write_on_batch_end(self, trainer: lit.Trainer, pl_module: lit.LightningModule, prediction: Any,
                           batch_indices: Sequence[int] | None, batch: Any, batch_idx: int, dataloader_idx: int) -> None:
        """Write one batch's ``prediction`` (override for ``write_interval="batch"``)."""
        raise NotImplementedError(f"{type(self).__name__} writes per batch: override write_on_batch_end().")

    def write_on_epoch_end(self, trainer: lit.Trainer, pl_module: lit.LightningModule, predictions: Sequence[Any],
                           batch_indices: Sequence[Any]) -> None:
        """Write every batch's predictions at once (override for ``write_interval="epoch"``)."""
        raise NotImplementedError(f"{type(self).__name__} writes per epoch: override write_on_epoch_end().")

    def on_predict_batch_end(self, trainer: lit.Trainer, pl_module: lit.LightningModule, outputs: Any, batch: Any,
                             batch_idx: int, dataloader_idx: int = 0) -> None:
        if not self.interval.on_batch:
            return
        batch_indices = trainer.predict_loop.current_batch_indices
        self.write_on_batch_end(trainer, pl_module, outputs, batch_indices, batch, batch_idx, dataloader_idx)

    def on_predict_epoch_end(self, trainer: lit.Trainer, pl_module: lit.LightningModule) -> None:
        if not self.interval.on_epoch:
            return
        loop = trainer.predict_loop
        self.write_on_epoch_end(trainer, pl_module, loop.predictions, loop.epoch_batch_indices)
