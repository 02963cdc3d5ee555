"""One test per hookspec, named ``test_<hook name>``: the hook fires at its moment, with its
arguments, and its result means what the hookspec says. ``test_meta.py`` checks none is missing.

Plugins here are throwaway objects passed as ``Trainer(plugins=[...])``; ``recording_plugin``
(tests/conftest.py) records the order of event hooks.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
import torch

import lit_core as lit
from lit_core.exceptions import MisconfigurationException
from lit_core.logger import Logger
from lit_core.strategies import Strategy
from lit_core.wrappers import StepForward

LOOP_ENTRY = {"validation": "validate", "test": "test", "predict": "predict"}
LOOP_PREFIX = {entry: prefix for prefix, entry in LOOP_ENTRY.items()}
LOOP_PHASES = ("start", "epoch_start", "batch_start", "batch_end", "epoch_end", "end")
#: (batch_idx, dataloader_idx) of every batch ``run_loop`` feeds: loaders of 3 and 2 batches.
LOOP_BATCHES = [(0, 0), (1, 0), (2, 0), (0, 1), (1, 1)]


def plugin(**impls: Callable[..., Any]) -> SimpleNamespace:
    """A throwaway plugin: each keyword is a hook name, each value its implementation.

    Values already marked (``@lit.hookimpl(wrapper=True)``) keep their options.
    """
    return SimpleNamespace(**{name: fn if hasattr(fn, "lit_impl") else lit.hookimpl(fn) for name, fn in impls.items()})


def weights(module: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


def grads(module: torch.nn.Module) -> list[torch.Tensor | None]:
    return [None if p.grad is None else p.grad.detach().clone() for p in module.parameters()]


class ListLogger(Logger):
    """Keeps what it is given: ``(step, metrics)`` pairs, hyperparameters, final statuses."""

    def __init__(self) -> None:
        self.metrics: list[tuple[int | None, dict[str, float]]] = []
        self.params: list[dict[str, Any]] = []
        self.statuses: list[str] = []

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.metrics.append((step, dict(metrics)))

    def log_hyperparams(self, params: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        self.params.append(dict(params))

    def finalize(self, status: str) -> None:
        self.statuses.append(status)


class LaunchReduceStrategy(Strategy):
    """A strategy that launches in this process and reduces as if two processes sent equal values.

    Implementing ``lit_launch`` and ``lit_reduce`` is all a strategy needed to own both seams
    (both are deprecated, overriding ``Strategy.launch`` / ``Strategy.reduce`` is the way now; still honoured).
    """

    name = "test_launch_reduce"

    def __init__(self) -> None:
        self.events: list[Any] = []

    @lit.hookimpl
    def lit_launch(self, trainer: lit.Trainer, function: Callable[[], Any]) -> Any:
        self.events.append(("launch", trainer.state.fn.value, trainer.lightning_module is not None))
        result = function()
        self.events.append("returned")
        return result

    @lit.hookimpl
    def lit_setup_environment(self) -> None:
        self.events.append("setup_environment")

    @lit.hookimpl
    def lit_reduce(self, tensor: torch.Tensor, op: str) -> torch.Tensor:
        self.events.append(("reduce", op))
        return tensor * 2 if op == "sum" else tensor


# --------------------------------------------------------------------------------------------
# Trainer construction
# --------------------------------------------------------------------------------------------


def test_lit_init_start(make_trainer):
    seen = []

    class Probe(lit.Callback):
        def on_init_start(self, trainer):
            seen.append(("callback", trainer, hasattr(trainer, "max_epochs")))

    by_plugin = plugin(lit_init_start=lambda trainer: seen.append(("plugin", trainer, hasattr(trainer, "max_epochs"))))
    trainer = make_trainer(max_epochs=3, callbacks=[Probe()], plugins=[by_plugin])
    assert sorted(who for who, _, _ in seen) == ["callback", "plugin"]
    assert all(t is trainer and not parsed for _, t, parsed in seen), "called once, before the flags are parsed"


def test_lit_init_end(make_trainer):
    seen = []

    class Probe(lit.Callback):
        def on_init_start(self, trainer):
            seen.append("start")

        def on_init_end(self, trainer):
            seen.append(("end", trainer.max_epochs, trainer.lightning_module))

    by_plugin = plugin(lit_init_end=lambda trainer: seen.append(("plugin registered", trainer.plugin_manager.is_registered(by_plugin))))
    make_trainer(max_epochs=3, callbacks=[Probe()], plugins=[by_plugin])
    assert seen[0] == "start"
    assert sorted(seen[1:], key=str) == [("end", 3, None), ("plugin registered", True)]


# --------------------------------------------------------------------------------------------
# Launch and setup
# --------------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:the lit_reduce hook is deprecated:DeprecationWarning")
def test_lit_launch(make_trainer, boring_model):
    strategy = LaunchReduceStrategy()
    with pytest.warns(DeprecationWarning, match="the lit_launch hook is deprecated"):
        trainer = make_trainer(strategy=strategy)
    results = trainer.validate(boring_model())
    assert strategy.events == [("launch", "validate", True), "setup_environment", "returned"]
    assert list(results[0]) == ["val_loss"], "what `function` returned reaches the caller"

    # The first non-None result wins: a launcher that does not call `function` runs nothing.
    ran = []
    skip = plugin(lit_launch=lambda: "not launched", lit_setup_environment=lambda: ran.append(True))
    with pytest.warns(DeprecationWarning, match="the lit_launch hook is deprecated"):
        trainer = make_trainer(plugins=[skip])
    assert trainer.validate(boring_model()) == "not launched"
    assert ran == []


def test_lit_setup_environment(make_trainer, boring_model, monkeypatch):
    monkeypatch.setattr(lit.rank_zero_only, "rank", 0)  # the Trainer copies global_rank into it
    events, ranks, printed = [], set(), []

    def setup_environment(trainer):
        events.append("setup_environment")
        trainer.global_rank = 1

    class Model(boring_model):
        def prepare_data(self):
            events.append("prepare_data")

        def validation_step(self, batch, batch_idx):
            ranks.add((self.global_rank, lit.rank_zero_only.rank))
            return super().validation_step(batch, batch_idx)

    trainer = make_trainer(plugins=[plugin(lit_setup_environment=setup_environment, lit_print_results=lambda: printed.append(1))])
    trainer.validate(Model())
    assert events == ["setup_environment", "prepare_data"]
    assert ranks == {(1, 1)}, "the rank it set is the module's and rank_zero_only's"
    assert printed == [], "results are printed on global rank zero only"


def test_lit_setup(make_trainer, boring_model, random_loader, recording_plugin):
    events = []

    class Data(lit.LightningDataModule):
        def prepare_data(self):
            events.append("datamodule.prepare_data")

        def setup(self, stage):
            events.append(f"datamodule.setup {stage}")

        def train_dataloader(self):
            return random_loader(seed=1)

        def val_dataloader(self):
            return random_loader(seed=2)

        def test_dataloader(self):
            return random_loader(seed=3)

        def predict_dataloader(self):
            return random_loader(seed=4)

    class Model(boring_model):
        def setup(self, stage):
            events.append(f"module.setup {stage}")

    class Probe(lit.Callback):
        def setup(self, trainer, pl_module, stage):
            events.append(f"callback.setup {stage}")

    trainer = make_trainer(callbacks=[Probe()], limit_train_batches=1, limit_val_batches=1)
    recorder = recording_plugin(trainer, "lit_setup", "lit_fit_start")
    model, data = Model(), Data()
    for entry, stage in [("fit", "fit"), ("validate", "validate"), ("test", "test"), ("predict", "predict")]:
        events.clear()
        getattr(trainer, entry)(model, datamodule=data)
        assert events == ["datamodule.prepare_data", f"datamodule.setup {stage}", f"callback.setup {stage}", f"module.setup {stage}"]
    assert [(c["stage"], c["module"]) for c in recorder.of("lit_setup")] == [(s, model) for s in ("fit", "validate", "test", "predict")]
    assert recorder.names[:2] == ["lit_setup", "lit_fit_start"]


def test_lit_setup_module(make_trainer, boring_model):
    seen = []

    class Wrapper(StepForward):
        """Like DDP over StepForward: every step runs inside the wrapper's forward."""

        def forward(self, step, *args):
            seen.append(step)
            return super().forward(step, *args)

    @lit.hookimpl(wrapper=True)
    def setup_module(trainer, module):
        seen.append(("before", module))
        prepared = yield
        seen.append(("after", prepared, prepared.device == trainer.device))
        return Wrapper(prepared)

    trainer = make_trainer(limit_train_batches=1, limit_val_batches=1, plugins=[plugin(lit_setup_module=setup_module)])
    model = boring_model()
    trainer.fit(model)
    assert seen[:2] == [("before", model), ("after", model, True)], "the default moves the module itself to the device"
    assert isinstance(trainer.model, Wrapper) and trainer.model.module is model, "the result is the module to train"
    assert seen[2:] == ["validation_step", "training_step", "validation_step"], "the loops step through the result"


