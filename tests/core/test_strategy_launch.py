"""Launching is a method of the one selected strategy: ``trainer.strategy.launch(function)``.

The deprecated ``lit_launch`` hook still works for plugin API 1.x: implementing it warns, and
the base ``Strategy.launch`` asks it first.
"""

from __future__ import annotations

import pytest
import torch

import lit_core as lit
from lit_core.strategies import SingleDeviceStrategy


class CountingStrategy(SingleDeviceStrategy):
    """Runs the stage here, and records what it launched and what came back."""

    def __init__(self) -> None:
        self.launched: list[tuple[str, object]] = []

    def launch(self, function):
        value = function()
        self.launched.append((self.trainer.state.fn.value, value))
        return value


class EnvironmentCount:
    def __init__(self) -> None:
        self.calls = 0

    @lit.hookimpl
    def lit_setup_environment(self) -> None:
        self.calls += 1


def test_every_stage_goes_through_the_strategys_launch_and_its_value_comes_back(make_trainer, boring_model, random_loader):
    strategy = CountingStrategy()
    trainer = make_trainer(strategy=strategy, max_steps=2)
    model = boring_model()
    assert trainer.fit(model, random_loader()) is None
    (results,) = trainer.validate(model, random_loader())
    predictions = trainer.predict(model, random_loader(n=8, batch_size=4))
    assert [fn for fn, _ in strategy.launched] == ["fit", "validate", "predict"]
    assert strategy.launched[0][1] is None, "fit's None is a result like any other: no wrapper around it"
    assert strategy.launched[1][1] == [results] and strategy.launched[2][1] is predictions
    assert len(predictions) == 2 and isinstance(predictions[0], torch.Tensor)
    assert trainer.global_step == 2
    assert not trainer.plugin_manager.hook.lit_launch.get_hookimpls(), "no plugin (the kernel included) implements the hook"


def test_a_deprecated_lit_launch_that_runs_fit_returns_none_and_the_stage_runs_once(make_trainer, boring_model, random_loader):
    launches, count = [], EnvironmentCount()

    class OldLauncher:
        @lit.hookimpl
        def lit_launch(self, function):
            launches.append(True)
            return function()  # fit's value: None

    with pytest.warns(DeprecationWarning, match=r"the lit_launch hook is deprecated.*override launch\(function\)"):
        trainer = make_trainer(plugins=[OldLauncher(), count], max_steps=3)
    trainer.fit(boring_model(), random_loader())
    assert launches == [True] and count.calls == 1 and trainer.global_step == 3


def test_a_deprecated_lit_launch_that_returns_none_without_running_leaves_it_to_the_strategy(make_trainer, boring_model,
                                                                                              random_loader):
    count = EnvironmentCount()

    class NotMine:
        @lit.hookimpl
        def lit_launch(self):
            return None  # the hook's old "no answer"

    with pytest.warns(DeprecationWarning, match="the lit_launch hook is deprecated"):
        trainer = make_trainer(plugins=[NotMine(), count])
    (results,) = trainer.validate(boring_model(), random_loader())
    assert count.calls == 1 and "val_loss" in results
