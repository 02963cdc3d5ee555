"""``AcceleratorConformance``: what every lit accelerator must do, checked on this machine.

Checks: the class is an ``Accelerator``; whether it can run here is told consistently
(``unavailable_reason()`` and ``device_count()``), and selecting it by name where it cannot run
is a ``MisconfigurationException`` carrying the reason; ``parse_devices`` accepts Lightning's
spellings and refuses impossible ones; ``get_device`` gives a device a tiny model trains on;
``accelerator="auto"`` picks it exactly when it can run and outranks the CPU. Checks that need
the device are skipped where it is unavailable (a GPU accelerator on a CPU-only machine).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ..accelerators import Accelerator
from ..builtins.cpu import CPUAccelerator
from ..exceptions import MisconfigurationException
from .models import TinyModel, quiet_trainer
from .suite import Conformance


class AcceleratorConformance(Conformance):
    """The accelerator conformance suite. Set ``plugin`` (and ``name``); override ``make`` if it needs arguments."""

    kind = "accelerator"

    def make(self) -> Accelerator:
        """The accelerator under test (default: ``plugin()``)."""
        return type(self).plugin()

    @property
    def reason(self) -> str | None:
        """Why the plugin cannot run here (``None``: it can)."""
        return type(self).plugin.unavailable_reason()

    def require_device(self) -> None:
        """Skip the calling check where the accelerator cannot run."""
        if self.reason is not None:
            pytest.skip(f"{type(self).plugin.__qualname__} cannot run here: {self.reason}")

    def test_is_an_accelerator(self) -> None:
        """A ``lit_core.plugin_api.Accelerator`` subclass whose instance has a name."""
        assert issubclass(type(self).plugin, Accelerator), f"{type(self).plugin!r} must subclass lit_core.plugin_api.Accelerator"

    def test_availability_is_consistent(self, tmp_path: Path) -> None:
        """Available with at least one device; unavailable: selecting it by name is an error with the reason."""
        if self.reason is None:
            assert type(self).plugin.device_count() >= 1, "available, yet device_count() is 0"
            return
        with pytest.raises(MisconfigurationException) as raised:
            quiet_trainer(tmp_path, accelerator=self.name)
        assert self.reason in str(raised.value), f"the error does not carry unavailable_reason(): {raised.value}"

    def test_parse_devices(self) -> None:
        """``1``, ``[0]``, ``"0,"`` and ``"auto"`` give valid indices; ``0`` and more than ``device_count()`` are refused."""
        self.require_device()
        accelerator = self.make()
        count = type(self).plugin.device_count()
        assert accelerator.parse_devices(1) == [0]
        assert accelerator.parse_devices([0]) == [0]
        assert accelerator.parse_devices("1") == [0]
        auto = accelerator.parse_devices("auto")
        assert auto and all(isinstance(i, int) and i >= 0 for i in auto), f"parse_devices('auto') gave {auto!r}"
        with pytest.raises(MisconfigurationException):
            accelerator.parse_devices(0)
        if accelerator.limits_devices():
            assert all(i < count for i in auto), f"parse_devices('auto') gave {auto!r} with {count} devices"
            with pytest.raises(MisconfigurationException, match=str(count)):
                accelerator.parse_devices(count + 1)

    def test_get_device_trains_a_model(self, tmp_path: Path) -> None:
        """``get_device(0)`` is a ``torch.device``; ``Trainer(accelerator=name, devices=1)`` trains the model there."""
        self.require_device()
        device = self.make().get_device(0)
        assert isinstance(device, torch.device), f"get_device(0) returned {device!r}, not a torch.device"
        model = TinyModel()
        before = model.layer.weight.detach().clone()
        trainer = quiet_trainer(tmp_path, accelerator=self.name, devices=1)
        assert type(trainer.accelerator) is type(self).plugin
        trainer.fit(model)
        assert {d.type for d in model.devices} == {device.type}, f"batches were on {model.devices}, not {device}"
        assert len(model.losses) == 4 and all(torch.isfinite(torch.tensor(loss)) for _, loss in model.losses)
        assert not torch.equal(before, model.layer.weight.detach().cpu()), "the weights did not move"

    def test_auto_selection(self, tmp_path: Path) -> None:
        """``accelerator="auto"`` (with only lit-core's cpu besides) picks this one exactly when it can run and outranks the CPU."""
        plugin = type(self).plugin
        picked = type(quiet_trainer(tmp_path, **{"accelerator": "auto"}).accelerator)
        expected = plugin if self.reason is None and plugin.priority > CPUAccelerator.priority else CPUAccelerator
        assert picked is expected, f"accelerator='auto' picked {picked.__qualname__}, expected {expected.__qualname__}"
