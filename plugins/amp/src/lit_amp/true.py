"""``16-true`` and ``bf16-true``: the module, the input floats and new tensors in one 16-bit dtype.

lit-core's ``TruePrecision`` (the base of its ``64-true``) is the whole recipe; these set the
dtype.
"""

from __future__ import annotations

import torch

from lit_core.builtins.precision import TruePrecision


class FP16TruePrecision(TruePrecision):
    """float16 everywhere (``precision="16-true"``): half the memory, no loss scaling."""

    name = "16-true"
    dtype = torch.float16


class BF16TruePrecision(TruePrecision):
    """bfloat16 everywhere (``precision="bf16-true"``): float32's range at 16 bits."""

    name = "bf16-true"
    dtype = torch.bfloat16
