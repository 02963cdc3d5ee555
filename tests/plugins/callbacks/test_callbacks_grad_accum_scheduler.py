"""lit-callbacks' ``GradientAccumulationScheduler``: optimizer steps per epoch follow the schedule."""

from __future__ import annotations

from typing import Any

import pytest

from lit_callbacks import GradientAccumulationScheduler
from lit_core.exceptions import MisconfigurationException


def test_schedule_changes_steps_per_epoch(make_trainer: Any, boring_model: Any) -> None:
    steps: list[int] = []

    class Model(boring_model):
        def on_train_epoch_end(self) -> None:
            steps.append(self.trainer.global_step)

    # 4 batches an epoch: factor 1 -> 4 steps, factor 2 -> 2 steps, factor 4 -> 1 step.
    trainer = make_trainer(max_epochs=4, callbacks=[GradientAccumulationScheduler({1: 2, 3: 4})])
    trainer.fit(Model())
    assert steps == [4, 6, 8, 9]
    assert trainer.accumulate_grad_batches == 4


def test_accumulated_gradients_match_a_bigger_batch(make_trainer: Any, boring_model: Any, random_loader: Any) -> None:
    # Two batches of 2 accumulated (loss / 2 each) equal one batch of 4: the same weights after one epoch.
    accumulated, big = boring_model(), boring_model()
    make_trainer(callbacks=[GradientAccumulationScheduler({0: 2})]).fit(accumulated, random_loader(batch_size=2))
    make_trainer().fit(big, random_loader(batch_size=4))
    for a, b in zip(accumulated.parameters(), big.parameters()):
        assert a.detach().allclose(b.detach(), atol=1e-6)


def test_get_accumulate_grad_batches_fills_epoch_zero() -> None:
    scheduler = GradientAccumulationScheduler({2: 3})
    assert [scheduler.get_accumulate_grad_batches(e) for e in range(4)] == [1, 1, 3, 3]


@pytest.mark.parametrize(("scheduling", "error", "match"), [
    ({}, TypeError, "Empty dict"),
    ({-1: 2}, MisconfigurationException, "Epoch should be an int greater than or equal to 0"),
    ({"1": 2}, MisconfigurationException, "Epoch should be an int"),
    ({1: 0}, MisconfigurationException, "Accumulation factor should be an int greater than 0"),
])
def test_bad_schedules(scheduling: dict[Any, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        GradientAccumulationScheduler(scheduling)


def test_trainer_flag_and_callback_together(make_trainer: Any, boring_model: Any) -> None:
    trainer = make_trainer(accumulate_grad_batches=2, callbacks=[GradientAccumulationScheduler({1: 2})])
    with pytest.raises(ValueError, match="remove `accumulate_grad_batches` from the Trainer or remove the callback"):
        trainer.fit(boring_model())


def test_manual_optimization_is_an_error(make_trainer: Any, boring_model: Any) -> None:
    model = boring_model()
    model.automatic_optimization = False
    with pytest.raises(RuntimeError, match="not supported for manual optimization"):
        make_trainer(callbacks=[GradientAccumulationScheduler({1: 2})]).fit(model)
