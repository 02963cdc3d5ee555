"""lit-amp's precision plugins pass lit_core.testing's precision suite (on the CPU; 16-mixed on CUDA too where there is a GPU)."""

from __future__ import annotations

import torch

from lit_amp import BF16MixedPrecision, BF16TruePrecision, FP16MixedPrecision
from lit_core.testing import PrecisionConformance


class TestBF16Mixed(PrecisionConformance):
    plugin = BF16MixedPrecision
    name = "bf16-mixed"
    keep_installed = ("lit-amp",)
    compute_dtype = torch.bfloat16


class TestBF16True(PrecisionConformance):
    plugin = BF16TruePrecision
    name = "bf16-true"
    keep_installed = ("lit-amp",)
    param_dtype = compute_dtype = torch.bfloat16


class TestFP16MixedWithACPUScaler(PrecisionConformance):
    """``16-mixed`` with a ``GradScaler`` for the CPU: the scaler's state goes through checkpoints."""

    plugin = FP16MixedPrecision
    name = "16-mixed"
    keep_installed = ("lit-amp",)
    compute_dtype = torch.float16
    by_name = False  # by name, 16-mixed needs a CUDA GPU

    def make(self):
        return FP16MixedPrecision(device="cpu")


class TestFP16MixedOnCUDA(PrecisionConformance):
    plugin = FP16MixedPrecision
    name = "16-mixed"
    keep_installed = ("lit-amp", "lit-cuda")
    compute_dtype = torch.float16
    accelerator = "cuda"