def test_lit_setup_optimizers(make_trainer, boring_model):
    seen = []

    def setup_optimizers(optimizers):
        seen.append(list(optimizers))
        return [torch.optim.SGD(optimizers[0].param_groups[0]["params"], lr=0.0)]

    model = boring_model()
    before = weights(model)
    trainer = make_trainer(plugins=[plugin(lit_setup_optimizers=setup_optimizers)])
    trainer.fit(model)
    assert len(seen) == 1 and isinstance(seen[0][0], torch.optim.SGD) and seen[0][0].defaults["lr"] == 0.1
    assert trainer.optimizers[0].defaults["lr"] == 0.0
    assert all(torch.equal(a, b) for a, b in zip(before, weights(model))), "the returned optimizers are the ones stepped"
    trainer.validate(model)
    assert len(seen) == 1, "only fit configures optimizers"


def test_lit_run_stage(make_trainer, boring_model):
    events = []

    @lit.hookimpl(wrapper=True)
    def run_stage(stage):
        events.append(f"enter {stage}")
        result = yield
        events.append(f"exit {stage}")
        return ("wrapped", result)

    trainer = make_trainer(
        limit_train_batches=1, limit_val_batches=1, num_sanity_val_steps=0,
        plugins=[plugin(
            lit_run_stage=run_stage,
            lit_setup=lambda stage: events.append(f"setup {stage}"),
            lit_fit_start=lambda: events.append("fit_start"),
            lit_fit_end=lambda: events.append("fit_end"),
            lit_teardown=lambda stage: events.append(f"teardown {stage}"),
        )],
    )
    model = boring_model()
    assert trainer.fit(model) is None
    assert events == ["setup fit", "enter fit", "fit_start", "fit_end", "exit fit", "teardown fit"]
    wrapped, results = trainer.validate(model)
    assert wrapped == "wrapped" and list(results[0]) == ["val_loss"], "a wrapper sees and can change the stage's result"
    wrapped, predictions = trainer.predict(model)
    assert wrapped == "wrapped" and len(predictions) == 4 and predictions[0].shape == (2, 1)

    class Untested(boring_model):
        def test_step(self, batch, batch_idx):
            raise AssertionError("the replaced loop must not run")

    replacing = make_trainer(plugins=[plugin(lit_run_stage=lambda stage: f"replaced {stage}")])
    assert replacing.test(Untested()) == "replaced test"


def test_lit_process_dataloader(make_trainer, boring_model, random_loader):
    seen, shifted = [], []

    def process(dataloader, stage):
        seen.append((stage, dataloader))
        return [(x.abs(), y) for x, y in dataloader]

    class Model(boring_model):
        def training_step(self, batch, batch_idx):
            shifted.append(bool((batch[0] >= 0).all()))
            return super().training_step(batch, batch_idx)

    train, val = random_loader(seed=1), random_loader(seed=2)
    trainer = make_trainer(max_epochs=2, num_sanity_val_steps=1, plugins=[plugin(lit_process_dataloader=process)])
    trainer.fit(Model(), train, val)
    assert [stage for stage, _ in seen] == ["sanity_check", "train", "validate", "train", "validate"]
    assert all(loader is (train if stage == "train" else val) for stage, loader in seen), "given the user's loader"
    assert shifted == [True] * 8, "the loop iterates what the hook returned"
    for entry, stage in [("test", "test"), ("predict", "predict"), ("validate", "validate")]:
        getattr(trainer, entry)(Model(), dataloaders=random_loader())
        assert seen[-1][0] == stage


def test_lit_process_dataloader_shorter_loader_still_validates(make_trainer, boring_model, random_loader):
    validated = []
    trainer = make_trainer(num_sanity_val_steps=0, plugins=[plugin(
        lit_process_dataloader=lambda dataloader, stage: list(dataloader)[:2] if stage == "train" else None,
        lit_validation_start=lambda: validated.append(True),
    )])
    trainer.fit(boring_model(), random_loader(), random_loader())
    assert validated == [True], "validation at the end of the (shorter) epoch"


def test_lit_batch_to_device(make_trainer, boring_model, random_loader):
    order, seen, steps = [], [], []

    def to_device(batch, device, dataloader_idx):
        order.append("plugin")
        seen.append((device, dataloader_idx))
        return [torch.zeros_like(batch[0]), batch[1]]

    class Model(boring_model):
        def on_before_batch_transfer(self, batch, dataloader_idx):
            order.append("before")
            return batch

        def on_after_batch_transfer(self, batch, dataloader_idx):
            order.append("after")
            return batch

        def validation_step(self, batch, batch_idx):
            steps.append(float(batch[0].abs().sum()))
            return super().validation_step(batch, batch_idx)

    trainer = make_trainer(plugins=[plugin(lit_batch_to_device=to_device)])
    trainer.validate(Model(), dataloaders=[random_loader(n=6), random_loader(n=4)])
    assert order == ["before", "plugin", "after"] * 5
    assert seen == [(trainer.device, idx) for _, idx in LOOP_BATCHES]
    assert steps == [0.0] * 5, "the step sees the batch the hook returned"

    class OwnTransfer(boring_model):
        def transfer_batch_to_device(self, batch, device, dataloader_idx):
            order.append("module")
            return batch

    order.clear()
    trainer.validate(OwnTransfer(), dataloaders=random_loader(n=4))
    assert order == ["module"] * 2, "a module's transfer_batch_to_device takes precedence"


# --------------------------------------------------------------------------------------------
# Fit
# --------------------------------------------------------------------------------------------


def fit_recorded(make_trainer, recording_plugin, model, **flags):
    """Fit ``model`` (2 epochs of 4 batches, 2 sanity steps, 2 validation batches); record every hook."""
    trainer = make_trainer(**{"max_epochs": 2, "limit_val_batches": 2, **flags})
    recorder = recording_plugin(trainer)
    trainer.fit(model)
    return trainer, recorder


def test_lit_fit_start(make_trainer, boring_model, recording_plugin):
    model = boring_model()
    trainer, recorder = fit_recorded(make_trainer, recording_plugin, model)
    names = recorder.names
    assert names.count("lit_fit_start") == 1
    assert names.index("lit_setup") < names.index("lit_fit_start") < names.index("lit_sanity_check_start")
    assert recorder.of("lit_fit_start") == [{"trainer": trainer, "module": model}]
    trainer.validate(model)
    assert recorder.names.count("lit_fit_start") == 1, "fit only"


