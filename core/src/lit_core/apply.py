"""Walking batches: apply a function to every tensor in a nested collection."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch


def apply_to_collection(data: Any, dtype: type | tuple[type, ...], function: Callable[[Any], Any]) -> Any:
    """Return ``data`` with ``function`` applied to every element of type ``dtype``.

    Recurses into mappings, sequences (lists, tuples, named tuples) and dataclasses; other
    values are returned as they are.
    """
    if isinstance(data, dtype):
        return function(data)
    cls = type(data)
    # Plain lists, tuples and dicts first: a batch is nearly always one of them, and the ABC
    # checks below cost microseconds per call.
    if cls is list or cls is tuple:
        return cls([apply_to_collection(v, dtype, function) for v in data])
    if cls is dict:
        return {k: apply_to_collection(v, dtype, function) for k, v in data.items()}
    if isinstance(data, defaultdict):
        return defaultdict(data.default_factory, {k: apply_to_collection(v, dtype, function) for k, v in data.items()})
    if isinstance(data, Mapping):
        return cls({k: apply_to_collection(v, dtype, function) for k, v in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return cls(*(apply_to_collection(v, dtype, function) for v in data))
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        return cls([apply_to_collection(v, dtype, function) for v in data])
    if dataclasses.is_dataclass(data) and not isinstance(data, type):
        changes = {f.name: apply_to_collection(getattr(data, f.name), dtype, function) for f in dataclasses.fields(data) if f.init}
        return dataclasses.replace(data, **changes)
    return data


def move_data_to_device(batch: Any, device: torch.device | str) -> Any:
    """Move every tensor in ``batch`` (nested in lists, tuples, dicts, dataclasses) to ``device``."""
    if not isinstance(device, torch.device):
        device = torch.device(device)
    if type(batch) in (tuple, list) and (_all_cpu(batch) if device.type == "cpu" else _all_on(batch, device)):
        return batch  # the common (x, y) batch already in place: nothing to rebuild
    if device.type in ("cpu", "mps"):
        def move(t: torch.Tensor) -> torch.Tensor:
            return t.to(device)
    else:
        def move(t: torch.Tensor) -> torch.Tensor:
            # Asynchronous copies from pinned memory overlap with compute.
            return t.to(device, non_blocking=True)

    return apply_to_collection(batch, torch.Tensor, move)


_CPU = torch.device("cpu")


def move_data_to_cpu(batch: Any) -> Any:
    """``move_data_to_device(batch, "cpu")``, returning a tuple or list of CPU tensors at once (the per-batch path)."""
    if type(batch) is tuple or type(batch) is list:
        for item in batch:
            if type(item) is not torch.Tensor or not item.is_cpu:
                break
        else:
            return batch
    return move_data_to_device(batch, _CPU)


def _all_cpu(items: tuple | list) -> bool:
    # is_cpu is a flag read; comparing devices builds a torch.device per tensor.
    for item in items:  # noqa: SIM110
        if not isinstance(item, torch.Tensor) or not item.is_cpu:
            return False
    return True


def _all_on(items: tuple | list, device: torch.device) -> bool:
    # A plain loop: all() over a generator costs a frame per item, on every batch.
    for item in items:  # noqa: SIM110
        if not isinstance(item, torch.Tensor) or item.device != device:
            return False
    return True


def extract_batch_size(batch: Any) -> int:
    """The size of the first dimension of the first tensor found in ``batch`` (1 if none)."""
    size = _first_tensor_size(batch)
    return 1 if size is None else size


def _first_tensor_size(batch: Any) -> int | None:
    if isinstance(batch, torch.Tensor):
        return batch.size(0) if batch.ndim else 1
    if isinstance(batch, Mapping):
        batch = list(batch.values())
    if isinstance(batch, Sequence) and not isinstance(batch, (str, bytes)):
        for item in batch:
            size = _first_tensor_size(item)
            if size is not None:
                return size
    return None
