"""``32-true`` and ``64-true`` precision. Mixed and 16-bit precision live in lit-amp."""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from ..apply import apply_to_collection
from ..markers import hookimpl
from ..plugins import Precision


class FullPrecision(Precision):
    """Plain float32: the kernel's defaults do everything, so this plugin has no hooks."""

    name = "32-true"


class DoublePrecision(Precision):
    """float64: the module, input floats, and tensors created in the step are double."""

    name = "64-true"

    @hookimpl(wrapper=True)
    def lit_setup_module(self, module: torch.nn.Module) -> Any:
        module.double()
        return (yield)

    @hookimpl(wrapper=True)
    def lit_batch_to_device(self) -> Any:
        batch = yield
        return apply_to_collection(batch, torch.Tensor, _to_double)

    @hookimpl
    def lit_autocast(self) -> contextlib.AbstractContextManager:
        return _default_dtype(torch.float64)


def _to_double(t: torch.Tensor) -> torch.Tensor:
    return t.double() if t.is_floating_point() else t


class _default_dtype(contextlib.ContextDecorator):
    """Re-enterable: sets torch's default dtype inside, restores it on exit."""

    def __init__(self, dtype: torch.dtype) -> None:
        self.dtype = dtype
        self._saved: list[torch.dtype] = []

    def __enter__(self) -> None:
        self._saved.append(torch.get_default_dtype())
        torch.set_default_dtype(self.dtype)

    def __exit__(self, *exc: object) -> None:
        torch.set_default_dtype(self._saved.pop())


