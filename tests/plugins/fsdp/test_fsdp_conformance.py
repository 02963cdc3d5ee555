"""FSDPStrategy passes lit_core.testing's strategy suite, launched for one process (gloo on the CPU)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.distributed.tensor import DTensor

from lit_core.strategies import SingleDeviceStrategy
from lit_core.testing import StrategyConformance
from lit_fsdp import FSDPStrategy


class TestFSDPStrategy(StrategyConformance):
    plugin = FSDPStrategy
    name = "fsdp"
    keep_installed = ("lit-fsdp", "lit-ddp")

    def test_launch_trains_like_single_device(self, tmp_path: Path) -> None:
        """As the suite's check, comparing whole tensors: after ``fit`` the parameters stay sharded
        (``DTensor``), as after Lightning's FSDP fit; ``full_tensor()`` is the whole parameter."""
        model, _ = self.fit(tmp_path / "under-test", self.make())
        reference, _ = self.fit(tmp_path / "reference", SingleDeviceStrategy())
        assert [s for s, _ in model.losses] == [0, 1, 2, 3], f"trained steps {model.losses}"
        trained = model.state_dict()
        assert all(isinstance(value, DTensor) for value in trained.values()), "the parameters were not sharded"
        for name, value in reference.state_dict().items():
            torch.testing.assert_close(trained[name].full_tensor().cpu(), value.cpu(), msg=f"{name} differs from single_device's")
