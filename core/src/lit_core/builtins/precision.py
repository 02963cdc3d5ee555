"""``32-true`` and ``64-true`` precision. Mixed and 16-bit precision live in lit-amp.

``TruePrecision`` is the whole recipe of a "one dtype everywhere" precision; lit-amp's
``16-true`` and ``bf16-true`` are subclasses that set another ``dtype``.
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

import torch

from ..apply import apply_to_collection
from ..markers import hookimpl
from ..plugins.precision.precision import Precision


class FullPrecision(Precision):
    """Plain float32: the kernel's defaults do everything, so this plugin has no hooks."""

    name = "32-true"


class TruePrecision(Precision):
    """Everything in ``dtype``: the module, the floats of every batch, tensors created in the steps.

    Subclasses set ``name`` and ``dtype``. The module is converted before it is moved
    (``module.to(dtype=...)`` converts floating-point parameters and buffers only), floating
    tensors in each batch after they are moved, and every ``*_step`` runs with ``dtype`` as
    torch's default dtype.
    """

    #: The floating-point dtype of the module, the inputs and new tensors.
    dtype: ClassVar[torch.dtype]

    @hookimpl(wrapper=True)
    def lit_setup_module(self, module: torch.nn.Module) -> Any:
        module.to(dtype=self.dtype)
        return (yield)

    @hookimpl(wrapper=True)
    def lit_batch_to_device(self) -> Any:
        batch = yield
        return apply_to_collection(batch, torch.Tensor, self.convert_input)

    @hookimpl
    def lit_autocast(self) -> contextlib.AbstractContextManager:
        return _default_dtype(self.dtype)

    def tensor_init_context(self) -> contextlib.AbstractContextManager:
        """Parameters created inside get ``dtype`` (torch's default dtype)."""
        return _default_dtype(self.dtype)

    def convert_input(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` in ``dtype`` when it holds floating-point numbers, else unchanged."""
        return tensor.to(self.dtype) if tensor.is_floating_point() else tensor


class DoublePrecision(TruePrecision):
    """float64: the module, input floats, and tensors created in the step are double."""

    name = "64-true"
    dtype = torch.float64


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