def test_lit_fit_end(make_trainer, boring_model, recording_plugin):
    model = boring_model()
    trainer, recorder = fit_recorded(make_trainer, recording_plugin, model)
    names = recorder.names
    assert names.count("lit_fit_end") == 1
    assert names.index("lit_train_end") < names.index("lit_fit_end") == len(names) - 2
    assert names[-1] == "lit_teardown"
    assert recorder.of("lit_fit_end") == [{"trainer": trainer, "module": model}]

    def stop(trainer, batch_idx):
        trainer.should_stop = batch_idx == 1

    trainer = make_trainer(max_epochs=5, plugins=[plugin(lit_train_batch_end=stop)])
    recorder = recording_plugin(trainer, "lit_fit_end")
    trainer.fit(boring_model())
    assert (trainer.global_step, recorder.names) == (2, ["lit_fit_end"]), "also when stopped early"


def test_lit_sanity_check_start(make_trainer, boring_model, recording_plugin):
    states = []
    trainer = make_trainer(plugins=[plugin(lit_sanity_check_start=lambda trainer: states.append((trainer.sanity_checking, trainer.global_step)))])
    recorder = recording_plugin(trainer)
    trainer.fit(boring_model())
    names = recorder.names
    start = names.index("lit_sanity_check_start")
    assert names[start:names.index("lit_sanity_check_end")] == [
        "lit_sanity_check_start", "lit_validation_start", "lit_validation_epoch_start",
        *["lit_validation_batch_start", "lit_validation_batch_end"] * 2,  # num_sanity_val_steps=2
        "lit_validation_epoch_end", "lit_validation_end",
    ]
    assert names[start - 1] == "lit_fit_start" and states == [(True, 0)]

    trainer = make_trainer(num_sanity_val_steps=0)
    recorder = recording_plugin(trainer, "lit_sanity_check_start")
    trainer.fit(boring_model())
    assert recorder.names == [], "not called without sanity steps"


def test_lit_sanity_check_end(make_trainer, boring_model, recording_plugin):
    states = []

    def sanity_check_end(trainer):
        states.append((trainer.sanity_checking, "val_loss" in trainer.callback_metrics))

    logger = ListLogger()
    trainer = make_trainer(logger=logger, plugins=[plugin(lit_sanity_check_end=sanity_check_end)])
    recorder = recording_plugin(trainer, "lit_sanity_check_end", "lit_train_start")
    trainer.fit(boring_model())
    assert states == [(True, False)], "its metrics are discarded"
    assert recorder.names == ["lit_sanity_check_end", "lit_train_start"]
    assert [step for step, _ in logger.metrics] == [3], "the loggers only see the real validation"


def test_lit_train_start(make_trainer, boring_model, recording_plugin):
    states = []
    trainer = make_trainer(plugins=[plugin(lit_train_start=lambda trainer, module: states.append((trainer.current_epoch, trainer.global_step, module.training)))])
    recorder = recording_plugin(trainer)
    model = boring_model()
    trainer.fit(model)
    names = recorder.names
    assert names.count("lit_train_start") == 1
    assert names[names.index("lit_train_start") - 1: names.index("lit_train_start") + 2] == [
        "lit_sanity_check_end", "lit_train_start", "lit_train_epoch_start",
    ]
    assert states == [(0, 0, True)]


def test_lit_train_end(make_trainer, boring_model, recording_plugin):
    states = []
    model = boring_model()
    trainer = make_trainer(max_epochs=2, plugins=[plugin(lit_train_end=lambda trainer: states.append((trainer.current_epoch, trainer.global_step)))])
    recorder = recording_plugin(trainer, "lit_train_epoch_end", "lit_train_end", "lit_fit_end")
    trainer.fit(model)
    assert recorder.names == ["lit_train_epoch_end", "lit_train_epoch_end", "lit_train_end", "lit_fit_end"]
    assert states == [(2, 8)], "after the last epoch"


def test_lit_train_epoch_start(make_trainer, boring_model, recording_plugin):
    states = []

    def epoch_start(trainer, module):
        states.append((trainer.current_epoch, module.training, trainer.training))

    trainer = make_trainer(max_epochs=2, plugins=[plugin(lit_train_epoch_start=epoch_start)])
    recorder = recording_plugin(trainer, "lit_train_epoch_start", "lit_train_batch_start")
    trainer.fit(boring_model())
    assert states == [(0, True, True), (1, True, True)]
    assert recorder.names == (["lit_train_epoch_start"] + ["lit_train_batch_start"] * 4) * 2


def test_lit_train_epoch_end(make_trainer, boring_model, recording_plugin):
    losses, states = [], []

    class Model(boring_model):
        def training_step(self, batch, batch_idx):
            loss = super().training_step(batch, batch_idx)
            losses.append(loss.item())
            self.log("loss", loss, on_epoch=True)
            return loss

    def epoch_end(trainer, module):
        states.append(trainer.callback_metrics["loss_epoch"].item())
        module.log("logged_at_epoch_end", float(trainer.current_epoch))

    trainer = make_trainer(max_epochs=2, num_sanity_val_steps=0, plugins=[plugin(lit_train_epoch_end=epoch_end)])
    recorder = recording_plugin(trainer, "lit_train_batch_end", "lit_validation_end", "lit_train_epoch_end")
    trainer.fit(Model())
    assert recorder.names == (["lit_train_batch_end"] * 4 + ["lit_validation_end", "lit_train_epoch_end"]) * 2
    assert states == pytest.approx([sum(losses[:4]) / 4, sum(losses[4:]) / 4]), "the epoch's metrics are already reduced"
    assert trainer.callback_metrics["logged_at_epoch_end"].item() == 1.0, "logging from the hook works"


def test_lit_train_batch_start(make_trainer, boring_model, recording_plugin):
    steps = []

    class Model(boring_model):
        def training_step(self, batch, batch_idx):
            steps.append((batch_idx, batch[0]))
            return super().training_step(batch, batch_idx)

    trainer, recorder = fit_recorded(make_trainer, recording_plugin, Model())
    calls = recorder.of("lit_train_batch_start")
    assert [c["batch_idx"] for c in calls] == [0, 1, 2, 3] * 2
    assert all(torch.equal(c["batch"][0], x) for c, (_, x) in zip(calls, steps)), "the batch the step gets"
    names = recorder.names
    assert names[names.index("lit_train_batch_start") + 1] == "lit_before_backward", "before training_step's backward"

    trainer = make_trainer(max_epochs=2, plugins=[plugin(lit_train_batch_start=lambda batch_idx: -1 if batch_idx == 2 else None)])
    steps.clear()
    trainer.fit(Model())
    assert [idx for idx, _ in steps] == [0, 1, 0, 1] and trainer.current_epoch == 2, "-1 ends the epoch"


def test_lit_train_batch_end(make_trainer, boring_model, recording_plugin):
    returned, states = [], []

    class Model(boring_model):
        def training_step(self, batch, batch_idx):
            loss = super().training_step(batch, batch_idx)
            returned.append(loss)
            return {"loss": loss, "extra": batch_idx * 10}

    def batch_start(module):
        states.append(weights(module))

    def batch_end(module, outputs):
        assert not torch.equal(states[-1][0], module.layer.weight), "after the optimizer step"
        assert not outputs["loss"].requires_grad

    model = Model()
    trainer = make_trainer(plugins=[plugin(lit_train_batch_start=batch_start, lit_train_batch_end=batch_end)])
    recorder = recording_plugin(trainer)
    trainer.fit(model)
    calls = recorder.of("lit_train_batch_end")
    assert [c["batch_idx"] for c in calls] == [0, 1, 2, 3]
    assert [c["outputs"]["extra"] for c in calls] == [0, 10, 20, 30], "outputs are what training_step returned"
    assert [c["outputs"]["loss"].item() for c in calls] == [loss.item() for loss in returned]
    assert all(c["module"] is model and c["trainer"] is trainer for c in calls)
    names = recorder.names
    assert names[names.index("lit_train_batch_end") - 1] == "lit_before_zero_grad"


