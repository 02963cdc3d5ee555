"""lit-cuda: NVIDIA GPUs for lit.

``from lit_cuda import CUDAAccelerator``. Installed, it provides the ``cuda`` accelerator
(alias ``gpu``, entry points in ``lit.accelerators``), which ``accelerator="auto"`` prefers to
the CPU whenever PyTorch sees a GPU.
"""

from .accelerator import CUDAAccelerator

__version__ = "0.1.0"

__all__ = ["CUDAAccelerator", "__version__"]
