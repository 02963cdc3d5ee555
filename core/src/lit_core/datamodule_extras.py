"""``LightningDataModule.from_datasets`` loaders and the data module's ``str()`` summary."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset

from .utilities.combined_loader import CombinedLoader, _flatten


def _map_datasets(datasets: Any, fn: Callable[[Dataset], Any]) -> Any:
    if isinstance(datasets, Dataset):
        return fn(datasets)
    if isinstance(datasets, Mapping):
        return {k: _map_datasets(v, fn) for k, v in datasets.items()}
    if isinstance(datasets, (list, tuple)):
        return type(datasets)(_map_datasets(v, fn) for v in datasets)
    return datasets


def dataloader_method(datasets: Any, batch_size: int, num_workers: int, shuffle: bool) -> Callable[[], Any]:
    """A ``*_dataloader()`` for ``from_datasets``: a new ``DataLoader`` per dataset, each call."""

    def make(dataset: Dataset) -> DataLoader:
        # Pinned memory as in Lightning, where there is a CUDA device to copy to (torch warns without one).
        return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle and not isinstance(dataset, IterableDataset),
                          num_workers=num_workers, pin_memory=torch.cuda.is_available())

    def dataloader() -> Any:
        return _map_datasets(datasets, make)

    return dataloader


_METHODS = (("Train dataloader", "train_dataloader"), ("Validation dataloader", "val_dataloader"),
            ("Test dataloader", "test_dataloader"), ("Predict dataloader", "predict_dataloader"))


def _size(loader: Any) -> str:
    dataset = getattr(loader, "dataset", None)
    try:
        return str(len(dataset))  # type: ignore[arg-type]
    except (TypeError, NotImplementedError):
        return "NA"


def _loaders(value: Any) -> list[Any] | None:
    """The loaders in what a ``*_dataloader()`` returned: ``None`` for a single one."""
    if isinstance(value, CombinedLoader):
        return value.flattened
    if isinstance(value, (Mapping, list, tuple)):
        return _flatten(value)[0]
    return None


def describe(datamodule: Any) -> str:
    """One ``{<name>: ...}`` line per dataloader method: ``None`` when it is missing or fails,
    else its dataset's size (``NA`` without a length), numbered for a collection of loaders.

    Calls each method: it describes the data module as ``setup`` left it.
    """
    lines = []
    for label, method in _METHODS:
        try:
            value = getattr(datamodule, method)()
        except Exception:
            lines.append(f"{{{label}: None}}")
            continue
        several = _loaders(value)
        if several is None:
            text = f"size={_size(value)}"
        else:
            text = " ; ".join(f"{i}. size={_size(loader)}" for i, loader in enumerate(several, start=1))
        lines.append(f"{{{label}: {text}}}")
    return os.linesep.join(lines)