def test_lit_autocast(make_trainer, boring_model):
    class Counting:
        """A re-enterable context manager that counts how often it is entered."""

        def __init__(self):
            self.active, self.entered = False, 0

        def __enter__(self):
            self.active, self.entered = True, self.entered + 1

        def __exit__(self, *exc):
            self.active = False

    context, asked, inside = Counting(), [], []

    def autocast(trainer):
        asked.append(trainer)
        return context

    class Model(boring_model):
        def training_step(self, batch, batch_idx):
            inside.append(("train", context.active))
            return super().training_step(batch, batch_idx)

        def validation_step(self, batch, batch_idx):
            inside.append(("validate", context.active))
            return super().validation_step(batch, batch_idx)

        def test_step(self, batch, batch_idx):
            inside.append(("test", context.active))
            return super().test_step(batch, batch_idx)

        def predict_step(self, batch, batch_idx, dataloader_idx=0):
            inside.append(("predict", context.active))
            return super().predict_step(batch, batch_idx)

        def on_train_batch_end(self, outputs, batch, batch_idx):
            inside.append(("hook", context.active))

    model = Model()
    trainer = make_trainer(limit_val_batches=2, num_sanity_val_steps=0, plugins=[plugin(lit_autocast=autocast)])
    trainer.fit(model)
    assert inside == [("train", True), ("hook", False)] * 4 + [("validate", True)] * 2, "entered around steps only"
    assert len(asked) == 2 and asked[0] is trainer, "asked once per loop (training, then validation)"
    inside.clear()
    trainer.test(model)
    trainer.predict(model)
    assert inside == [("test", True)] * 4 + [("predict", True)] * 4
    assert context.entered == 6 + 8


def test_lit_scale_loss(make_trainer, boring_model, recording_plugin):
    seen, gradients = [], []

    def scale_loss(loss, optimizer):
        seen.append((loss.item(), optimizer))
        return loss * 4

    def keep_gradients(module):
        gradients.append(grads(module))

    def run(*impls, model=None):
        model = model or boring_model()
        trainer = make_trainer(max_steps=2, plugins=[plugin(lit_before_optimizer_step=keep_gradients), *impls])
        recorder = recording_plugin(trainer, "lit_before_backward")
        trainer.fit(model)
        return trainer, recorder

    run()
    plain = gradients[:]
    gradients.clear()
    trainer, recorder = run(plugin(lit_scale_loss=scale_loss))
    assert [optimizer for _, optimizer in seen] == [trainer.optimizers[0]] * 2
    assert [c["loss"].item() for c in recorder.of("lit_before_backward")] == pytest.approx([4 * loss for loss, _ in seen])
    assert all(torch.allclose(s, 4 * p) for s, p in zip(gradients[0], plain[0])), "the returned tensor is back-propagated"
    gradients.clear()
    run(plugin(lit_scale_loss=lambda loss: None))
    assert all(torch.equal(a, b) for step, plain_step in zip(gradients, plain) for a, b in zip(step, plain_step)), "None: the loss as it is"

    class Manual(boring_model):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False

        def training_step(self, batch, batch_idx):
            opt = self.optimizers()
            self.manual_backward(self.loss(batch))
            opt.step()
            opt.zero_grad()

    seen.clear()
    run(plugin(lit_scale_loss=scale_loss), model=Manual())
    assert [optimizer for _, optimizer in seen] == [None, None], "manual_backward is scaled too"


def test_lit_before_backward(make_trainer, boring_model, recording_plugin):
    losses, states = [], []

    class Model(boring_model):
        def training_step(self, batch, batch_idx):
            loss = super().training_step(batch, batch_idx)
            losses.append(loss.item())
            return loss

    trainer = make_trainer(accumulate_grad_batches=2, plugins=[plugin(lit_before_backward=lambda module: states.append(grads(module)[0]))])
    recorder = recording_plugin(trainer, "lit_before_backward", "lit_after_backward")
    trainer.fit(Model())
    calls = recorder.of("lit_before_backward")
    assert [c["loss"].item() for c in calls] == pytest.approx([loss / 2 for loss in losses]), "divided by accumulate_grad_batches"
    assert all(c["loss"].requires_grad for c in calls)
    assert recorder.names == ["lit_before_backward", "lit_after_backward"] * 4
    assert states[0] is None, "before the first backward there are no gradients"


def test_lit_backward(make_trainer, boring_model):
    seen, module_backward = [], []

    def backward(loss, optimizer, optimizer_idx, args, kwargs):
        seen.append((optimizer, optimizer_idx, args, kwargs))
        (loss * 0).backward(*args, **kwargs)
        return True

    class Model(boring_model):
        def backward(self, loss, *args, **kwargs):
            module_backward.append(True)
            loss.backward(*args, **kwargs)

    model = Model()
    before = weights(model)
    trainer = make_trainer(plugins=[plugin(lit_backward=backward)])
    trainer.fit(model)
    assert seen == [(trainer.optimizers[0], 0, (), {})] * 4
    assert module_backward == [], "the first non-None result replaces the default (the module's backward)"
    assert all(torch.equal(a, b) for a, b in zip(before, weights(model))), "the plugin's zero gradients were used"

    class Manual(boring_model):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False

        def training_step(self, batch, batch_idx):
            self.manual_backward(self.loss(batch), retain_graph=True)

    seen.clear()
    make_trainer(limit_train_batches=1, limit_val_batches=0, plugins=[plugin(lit_backward=backward)]).fit(Manual())
    assert seen == [(None, None, (), {"retain_graph": True})], "manual_backward goes through the hook"


def test_lit_after_backward(make_trainer, boring_model, recording_plugin):
    states = []
    trainer = make_trainer(plugins=[plugin(lit_after_backward=lambda module: states.append(grads(module)))])
    recorder = recording_plugin(trainer, "lit_before_backward", "lit_after_backward", "lit_before_optimizer_step")
    model = boring_model()
    trainer.fit(model)
    assert recorder.names == ["lit_before_backward", "lit_after_backward", "lit_before_optimizer_step"] * 4
    assert recorder.of("lit_after_backward")[0] == {"trainer": trainer, "module": model}
    assert all(g is not None and g.abs().sum() > 0 for state in states for g in state), "gradients are populated"


def test_lit_before_optimizer_step(make_trainer, boring_model, recording_plugin):
    states = []

    def before_step(module):
        states.append((weights(module), grads(module)))

    model = boring_model()
    trainer = make_trainer(accumulate_grad_batches=2, gradient_clip_val=10.0, plugins=[plugin(lit_before_optimizer_step=before_step)])
    recorder = recording_plugin(trainer, "lit_after_backward", "lit_before_optimizer_step", "lit_before_zero_grad")
    trainer.fit(model)
    assert recorder.names == ["lit_after_backward", "lit_after_backward", "lit_before_optimizer_step", "lit_before_zero_grad"] * 2
    assert [(c["optimizer"], c["optimizer_idx"]) for c in recorder.of("lit_before_optimizer_step")] == [(trainer.optimizers[0], 0)] * 2
    initial = boring_model()
    assert all(torch.equal(a, b) for a, b in zip(states[0][0], weights(initial))), "before the first step"
    assert all(g is not None for g in states[0][1])


