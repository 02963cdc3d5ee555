"""The ``cuda`` accelerator: one process per GPU, each on the GPU of its local rank."""

from __future__ import annotations

import os

import torch

from lit_core.plugin_api import Accelerator, MisconfigurationException


class CUDAAccelerator(Accelerator):
    """Train on NVIDIA GPUs (``accelerator="cuda"`` or ``"gpu"``).

    ``devices=`` takes ``n`` (the first ``n`` GPUs), a list of indices or ``"0,2"``, ``-1`` or
    ``"auto"`` (every visible GPU). Indices count the GPUs PyTorch sees, so they follow
    ``CUDA_VISIBLE_DEVICES``. Several devices need a multi-process strategy (lit-ddp): each
    process uses ``devices[local_rank]``.

    The kernel's default hooks move the module to the device and each batch with
    ``non_blocking=True``, which overlaps the copy with compute when the loader pins its memory
    (``pin_memory`` below). ``Trainer(benchmark=True)`` sets ``torch.backends.cudnn.benchmark``
    for the duration of a stage.
    """

    name = "cuda"
    #: Preferred to the CPU (0) by ``accelerator="auto"``.
    priority = 10
    #: Pinned host memory makes the copies of ``non_blocking`` batch moves asynchronous.
    pin_memory = True

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if torch.cuda.is_available():
            return None
        if torch.version.cuda is None and torch.version.hip is None:
            return (
                f"this PyTorch ({torch.__version__}) is a CPU-only build. Install a CUDA build of torch "
                "(https://pytorch.org/get-started/locally/), or train on the CPU with accelerator='cpu' "
                "(accelerator='auto' picks what this machine has)."
            )
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        where = f" with CUDA_VISIBLE_DEVICES={visible!r}" if visible is not None else ""
        return (
            f"PyTorch {torch.__version__} (CUDA {torch.version.cuda or torch.version.hip}) sees no GPU{where}: "
            "check the driver with `nvidia-smi` and CUDA_VISIBLE_DEVICES, or train on the CPU with "
            "accelerator='cpu' (accelerator='auto' picks what this machine has)."
        )

    @classmethod
    def device_count(cls) -> int:
        return torch.cuda.device_count()

    def get_device(self, index: int) -> torch.device:
        return torch.device("cuda", index)

    def setup_device(self, device: torch.device) -> None:
        """Make ``device`` the current CUDA device: kernels, caches and NCCL use it by default."""
        if device.type != "cuda":
            raise MisconfigurationException(f"The cuda accelerator was given the device {device}: expected a cuda device.")
        torch.cuda.set_device(device)

    def get_device_stats(self, device: torch.device) -> dict[str, float]:
        """Memory of ``device`` in bytes, for callbacks to log.

        ``memory_allocated`` / ``memory_reserved``: held by tensors / by PyTorch's caching
        allocator now; ``max_*``: their peaks since the start (or the last
        ``torch.cuda.reset_peak_memory_stats``); ``memory_free`` / ``memory_total``: the
        driver's view of the whole GPU, other processes included.
        """
        free, total = torch.cuda.mem_get_info(device)
        return {
            "memory_allocated": torch.cuda.memory_allocated(device),
            "memory_reserved": torch.cuda.memory_reserved(device),
            "max_memory_allocated": torch.cuda.max_memory_allocated(device),
            "max_memory_reserved": torch.cuda.max_memory_reserved(device),
            "memory_free": free,
            "memory_total": total,
        }
