"""``StrategyConformance``: what every lit strategy must do when it launches one process.

Checks: the class is a ``Strategy`` selectable by name; launched for one process it trains a
tiny model to the weights lit-core's ``single_device`` strategy reaches; its collectives
(``reduce`` with each operation, ``all_gather``, ``broadcast``, ``barrier``) called during a fit
answer what the single-process reference answers; and after ``fit`` the module is the user's
again and a second fit in the same process works (teardown left nothing behind that breaks it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch
import torch.distributed as dist

from ..callback import Callback
from ..strategies import SingleDeviceStrategy, Strategy
from .models import TinyModel, quiet_trainer
from .suite import Conformance, same_state, skip_unless_available

REDUCE_OPS = ("mean", "sum", "max", "min")


class _Collectives(Callback):
    """Calls every collective of the Trainer's strategy at the end of training and keeps the answers."""

    def __init__(self) -> None:
        self.answers: dict[str, Any] = {}

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self.answers = collective_answers(trainer.strategy, pl_module.device)


def collective_answers(strategy: Strategy, device: torch.device) -> dict[str, Any]:
    """What ``strategy``'s collectives answer for fixed inputs on ``device`` (tensors brought to the CPU)."""
    tensor = torch.tensor([1.0, -2.0, 3.5], device=device)
    answers: dict[str, Any] = {f"reduce/{op}": strategy.reduce(tensor.clone(), reduce_op=op).cpu() for op in REDUCE_OPS}
    answers["all_gather"] = strategy.all_gather(tensor.clone()).cpu()
    answers["broadcast"] = strategy.broadcast({"step": 3, "path": "a.ckpt"})
    answers["barrier"] = strategy.barrier("lit_core.testing")
    return answers


class StrategyConformance(Conformance):
    """The strategy conformance suite. Set ``plugin`` and ``name``; ``accelerator`` (``"cpu"``) is where it trains.

    ``make()`` (default ``plugin()``) builds the instance under test. A strategy that needs a
    device this machine lacks is skipped by the checks that train (``accelerator``'s
    ``unavailable_reason()``).
    """

    kind = "strategy"
    accelerator: ClassVar[str] = "cpu"

    def make(self) -> Strategy:
        """The strategy under test (default: ``plugin()``)."""
        return type(self).plugin()

    @pytest.fixture(autouse=True)
    def no_process_group_left(self) -> Iterator[None]:
        """Destroy a process group the test's fits created (as Lightning's, they keep it for the next stage)."""
        existed = dist.is_available() and dist.is_initialized()
        yield
        if dist.is_available() and dist.is_initialized() and not existed:
            dist.destroy_process_group()

    def fit(self, tmp_path: Path, strategy: Any, **flags: Any) -> tuple[TinyModel, Any]:
        """Train ``TinyModel`` one epoch on one device of ``accelerator`` with ``strategy``."""
        skip_unless_available("accelerator", self.accelerator)
        model = TinyModel()
        trainer = quiet_trainer(tmp_path, accelerator=self.accelerator, devices=1, strategy=strategy, **flags)
        trainer.fit(model)
        return model, trainer

    def test_is_a_strategy_selected_by_name(self, tmp_path: Path) -> None:
        """A ``lit_core.plugin_api.Strategy`` subclass; ``Trainer(strategy=name)`` builds one."""
        assert issubclass(type(self).plugin, Strategy), f"{type(self).plugin!r} must subclass lit_core.plugin_api.Strategy"
        _, trainer = self.fit(tmp_path, self.name)
        assert type(trainer.strategy) is type(self).plugin, f"strategy={self.name!r} gave {trainer.strategy!r}"

    def test_launch_trains_like_single_device(self, tmp_path: Path) -> None:
        """One process: the weights after ``fit`` are those ``single_device`` reaches."""
        model, _ = self.fit(tmp_path / "under-test", self.make())
        reference, _ = self.fit(tmp_path / "reference", SingleDeviceStrategy())
        assert [s for s, _ in model.losses] == [0, 1, 2, 3], f"trained steps {model.losses}"
        for name, value in reference.state_dict().items():
            torch.testing.assert_close(model.state_dict()[name].cpu(), value.cpu(), msg=f"{name} differs from single_device's")

    def test_collectives_match_the_single_process_reference(self, tmp_path: Path) -> None:
        """During a fit, ``reduce`` (each op), ``all_gather``, ``broadcast`` and ``barrier`` answer as one process does."""
        probe = _Collectives()
        model, _ = self.fit(tmp_path, self.make(), callbacks=[probe])
        reference = collective_answers(SingleDeviceStrategy(), torch.device("cpu"))
        assert probe.answers, "on_train_end did not run"
        wrong = {key: (probe.answers[key], expected) for key, expected in reference.items()
                 if not same_state(probe.answers[key], expected)}
        assert not wrong, f"answers (got, single-process reference): {wrong}"

    def test_teardown(self, tmp_path: Path) -> None:
        """After ``fit`` the module is the user's (unwrapped) and a second fit in this process trains again."""
        model, trainer = self.fit(tmp_path / "first", self.make())
        assert trainer.lightning_module is model and trainer.model is model, f"after fit, trainer.model is {type(trainer.model)}"
        again, _ = self.fit(tmp_path / "second", self.make())
        assert [s for s, _ in again.losses] == [0, 1, 2, 3], "a second fit in the same process did not train"