def test_lit_clip_gradients(make_trainer, boring_model):
    seen, clipped = [], []

    def clip(module, optimizer, clip_val, algorithm):
        seen.append((module, optimizer, clip_val, algorithm))
        return True

    def before_zero_grad(module):
        clipped.append(max(g.abs().max().item() for g in grads(module)))

    make_trainer(plugins=[plugin(lit_clip_gradients=clip)]).fit(boring_model())
    assert seen == [], "only called with gradient_clip_val"

    model = boring_model()
    trainer = make_trainer(gradient_clip_val=1e-6, gradient_clip_algorithm="value",
                           plugins=[plugin(lit_clip_gradients=clip, lit_before_zero_grad=before_zero_grad)])
    trainer.fit(model)
    assert seen == [(model, trainer.optimizers[0], 1e-6, "value")] * 4
    assert min(clipped) > 1e-6, "the plugin's result replaced the default clipping"

    clipped.clear()
    make_trainer(gradient_clip_val=1e-3, gradient_clip_algorithm="value", plugins=[plugin(lit_before_zero_grad=before_zero_grad)]).fit(boring_model())
    assert clipped == pytest.approx([1e-3] * 4), "the default clips by value"

    class Manual(boring_model):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False

        def training_step(self, batch, batch_idx):
            opt = self.optimizers()
            self.manual_backward(self.loss(batch))
            self.clip_gradients(opt, gradient_clip_val=0.5)
            opt.step()
            opt.zero_grad()

    seen.clear()
    model = Manual()
    trainer = make_trainer(plugins=[plugin(lit_clip_gradients=clip)])
    trainer.fit(model)
    assert seen == [(model, trainer.optimizers[0], 0.5, "norm")] * 4, "self.clip_gradients passes the torch optimizer"


def test_lit_optimizer_step(make_trainer, boring_model):
    seen, module_steps, closure_losses = [], [], []

    def optimizer_step(optimizer, optimizer_idx, closure, batch_idx):
        seen.append((optimizer, optimizer_idx, batch_idx))
        closure_losses.append(closure())
        optimizer.step()
        return True

    class Model(boring_model):
        def optimizer_step(self, epoch, batch_idx, optimizer, optimizer_closure=None):
            module_steps.append(batch_idx)
            optimizer.step(closure=optimizer_closure)

    model = Model()
    before = weights(model)
    trainer = make_trainer(accumulate_grad_batches=2, plugins=[plugin(lit_optimizer_step=optimizer_step)])
    trainer.fit(model)
    assert seen == [(trainer.optimizers[0], 0, 1), (trainer.optimizers[0], 0, 3)], "every accumulate_grad_batches"
    assert all(isinstance(loss, torch.Tensor) and loss.ndim == 0 for loss in closure_losses), "the closure returns the loss"
    assert module_steps == [], "the first non-None result replaces the default (the module's optimizer_step)"
    assert trainer.global_step == 2 and not torch.equal(before[0], model.layer.weight)

    make_trainer(accumulate_grad_batches=2).fit(Model())
    assert module_steps == [1, 3], "the default calls the module's optimizer_step"


def test_lit_before_zero_grad(make_trainer, boring_model, recording_plugin):
    states, after = [], []

    def before_step(module):
        states.append(("before step", weights(module)[0]))

    def before_zero_grad(module, optimizer):
        states.append(("before zero_grad", weights(module)[0], grads(module)[0]))

    trainer = make_trainer(plugins=[plugin(
        lit_before_optimizer_step=before_step,
        lit_before_zero_grad=before_zero_grad,
        lit_train_batch_end=lambda module: after.append(grads(module)[0]),
    )])
    recorder = recording_plugin(trainer, "lit_before_zero_grad")
    trainer.fit(boring_model())
    assert [c["optimizer"] for c in recorder.of("lit_before_zero_grad")] == [trainer.optimizers[0]] * 4
    for (_, stepped_from), (_, stepped_to, grad) in zip(states[::2], states[1::2]):
        assert not torch.equal(stepped_from, stepped_to), "after the optimizer step"
        assert grad is not None and grad.abs().sum() > 0, "before the gradients are zeroed"
    assert all(g is None or not g.any() for g in after), "zeroed after the hook"


# --------------------------------------------------------------------------------------------
# Validation, test and predict loops: the same six hooks each, checked by the helpers below
# --------------------------------------------------------------------------------------------


def run_loop(prefix, make_trainer, recording_plugin, random_loader, model, **impls):
    """Run the ``prefix`` loop alone on ``model`` over two loaders (3 and 2 batches).

    ``impls`` are extra hook implementations (to look at the state when a hook fires).
    Returns the trainer, a recorder of the loop's six hooks, and what the entry point returned.
    """
    trainer = make_trainer(plugins=[plugin(**impls)] if impls else None)
    recorder = recording_plugin(trainer, *(f"lit_{prefix}_{phase}" for phase in LOOP_PHASES))
    loaders = [random_loader(n=6, seed=5), random_loader(n=4, seed=6)]
    result = getattr(trainer, LOOP_ENTRY[prefix])(model, dataloaders=loaders)
    return trainer, recorder, result


def loop_order(prefix):
    """The loop's hooks in order for ``run_loop``'s five batches."""
    batches = [f"lit_{prefix}_batch_start", f"lit_{prefix}_batch_end"] * len(LOOP_BATCHES)
    return [f"lit_{prefix}_start", f"lit_{prefix}_epoch_start", *batches, f"lit_{prefix}_epoch_end", f"lit_{prefix}_end"]


def stepping_model(boring_model, prefix, log):
    """A model whose ``prefix`` step appends ``("step", batch_idx, output)`` to ``log``."""
    step_name = f"{prefix}_step"

    def step(self, batch, batch_idx):
        output = getattr(boring_model, step_name)(self, batch, batch_idx)
        log.append(("step", batch_idx, output))
        return output

    return type("Stepping", (boring_model,), {step_name: step})()


def metric_key(prefix):
    """The loss ``BoringModel`` logs in the ``prefix`` loop, for the first dataloader (``None`` for predict)."""
    return None if prefix == "predict" else f"{'val' if prefix == 'validation' else 'test'}_loss/dataloader_idx_0"


def check_loop_start(prefix, make_trainer, recording_plugin, random_loader, boring_model):
    states = []

    def start(trainer, module):
        states.append((trainer.state.stage.value, module.training, torch.is_grad_enabled()))

    model = boring_model()
    trainer, recorder, _ = run_loop(prefix, make_trainer, recording_plugin, random_loader, model, **{f"lit_{prefix}_start": start})
    assert recorder.names == loop_order(prefix)
    assert recorder.of(f"lit_{prefix}_start") == [{"trainer": trainer, "module": model}]
    assert states == [(LOOP_ENTRY[prefix], False, False)], "the module is in eval mode, gradients are off"


def check_loop_end(prefix, make_trainer, recording_plugin, random_loader, boring_model):
    states = []
    key = metric_key(prefix)
    model = boring_model()
    trainer, recorder, result = run_loop(prefix, make_trainer, recording_plugin, random_loader, model, **{
        f"lit_{prefix}_end": lambda trainer: states.append(key is None or key in trainer.callback_metrics),
    })
    assert recorder.names[-2:] == [f"lit_{prefix}_epoch_end", f"lit_{prefix}_end"]
    assert recorder.of(f"lit_{prefix}_end") == [{"trainer": trainer, "module": model}]
    assert states == [True], "after the metrics are reduced"
    assert len(result) == 2, "one result per dataloader"


def check_loop_epoch_start(prefix, make_trainer, recording_plugin, random_loader, boring_model):
    log = []
    model = stepping_model(boring_model, prefix, log)
    trainer, recorder, _ = run_loop(prefix, make_trainer, recording_plugin, random_loader, model, **{
        f"lit_{prefix}_epoch_start": lambda: log.append("epoch_start"),
    })
    assert recorder.names[:3] == [f"lit_{prefix}_start", f"lit_{prefix}_epoch_start", f"lit_{prefix}_batch_start"]
    assert recorder.of(f"lit_{prefix}_epoch_start") == [{"trainer": trainer, "module": model}]
    assert log[0] == "epoch_start" and len(log) == 1 + len(LOOP_BATCHES), "once, before the first step"


