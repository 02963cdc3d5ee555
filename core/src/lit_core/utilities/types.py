"""Lightning's ``utilities.types``: the type aliases user code annotates its hooks with."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau
from torch.utils.data import DataLoader

STEP_OUTPUT = Tensor | Mapping[str, Any] | None
#: A DataLoader, or a list / dict of them (Lightning's alias is as broad).
TRAIN_DATALOADERS = Any
EVAL_DATALOADERS = DataLoader | Sequence[DataLoader]
LRSchedulerTypeUnion = LRScheduler | ReduceLROnPlateau
LRSchedulerPLType = LRSchedulerTypeUnion
OptimizerLRScheduler = (
    Optimizer | Sequence[Optimizer] | tuple[Sequence[Optimizer], Sequence[Any]] | Mapping[str, Any] | Iterable[Any] | None
)

__all__ = [
    "EVAL_DATALOADERS",
    "STEP_OUTPUT",
    "TRAIN_DATALOADERS",
    "LRSchedulerPLType",
    "LRSchedulerTypeUnion",
    "OptimizerLRScheduler",
]
