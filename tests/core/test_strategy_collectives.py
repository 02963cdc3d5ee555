"""The collectives are methods of the selected strategy (issue 15, one model per plugin kind):
the kernel calls ``trainer.strategy.*`` directly; the ``lit_reduce`` / ``lit_all_gather`` /
``lit_barrier`` / ``lit_broadcast`` hooks are deprecated but still asked by the base methods."""

from __future__ import annotations

import warnings
from types import SimpleNamespace
from typing import Any

import pytest
import torch

import lit_core as lit
from lit_core.plugin_api import Strategy

COLLECTIVE_HOOKS = ("lit_reduce", "lit_all_gather", "lit_barrier", "lit_broadcast")


class TwoProcessStrategy(Strategy):
    """Answers as if a second process held the same values; ``broadcast`` sends rank zero's ``None``."""

    name = "test_two_process"

    def __init__(self) -> None:
        self.calls: list[Any] = []

    def reduce(self, tensor: torch.Tensor, reduce_op: str = "mean") -> torch.Tensor:
        self.calls.append(("reduce", reduce_op))
        return tensor * 2 if reduce_op == "sum" else tensor

    def all_gather(self, tensor: torch.Tensor, sync_grads: bool = False) -> torch.Tensor:
        self.calls.append(("all_gather", sync_grads))
        return torch.stack([tensor, tensor])

    def barrier(self, name: str | None = None) -> None:
        self.calls.append(("barrier", name))

    def broadcast(self, obj: Any, src: int = 0) -> Any:
        self.calls.append(("broadcast", src))
        return None  # rank zero's object was None: a method may answer None


def test_strategy_methods_answer_without_any_hook(make_trainer, boring_model, tmp_root):
    class Model(boring_model):
        def validation_step(self, batch, batch_idx):
            self.log("synced", 1.0, reduce_fx="sum", sync_dist=True)
            self.log("local", 1.0, reduce_fx="sum")
            gathered.append(self.trainer.strategy.all_gather(batch[1], sync_grads=True).shape)
            received.append(self.trainer.strategy.broadcast("local value"))
            return super().validation_step(batch, batch_idx)

    gathered, received = [], []
    strategy = TwoProcessStrategy()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        trainer = make_trainer(strategy=strategy, limit_val_batches=2)
        (results,) = trainer.validate(Model())
        trainer.save_checkpoint(tmp_root / "model.ckpt")
    assert results["synced"] == 4.0 and results["local"] == 2.0, "sync_dist reduces through the strategy's own method"
    assert gathered == [(2, 2, 1)] * 2 and received == [None, None], "a broadcast None is an answer"
    assert ("barrier", "prepare_data") in strategy.calls and strategy.calls[-1] == ("barrier", "save_checkpoint")
    assert all(not getattr(trainer.plugin_manager.hook, name).get_hookimpls() for name in COLLECTIVE_HOOKS), (
        "nothing in the kernel implements the deprecated hooks"
    )


def test_base_strategy_is_the_single_process_default(make_trainer):
    trainer = make_trainer()
    x = torch.tensor([1.0, 2.0])
    assert trainer.strategy.reduce(x, "sum") is x and trainer.strategy.all_gather(x).shape == (1, 2)
    assert trainer.strategy.broadcast(None) is None and trainer.strategy.barrier("any") is None
    assert Strategy().reduce(x) is x, "works before it is attached to a Trainer"


def test_deprecated_collective_hooks_warn_and_are_still_asked(make_trainer):
    legacy = SimpleNamespace(
        lit_reduce=lit.hookimpl(lambda tensor, op: tensor + 1 if op == "sum" else None),
        lit_broadcast=lit.hookimpl(lambda obj: None),
    )
    with pytest.warns(DeprecationWarning, match=r"lit_reduce hook is deprecated.*override reduce\(\)"):
        trainer = make_trainer(plugins=[legacy])
    x = torch.tensor(1.0)
    assert trainer.strategy.reduce(x, "sum") == 2.0, "the hook's answer wins"
    assert trainer.strategy.reduce(x, "max") is x, "None from the hook: the strategy's own answer"
    assert trainer.strategy.broadcast("mine") == "mine"