def check_loop_epoch_end(prefix, make_trainer, recording_plugin, random_loader, boring_model):
    log, states = [], []
    key = metric_key(prefix)

    def epoch_end(trainer, module):
        log.append("epoch_end")
        states.append(key is not None and key in trainer.callback_metrics)
        if key is not None:
            module.log("logged_at_epoch_end", 3.0)

    model = stepping_model(boring_model, prefix, log)
    trainer, recorder, result = run_loop(prefix, make_trainer, recording_plugin, random_loader, model, **{f"lit_{prefix}_epoch_end": epoch_end})
    assert recorder.names[-3:] == [f"lit_{prefix}_batch_end", f"lit_{prefix}_epoch_end", f"lit_{prefix}_end"]
    assert recorder.of(f"lit_{prefix}_epoch_end") == [{"trainer": trainer, "module": model}]
    assert log[-1] == "epoch_end" and len(log) == 1 + len(LOOP_BATCHES), "once, after the last step of every dataloader"
    assert states == [False], "before the metrics are reduced"
    if key is not None:
        assert all(r["logged_at_epoch_end"] == 3.0 for r in result), "what it logs is in the results"


def check_loop_batch_start(prefix, make_trainer, recording_plugin, random_loader, boring_model):
    log = []
    model = stepping_model(boring_model, prefix, log)
    _, recorder, _ = run_loop(prefix, make_trainer, recording_plugin, random_loader, model, **{
        f"lit_{prefix}_batch_start": lambda batch_idx: log.append(("batch_start", batch_idx)),
    })
    calls = recorder.of(f"lit_{prefix}_batch_start")
    assert [(c["batch_idx"], c["dataloader_idx"]) for c in calls] == LOOP_BATCHES
    assert [entry[:2] for entry in log] == [e for idx, _ in LOOP_BATCHES for e in (("batch_start", idx), ("step", idx))]
    first = next(iter(random_loader(n=6, seed=5)))
    assert torch.equal(calls[0]["batch"][0], first[0]) and calls[0]["module"] is model


def check_loop_batch_end(prefix, make_trainer, recording_plugin, random_loader, boring_model):
    log = []
    model = stepping_model(boring_model, prefix, log)
    trainer, recorder, _ = run_loop(prefix, make_trainer, recording_plugin, random_loader, model, **{
        f"lit_{prefix}_batch_end": lambda batch_idx: log.append(("batch_end", batch_idx)),
    })
    calls = recorder.of(f"lit_{prefix}_batch_end")
    assert [(c["batch_idx"], c["dataloader_idx"]) for c in calls] == LOOP_BATCHES
    steps = [entry for entry in log if entry[0] == "step"]
    assert [c["outputs"] for c in calls] == [output for _, _, output in steps], "outputs are what the step returned"
    assert [entry[:2] for entry in log] == [e for idx, _ in LOOP_BATCHES for e in (("step", idx), ("batch_end", idx))]
    assert all(c["module"] is model and c["trainer"] is trainer for c in calls)


def test_lit_validation_start(make_trainer, boring_model, random_loader, recording_plugin):
    check_loop_start("validation", make_trainer, recording_plugin, random_loader, boring_model)
    states = []
    trainer = make_trainer(limit_val_batches=1, plugins=[plugin(lit_validation_start=lambda trainer: states.append(trainer.sanity_checking))])
    trainer.fit(boring_model())
    assert states == [True, False], "also during the sanity check, then during fit"


def test_lit_validation_end(make_trainer, boring_model, random_loader, recording_plugin):
    check_loop_end("validation", make_trainer, recording_plugin, random_loader, boring_model)


def test_lit_validation_epoch_start(make_trainer, boring_model, random_loader, recording_plugin):
    check_loop_epoch_start("validation", make_trainer, recording_plugin, random_loader, boring_model)


def test_lit_validation_epoch_end(make_trainer, boring_model, random_loader, recording_plugin):
    check_loop_epoch_end("validation", make_trainer, recording_plugin, random_loader, boring_model)


def test_lit_validation_batch_start(make_trainer, boring_model, random_loader, recording_plugin):
    check_loop_batch_start("validation", make_trainer, recording_plugin, random_loader, boring_model)


def test_lit_validation_batch_end(make_trainer, boring_model, random_loader, recording_plugin):
    check_loop_batch_end("validation", make_trainer, recording_plugin, random_loader, boring_model)


def test_lit_test_start(make_trainer, boring_model, random_loader, recording_plugin):
    check_loop_start("test", make_trainer, recording_plugin, random_loader, boring_model)


def test_lit_test_end(make_trainer, boring_model, random_loader, recording_plugin):
    check_loop_end("test", make_trainer, recording_plugin, random_loader, boring_model)


def test_lit_test_epoch_start(make_trainer, boring_model, random_loader, recording_plugin):
    check_loop_epoch_start("test", make_trainer, recording_plugin, random_loader, boring_model)


def test_lit_test_epoch_end(make_trainer, boring_model, random_loader, recording_plugin):
    check_loop_epoch_end("test", make_trainer, recording_plugin, random_loader, boring_model)


def test_lit_test_batch_start(make_trainer, boring_model, random_loader, recording_plugin):
    check_loop_batch_start("test", make_trainer, recording_plugin, random_loader, boring_model)


def test_lit_test_batch_end(make_trainer, boring_model, random_loader, recording_plugin):
    check_loop_batch_end("test", make_trainer, recording_plugin, random_loader, boring_model)


def test_lit_predict_start(make_trainer, boring_model, random_loader, recording_plugin):
    check_loop_start("predict", make_trainer, recording_plugin, random_loader, boring_model)


def test_lit_predict_end(make_trainer, boring_model, random_loader, recording_plugin):
    check_loop_end("predict", make_trainer, recording_plugin, random_loader, boring_model)


def test_lit_predict_epoch_start(make_trainer, boring_model, random_loader, recording_plugin):
    check_loop_epoch_start("predict", make_trainer, recording_plugin, random_loader, boring_model)


def test_lit_predict_epoch_end(make_trainer, boring_model, random_loader, recording_plugin):
    check_loop_epoch_end("predict", make_trainer, recording_plugin, random_loader, boring_model)


def test_lit_predict_batch_start(make_trainer, boring_model, random_loader, recording_plugin):
    check_loop_batch_start("predict", make_trainer, recording_plugin, random_loader, boring_model)


def test_lit_predict_batch_end(make_trainer, boring_model, random_loader, recording_plugin):
    check_loop_batch_end("predict", make_trainer, recording_plugin, random_loader, boring_model)


def test_lit_print_model_summary(make_trainer, boring_model, capsys):
    seen = []
    replacing = plugin(lit_print_model_summary=lambda trainer, module: seen.append((trainer.state.fn, module)) or True)
    model = boring_model()
    trainer = make_trainer(limit_train_batches=1, enable_model_summary=True, plugins=[replacing])
    trainer.fit(model)
    trainer.validate(model)
    assert seen == [("fit", model)], "once per fit, with the user's module"
    assert "Total params" not in capsys.readouterr().out, "the first non-None result replaces the default table"

    make_trainer(limit_train_batches=1, enable_model_summary=False, plugins=[replacing]).fit(model)
    assert len(seen) == 1, "enable_model_summary=False asks nobody"
    make_trainer(limit_train_batches=1, enable_model_summary=True).fit(model)
    out = capsys.readouterr().out
    assert "Total params" in out and "Trainable params" in out, "the default prints a table"


def test_lit_print_results(make_trainer, boring_model, capsys):
    seen = []
    trainer = make_trainer(limit_train_batches=1, plugins=[plugin(lit_print_results=lambda stage, results: seen.append((stage, results)) or True)])
    model = boring_model()
    validated = trainer.validate(model)
    tested = trainer.test(model)
    trainer.validate(model, verbose=False)
    trainer.fit(model)
    assert seen == [("validate", validated), ("test", tested)], "validate() and test() only, unless verbose=False"
    assert "metric" not in capsys.readouterr().out, "the first non-None result replaces the default table"

    make_trainer().test(model)
    out = capsys.readouterr().out
    assert "Test metric" in out and "test_loss" in out, "the default prints a table"


# --------------------------------------------------------------------------------------------
# Collectives
# --------------------------------------------------------------------------------------------


