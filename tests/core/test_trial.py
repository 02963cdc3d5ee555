"""``lit_core.trial``: trial runs inside a stage, undone afterwards; ``ExitStage`` ends a stage as finished."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import lit_core as lit
from lit_core.exceptions import ExitStage, MisconfigurationException
from lit_core.trial import Trial, dataloaders_given, with_callbacks


class Steps(lit.Callback):
    def __init__(self) -> None:
        self.steps = 0

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.steps += 1


class TrialAtStart(lit.Callback):
    """Runs a 3-step trial when the fit starts and records what the trial saw."""

    def __init__(self, exit_stage: bool = False) -> None:
        self.probe = Steps()
        self.exit_stage = exit_stage
        self.inside: dict[str, Any] = {}

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        with Trial(trainer, callbacks=[self.probe], max_steps=3) as trial:
            trial.run()
            self.inside = {"global_step": trainer.global_step, "callbacks": list(trainer.callbacks)}
        if self.exit_stage:
            raise ExitStage()


def test_trial_runs_steps_and_undoes_them(make_trainer: Any, boring_model: Any) -> None:
    watcher, at_start = Steps(), TrialAtStart()
    trainer = make_trainer(callbacks=[at_start, watcher], max_epochs=2)
    model = boring_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer.fit(model)
    assert at_start.probe.steps == 3 and at_start.inside == {"global_step": 3, "callbacks": [at_start.probe]}
    assert watcher.steps == 8 and trainer.global_step == 8  # the fit's own 2 epochs of 4 batches
    assert trainer.callbacks == [at_start, watcher]

    plain = boring_model()
    make_trainer(max_epochs=2).fit(plain)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), plain.state_dict().values()))
    assert not all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_exit_stage_finishes_the_stage(make_trainer: Any, boring_model: Any, recording_plugin: Any) -> None:
    trainer = make_trainer(callbacks=[TrialAtStart(exit_stage=True)])
    recorder = recording_plugin(trainer, "lit_teardown", "lit_exception", "lit_train_start")
    trainer.fit(boring_model())
    # Plugins other than callbacks and loggers stay in (the trial's train start); no lit_exception.
    assert recorder.names == ["lit_train_start", "lit_teardown"]
    assert trainer.state.finished and trainer.global_step == 0


def test_with_callbacks_adds_for_the_duration(make_trainer: Any, boring_model: Any) -> None:
    kept, added = Steps(), Steps()
    trainer = make_trainer(callbacks=[kept])
    with with_callbacks(trainer, added):
        assert trainer.callbacks == [added, kept]
        trainer.fit(boring_model())
    assert trainer.callbacks == [kept] and added.steps == kept.steps == 4


def test_errors_and_dataloaders_given(make_trainer: Any, boring_model: Any, random_loader: Any) -> None:
    trainer = make_trainer()
    with pytest.raises(MisconfigurationException, match="inside a stage"):
        Trial(trainer)
    seen: dict[str, bool] = {}

    class Check(lit.Callback):
        def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
            seen["train"], seen["val"] = dataloaders_given(trainer, "train"), dataloaders_given(trainer, "val")
            with pytest.raises(MisconfigurationException, match="cannot be set for a trial"):
                Trial(trainer, gradient_clip_val=1.0)

    make_trainer(callbacks=[Check()]).fit(boring_model(), train_dataloaders=random_loader())
    assert seen == {"train": True, "val": False}


def test_a_trial_calls_no_fit_start_or_end_and_keeps_the_predict_loop(make_trainer: Any, boring_model: Any) -> None:
    """As Lightning's tuner: the module's on_fit_start / on_fit_end ran for the real fit and are not
    called again by the trial's loop; state a trial's loop replaces (``predict_loop``) comes back."""

    class Counting(boring_model):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__()
            self.calls: list[str] = []

        def on_fit_start(self) -> None:
            self.calls.append("fit_start")

        def on_fit_end(self) -> None:
            self.calls.append("fit_end")

        def on_train_start(self) -> None:
            self.calls.append("train_start")

    model = Counting()
    make_trainer(callbacks=[TrialAtStart()], max_epochs=1).fit(model)
    # Callbacks' on_fit_start come before the module's (as in Lightning), so the trial runs first; its
    # loop runs on_train_start (as Lightning's fit_loop.run() does), never the fit's own hooks.
    assert model.calls == ["train_start", "fit_start", "train_start", "fit_end"]

    class PredictTrial(lit.Callback):
        def on_predict_start(self, trainer: Any, pl_module: Any) -> None:
            if not hasattr(self, "outer"):
                self.outer = trainer.predict_loop
                with Trial(trainer, callbacks=[]) as trial:
                    trial.run()

    writer = PredictTrial()
    trainer = make_trainer(callbacks=[writer])
    trainer.predict(boring_model())
    assert trainer.predict_loop is writer.outer and len(writer.outer.predictions) == 4
