"""Base classes for accelerator, strategy and precision plugins.

A plugin is any object with ``@lit.hookimpl`` methods. These bases add what the ``Trainer``
needs to *choose* one: a name, whether it can run on this machine, and (for accelerators) how
many devices there are. Third-party plugins subclass them and register the class under the
matching entry-point group (see ``docs/plugins.rst``).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, ClassVar

import torch

if TYPE_CHECKING:
    from .trainer import Trainer


class _Plugin:
    #: The user-facing name; the entry-point name is used when this is empty.
    name: ClassVar[str] = ""

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this plugin cannot run on this machine, or ``None`` when it can.

        Must be cheap: ``lit plugins`` and ``accelerator="auto"`` call it.
        """
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class Accelerator(_Plugin):
    """A kind of device: where modules and batches live (``lit.accelerators``)."""

    #: ``accelerator="auto"`` picks the available accelerator with the highest priority.
    priority: ClassVar[int] = 0

    #: The strategy ``strategy="auto"`` picks for several devices (or nodes).
    multi_device_strategy: ClassVar[str] = "ddp"

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
        from .exceptions import MisconfigurationException

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


class Strategy(_Plugin):
    """How work is spread over processes and devices (``lit.strategies``).

    The collective methods are the public face of the ``lit_reduce`` / ``lit_all_gather`` /
    ``lit_barrier`` / ``lit_broadcast`` hooks, so user code can call
    ``trainer.strategy.reduce(x)`` whichever strategy is installed.
    """

    #: Whether this strategy runs several processes (the kernel then needs no other launcher).
    multi_process: ClassVar[bool] = False

    trainer: Trainer | None = None

    def reduce(self, tensor: torch.Tensor, reduce_op: str = "mean") -> torch.Tensor:
        """Reduce ``tensor`` over all processes with ``"mean"``, ``"sum"``, ``"max"`` or ``"min"``."""
        return self._hook.lit_reduce(trainer=self.trainer, tensor=tensor, op=reduce_op)

    def all_gather(self, tensor: torch.Tensor, sync_grads: bool = False) -> torch.Tensor:
        """Gather ``tensor`` from every process, stacked along a new first dimension."""
        return self._hook.lit_all_gather(trainer=self.trainer, tensor=tensor, sync_grads=sync_grads)

    def barrier(self, name: str | None = None) -> None:
        """Wait for every process."""
        self._hook.lit_barrier(trainer=self.trainer, name=name)

    def broadcast(self, obj: Any, src: int = 0) -> Any:
        """Return process ``src``'s ``obj`` on every process."""
        return self._hook.lit_broadcast(trainer=self.trainer, obj=obj, src=src)

    @property
    def _hook(self) -> Any:
        if self.trainer is None:
            raise RuntimeError(f"{self!r} is not attached to a Trainer yet.")
        return self.trainer.plugin_manager.hook


class SingleDeviceStrategy(Strategy):
    """One process, one device: the kernel's defaults for every collective."""

    name = "single_device"


class Precision(_Plugin):
    """The numeric format of training (``lit.precision``)."""

    def state_dict(self) -> dict[str, Any]:
        """State to save in checkpoints (a loss scaler's scale, for instance), under ``"precision"``."""
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned, when training resumes from a checkpoint."""

    def tensor_init_context(self) -> contextlib.AbstractContextManager:
        """The context ``Trainer.init_module()`` and ``configure_model`` run in (a default dtype, for instance)."""
        return contextlib.nullcontext()