def test_lit_reduce(make_trainer, boring_model):
    class Model(boring_model):
        def validation_step(self, batch, batch_idx):
            self.log("synced_sum", 1.0, reduce_fx="sum", sync_dist=True)
            self.log("local_sum", 1.0, reduce_fx="sum")
            self.log("synced_mean", float(batch_idx), sync_dist=True)
            self.log("local_mean", float(batch_idx))

    strategy = LaunchReduceStrategy()
    with pytest.warns(DeprecationWarning, match="the lit_reduce hook is deprecated"), \
            pytest.warns(DeprecationWarning, match="the lit_launch hook is deprecated"):
        trainer = make_trainer(strategy=strategy)
    (results,) = trainer.validate(Model())
    assert results["local_sum"] == 4.0 and results["synced_sum"] == 8.0, "self.log(sync_dist=True) goes through the hook"
    assert results["synced_mean"] == results["local_mean"] == 1.5, "a mean reduces its total and its weight"
    assert [e for e in strategy.events if e[0] == "reduce"] == [("reduce", "sum")] * 3
    assert trainer.strategy.reduce(torch.tensor(2.0), "max") == 2.0 and strategy.events[-1] == ("reduce", "max")


def test_lit_all_gather(make_trainer, boring_model):
    gathered, seen = [], []

    class Model(boring_model):
        def validation_step(self, batch, batch_idx):
            gathered.append(self.trainer.strategy.all_gather(batch[1], sync_grads=batch_idx == 0))
            return super().validation_step(batch, batch_idx)

    make_trainer().validate(Model())
    assert [g.shape for g in gathered] == [(1, 2, 1)] * 4, "the single-process default"

    def all_gather(tensor, sync_grads):
        seen.append(sync_grads)
        return torch.stack([tensor, tensor])

    gathered.clear()
    with pytest.warns(DeprecationWarning, match="the lit_all_gather hook is deprecated"):
        trainer = make_trainer(plugins=[plugin(lit_all_gather=all_gather)])
    trainer.validate(Model())
    assert [g.shape for g in gathered] == [(2, 2, 1)] * 4 and seen == [True, False, False, False]


def test_lit_barrier(make_trainer, boring_model, tmp_root):
    names = []
    with pytest.warns(DeprecationWarning, match="the lit_barrier hook is deprecated"):
        trainer = make_trainer(plugins=[plugin(lit_barrier=lambda name: names.append(name) or True)])
    model = boring_model()
    trainer.validate(model)
    assert names == ["prepare_data"], "every process waits for prepare_data"
    trainer.save_checkpoint(tmp_root / "model.ckpt")
    trainer.strategy.barrier("mine")
    assert names == ["prepare_data", "save_checkpoint", "mine"]


def test_lit_broadcast(make_trainer, boring_model):
    sent = []

    class Model(boring_model):
        def validation_step(self, batch, batch_idx):
            sent.append(self.trainer.strategy.broadcast(f"from batch {batch_idx}", src=0))
            return super().validation_step(batch, batch_idx)

    make_trainer(limit_val_batches=1).validate(Model())
    assert sent == ["from batch 0"], "the single-process default returns the object"
    sent.clear()
    with pytest.warns(DeprecationWarning, match="the lit_broadcast hook is deprecated"):
        trainer = make_trainer(limit_val_batches=1, plugins=[plugin(lit_broadcast=lambda obj, src: f"rank {src}: {obj}")])
    trainer.validate(Model())
    assert sent == ["rank 0: from batch 0"]


# --------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------


def test_lit_save_checkpoint_state(make_trainer, boring_model, tmp_root):
    seen = []

    def save_state(trainer, module, checkpoint):
        seen.append((module, set(checkpoint)))
        checkpoint["test-plugin"] = {"global_step": trainer.global_step}

    class Probe(lit.Callback):
        def on_save_checkpoint(self, trainer, pl_module, checkpoint):
            checkpoint["from-callback"] = 1

    class Model(boring_model):
        def on_save_checkpoint(self, checkpoint):
            checkpoint["from-module"] = 2

    model = Model()
    trainer = make_trainer(callbacks=[Probe()], plugins=[plugin(lit_save_checkpoint_state=save_state)])
    trainer.fit(model)
    assert seen == [], "only when a checkpoint is saved"
    trainer.save_checkpoint(tmp_root / "full.ckpt")
    loaded = torch.load(tmp_root / "full.ckpt", weights_only=True)
    assert (loaded["test-plugin"], loaded["from-callback"], loaded["from-module"]) == ({"global_step": 4}, 1, 2)
    assert seen[0][0] is model and {"state_dict", "optimizer_states", "epoch", "global_step"} <= seen[0][1]
    trainer.save_checkpoint(tmp_root / "weights.ckpt", weights_only=True)
    assert len(seen) == 1 and "test-plugin" not in torch.load(tmp_root / "weights.ckpt", weights_only=True), "not for weights only"


def test_lit_load_checkpoint_state(make_trainer, boring_model, tmp_root):
    seen = []

    def load_state(module, checkpoint):
        seen.append((checkpoint["test-plugin"], torch.equal(module.layer.weight, checkpoint["state_dict"]["layer.weight"])))

    class Model(boring_model):
        def on_load_checkpoint(self, checkpoint):
            seen.append("module")

    saver = make_trainer(plugins=[plugin(lit_save_checkpoint_state=lambda checkpoint: checkpoint.update({"test-plugin": "state"}))])
    saver.fit(boring_model())
    saver.save_checkpoint(tmp_root / "last.ckpt")

    trainer = make_trainer(max_epochs=2, plugins=[plugin(lit_load_checkpoint_state=load_state)])
    trainer.fit(Model(), ckpt_path=tmp_root / "last.ckpt")
    assert seen == [("state", True), "module"], "after the weights are restored; the module's on_load_checkpoint too"
    assert trainer.global_step == 8, "resumed at step 4"
    trainer.validate(Model(), ckpt_path=tmp_root / "last.ckpt")
    assert len(seen) == 4


