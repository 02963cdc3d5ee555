"""``Accelerator``: the base class of accelerator plugins (entry-point group ``lit.accelerators``)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from ..exceptions import MisconfigurationException
from ..plugin_base import _Plugin


class Accelerator(_Plugin):
    """A kind of device: where modules and batches live (``lit.accelerators``)."""

    #: ``accelerator="auto"`` picks the available accelerator with the highest priority.
    priority: ClassVar[int] = 0

    #: The strategy ``strategy="auto"`` picks for several devices (or nodes). ``None``: the one an
    #: installed distribution declares for the ``multi_device_strategy`` role (``lit_core.roles``).
    multi_device_strategy: ClassVar[str | None] = None

    #: Whether ``DataLoader(pin_memory=True)`` speeds up copies to this device. Dataloaders can
    #: follow it: ``DataLoader(ds, pin_memory=self.trainer.accelerator.pin_memory)``.
    pin_memory: ClassVar[bool] = False

    @classmethod
    def device_count(cls) -> int:
        """How many devices of this kind this machine has."""
        return 1

    def parse_devices(self, devices: Any) -> list[int]:
        """Turn ``Trainer(devices=...)`` into device indices.

        Accepts ``"auto"`` / ``-1`` (all), an int ``n`` (the first ``n``), a list of indices,
        or a comma-separated string. Raises ``MisconfigurationException`` when more devices are
        asked for than exist.
        """
        count = self.device_count()
        if devices in ("auto", -1, "-1", None):
            return list(range(count))
        if isinstance(devices, str):
            devices = [int(d) for d in devices.split(",") if d.strip()] if "," in devices else int(devices)
        if isinstance(devices, int):
            if devices < 1:
                raise MisconfigurationException(
                    f"devices={devices} is not valid: use a positive number, a list of indices, -1 or 'auto'."
                )
            ids = list(range(devices))
        else:
            ids = [int(d) for d in devices]
        if self.limits_devices() and max(ids) >= count:
            if ids == list(range(len(ids))):
                asked, fix = f"{len(ids)} {self.name} device(s)", f"ask for at most {count}"
            else:
                asked, fix = f"{self.name} device index {max(ids)}", f"use indices below {count}"
            raise MisconfigurationException(
                f"devices={devices!r} asks for {asked} but this machine has {count}: {fix}, or devices='auto' for all of them."
            )
        return ids

    def limits_devices(self) -> bool:
        """Whether asking for more devices than ``device_count()`` is an error."""
        return True

    def get_device(self, index: int) -> torch.device:
        """The ``torch.device`` for device ``index``."""
        raise NotImplementedError

    def setup_device(self, device: torch.device) -> None:
        """Make ``device`` this process's device, before anything runs on it.

        The trainer calls it once per stage, after ``lit_setup_environment`` has set the ranks,
        with the device of ``trainer.local_rank``. Nothing to do by default.
        """

    def get_device_stats(self, device: torch.device) -> dict[str, float]:
        """Numbers about ``device`` for callbacks to log (memory in use, ...); empty by default."""
        return {}
