"""The ``cpu`` accelerator."""

from __future__ import annotations

import os

import torch

from ..accelerators.accelerator import Accelerator


class CPUAccelerator(Accelerator):
    """Train on the CPU. ``devices=N`` means N processes (with a multi-process strategy)."""

    name = "cpu"
    priority = 0

    @classmethod
    def device_count(cls) -> int:
        return os.cpu_count() or 1

    def parse_devices(self, devices: object) -> list[int]:
        # "auto" on CPU is one process: more would only compete for the same cores.
        return [0] if devices in ("auto", None) else super().parse_devices(devices)

    def limits_devices(self) -> bool:
        return False

    def get_device(self, index: int) -> torch.device:
        return torch.device("cpu")
