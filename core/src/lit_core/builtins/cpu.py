"""The ``cpu`` accelerator."""

from __future__ import annotations

import os

import torch

from ..accelerators.accelerator import Accelerator
from ..exceptions import MisconfigurationTypeError


class CPUAccelerator(Accelerator):
    """Train on the CPU. ``devices=N`` means N processes (with a multi-process strategy)."""

    name = "cpu"
    priority = 0

    @classmethod
    def device_count(cls) -> int:
        return os.cpu_count() or 1

    def parse_devices(self, devices: object) -> list[int]:
        # "auto" on CPU is one process: more would only compete for the same cores.
        if devices in ("auto", None):
            return [0]
        number = int(devices) if isinstance(devices, str) and devices.strip().lstrip("-").isdigit() else devices
        if number == -1:
            # "Every device" on the CPU would be os.cpu_count() processes, each re-running the script:
            # Lightning's _parse_cpu_cores refuses it with TypeError, and so does lit.
            raise MisconfigurationTypeError(
                f"devices={devices!r} means every device, which on the CPU would start os.cpu_count() = "
                f"{self.device_count()} training processes. Give the number of processes: devices=1 (or 'auto') "
                "for one, devices=N for N processes (with a multi-process strategy such as 'ddp')."
            )
        if isinstance(number, str) or (isinstance(number, int) and number < -1):
            # Lightning's _parse_cpu_cores raises TypeError here (devices=0 stays a MisconfigurationException).
            raise MisconfigurationTypeError(
                f"devices={devices!r} with the CPU accelerator: give the number of processes (an int > 0) or 'auto'."
            )
        return super().parse_devices(number)

    def limits_devices(self) -> bool:
        return False

    def get_device(self, index: int) -> torch.device:
        return torch.device("cpu")
