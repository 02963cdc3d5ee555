"""CUDAAccelerator passes lit_core.testing's accelerator suite (the checks that need a GPU skip without one)."""

from __future__ import annotations

from lit_core.testing import AcceleratorConformance
from lit_cuda import CUDAAccelerator


class TestCUDAAccelerator(AcceleratorConformance):
    plugin = CUDAAccelerator
    name = "cuda"
    keep_installed = ("lit-cuda",)