def test_lit_save_checkpoint(make_trainer, boring_model, tmp_root, monkeypatch):
    seen = []
    trainer = make_trainer(plugins=[plugin(lit_save_checkpoint=lambda checkpoint, path: seen.append((set(checkpoint), path)) or True)])
    trainer.fit(boring_model())
    trainer.save_checkpoint(tmp_root / "elsewhere.ckpt")
    ((keys, path),) = seen
    assert path == str(tmp_root / "elsewhere.ckpt") and {"state_dict", "optimizer_states"} <= keys
    assert not (tmp_root / "elsewhere.ckpt").exists(), "the first non-None result replaces the default writer"
    trainer.global_rank = 1
    trainer.save_checkpoint(tmp_root / "elsewhere.ckpt")
    assert len(seen) == 1, "global rank zero only"

    trainer = make_trainer()
    trainer.fit(boring_model())
    folder = tmp_root / "checkpoints"
    trainer.save_checkpoint(folder / "last.ckpt")
    trainer.save_checkpoint(folder / "last.ckpt")
    assert os.listdir(folder) == ["last.ckpt"], "the default leaves no temporary file"

    real_save = torch.save

    def torn_save(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", torn_save)
    trainer.global_step = 99
    with pytest.raises(OSError, match="disk full"):
        trainer.save_checkpoint(folder / "last.ckpt")
    monkeypatch.setattr(torch, "save", real_save)
    assert os.listdir(folder) == ["last.ckpt"]
    assert torch.load(folder / "last.ckpt", weights_only=True)["global_step"] == 4, "a failed save keeps the last good file"


executed: list[str] = []


def _run_code() -> str:
    executed.append("ran")
    return "pwned"


class Payload:
    """Unpickling this object calls ``_run_code``: what a malicious checkpoint would do."""

    def __reduce__(self):
        return (_run_code, ())


def test_lit_resolve_checkpoint_path(make_trainer, boring_model, tmp_root):
    saver = make_trainer()
    saver.fit(boring_model())
    saver.save_checkpoint(tmp_root / "epoch1.ckpt")
    asked = []

    def resolve(name):
        asked.append(name)
        return str(tmp_root / "epoch1.ckpt") if name == "last" else None

    trainer = make_trainer(max_epochs=2, plugins=[plugin(lit_resolve_checkpoint_path=resolve)])
    trainer.fit(boring_model(), ckpt_path="last")
    assert asked == ["last"] and trainer.global_step == 8, "resumed from the file the plugin named"

    trainer = make_trainer(max_epochs=1, plugins=[plugin(lit_resolve_checkpoint_path=resolve)])
    with pytest.raises(MisconfigurationException, match=r"ckpt_path=.best.: there is no best checkpoint"):
        trainer.fit(boring_model(), ckpt_path="best")

    # Nobody knows a last checkpoint: a warning, and training starts from scratch.
    trainer = make_trainer(max_epochs=1)
    with pytest.warns(UserWarning, match=r"ckpt_path='last': no last checkpoint found \(no checkpoint callback"):
        trainer.fit(boring_model(), ckpt_path="last")
    assert trainer.global_step == 4

    # validate() without a model after fit() asks for "best"; with a model it does not.
    asked.clear()
    trainer = make_trainer(max_epochs=1, plugins=[plugin(lit_resolve_checkpoint_path=resolve)])
    model = boring_model()
    trainer.fit(model)
    trainer.validate()
    assert asked == ["best"]
    trainer.validate(model)
    assert asked == ["best"]


def test_lit_load_checkpoint(make_trainer, boring_model, tmp_root):
    saver = make_trainer()
    saver.fit(boring_model())
    saver.save_checkpoint(tmp_root / "real.ckpt")
    stored = torch.load(tmp_root / "real.ckpt", weights_only=True)

    seen = []

    def load(trainer, path, map_location):
        seen.append((path, map_location == trainer.device))
        return stored

    (tmp_root / "remote.ckpt").write_bytes(b"not a torch file")
    trainer = make_trainer(max_epochs=2, plugins=[plugin(lit_load_checkpoint=load)])
    trainer.fit(boring_model(), ckpt_path=str(tmp_root / "remote.ckpt"))
    assert seen == [(str(tmp_root / "remote.ckpt"), True)]
    assert trainer.global_step == 8, "the plugin's dict was restored; the default never read the file"

    torch.save({**stored, "payload": Payload()}, tmp_root / "evil.ckpt")
    with pytest.raises(pickle.UnpicklingError):
        make_trainer().fit(boring_model(), ckpt_path=tmp_root / "evil.ckpt")
    assert executed == [], "the default loads with weights_only=True: a checkpoint cannot run code"


# --------------------------------------------------------------------------------------------
# Logging
# --------------------------------------------------------------------------------------------


def test_lit_log_metrics(make_trainer, boring_model):
    losses, by_plugin = [], []

    class Model(boring_model):
        def training_step(self, batch, batch_idx):
            loss = super().training_step(batch, batch_idx)
            losses.append(loss.item())
            self.log("train_loss", loss)
            return loss

    logger = ListLogger()
    trainer = make_trainer(logger=logger, log_every_n_steps=2, limit_val_batches=2, num_sanity_val_steps=0,
                           plugins=[plugin(lit_log_metrics=lambda metrics, step: by_plugin.append((step, metrics)))])
    trainer.fit(Model())
    assert logger.metrics == [
        (1, {"train_loss": pytest.approx(losses[1]), "epoch": 0}),
        (3, {"train_loss": pytest.approx(losses[3]), "epoch": 0}),
        (3, {"val_loss": pytest.approx(trainer.callback_metrics["val_loss"].item()), "epoch": 0}),
    ], "every log_every_n_steps optimizer steps, and at the end of validation"
    assert all(type(v) is float for _, metrics in logger.metrics for k, v in metrics.items() if k != "epoch"), "Python floats"
    assert by_plugin == logger.metrics, "every implementation is called"


def test_lit_log_hyperparams(make_trainer, boring_model, recording_plugin):
    class Model(boring_model):
        def __init__(self, lr=0.1, hidden=3, log_them=True):
            super().__init__()
            self.save_hyperparameters(logger=log_them)

    logger = ListLogger()
    trainer = make_trainer(logger=logger, limit_train_batches=1, limit_val_batches=1)
    recorder = recording_plugin(trainer, "lit_log_hyperparams", "lit_fit_start")
    trainer.fit(Model(lr=0.5))
    assert logger.params == [{"lr": 0.5, "hidden": 3, "log_them": True}]
    assert recorder.names == ["lit_log_hyperparams", "lit_fit_start"], "once, before the loop"
    assert recorder.of("lit_log_hyperparams")[0]["params"] == logger.params[0]

    logger.params.clear()
    make_trainer(logger=logger, limit_train_batches=1, limit_val_batches=1).fit(Model(log_them=False))
    assert logger.params == [], "not with save_hyperparameters(logger=False)"


# --------------------------------------------------------------------------------------------
# Ending
# --------------------------------------------------------------------------------------------


def test_lit_exception(make_trainer, boring_model, recording_plugin):
    seen = []

    class Failing(boring_model):
        def __init__(self, error):
            super().__init__()
            self.error = error

        def training_step(self, batch, batch_idx):
            if batch_idx == 1:
                raise self.error
            return super().training_step(batch, batch_idx)

    class Probe(lit.Callback):
        def on_exception(self, trainer, pl_module, exception):
            seen.append(("callback", pl_module, exception))

    logger = ListLogger()
    trainer = make_trainer(logger=logger, callbacks=[Probe()],
                           plugins=[plugin(lit_exception=lambda module, exception: seen.append(("plugin", module, exception)))])
    recorder = recording_plugin(trainer, "lit_exception", "lit_teardown")
    model = Failing(RuntimeError("boom"))
    with pytest.raises(RuntimeError, match="boom") as raised:
        trainer.fit(model)
    assert sorted(seen, key=str) == [("callback", model, raised.value), ("plugin", model, raised.value)], "then re-raised"
    assert recorder.names == ["lit_exception"]
    assert logger.statuses == ["failed"] and trainer.state.status == "interrupted"

    with pytest.raises(SystemExit):  # Ctrl+C: the same shutdown, then status 1 (Lightning 2.6)
        trainer.fit(Failing(KeyboardInterrupt()))
    assert logger.statuses == ["failed", "failed"]


def test_lit_teardown(make_trainer, boring_model, random_loader, recording_plugin):
    events = []

    class Data(lit.LightningDataModule):
        def teardown(self, stage):
            events.append(f"datamodule {stage}")

        def train_dataloader(self):
            return random_loader()

        def val_dataloader(self):
            return random_loader()

        def test_dataloader(self):
            return random_loader()

        def predict_dataloader(self):
            return random_loader()

    class Model(boring_model):
        def teardown(self, stage):
            events.append(f"module {stage}")

    class Probe(lit.Callback):
        def teardown(self, trainer, pl_module, stage):
            events.append(f"callback {stage}")

    logger = ListLogger()
    trainer = make_trainer(logger=logger, callbacks=[Probe()], limit_train_batches=1, limit_val_batches=1)
    recorder = recording_plugin(trainer)
    model = Model()
    for entry, stage in [("fit", "fit"), ("validate", "validate"), ("test", "test"), ("predict", "predict")]:
        recorder.calls.clear()
        events.clear()
        getattr(trainer, entry)(model, datamodule=Data())
        assert recorder.calls[-1] == ("lit_teardown", {"trainer": trainer, "module": model, "stage": stage}), "the very end"
        assert recorder.names[-2] == f"lit_{'fit' if stage == 'fit' else LOOP_PREFIX[stage]}_end"
        assert events == [f"callback {stage}", f"module {stage}", f"datamodule {stage}"]
    assert logger.statuses == ["success"] * 4, "loggers finalize at teardown"

