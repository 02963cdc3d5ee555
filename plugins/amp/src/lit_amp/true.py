"""``16-true`` and ``bf16-true``: the module, the input floats and new tensors in one 16-bit dtype.

lit-core's ``TruePrecision`` (the base of its ``64-true``) is the whole recipe; these set the
dtype. ``HalfPrecision`` is Lightning's name for both.
"""

from __future__ import annotations

import torch

from lit_core.plugin_api import TruePrecision

from .lightning_classes import class_for


class HalfPrecision(TruePrecision):
    """Lightning's ``HalfPrecision(precision="16-true" | "bf16-true")``.

    ``Trainer(plugins=[HalfPrecision("bf16-true")])`` is the same plugin as
    ``precision="bf16-true"``: ``HalfPrecision(...)`` builds an ``FP16TruePrecision`` or a
    ``BF16TruePrecision`` (both are ``HalfPrecision``s).
    """

    def __new__(cls, precision: str = "16-true") -> HalfPrecision:
        kinds = {"16-true": FP16TruePrecision, "bf16-true": BF16TruePrecision}
        return super().__new__(class_for(cls, HalfPrecision, kinds, precision))

    def __init__(self, precision: str | None = None) -> None:
        if precision is not None and precision != self.name:
            raise ValueError(f"{type(self).__name__}(precision={precision!r}): this class is precision={self.name!r}.")


class FP16TruePrecision(HalfPrecision):
    """float16 everywhere (``precision="16-true"``): half the memory, no loss scaling."""

    name = "16-true"
    dtype = torch.float16


class BF16TruePrecision(HalfPrecision):
    """bfloat16 everywhere (``precision="bf16-true"``): float32's range at 16 bits."""

    name = "bf16-true"
    dtype = torch.bfloat16
