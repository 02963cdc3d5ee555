"""Trial runs: a few steps of the running stage whose effects are undone afterwards.

The tuner (lit-callbacks' learning-rate and batch-size finders) runs the stage's loop a few
times from inside a stage hook (``on_fit_start``, ``on_validation_start``...), as Lightning's
tuner does, and needs the run to go on afterwards as if nothing had happened. ``Trial`` is the
kernel's public piece for that, so that no plugin touches the Trainer's private counters::

    with Trial(trainer, callbacks=[probe], max_steps=10, limit_val_batches=0) as trial:
        trial.run()                           # the loop of trainer.state.fn, as configured
    # weights, optimizer and scheduler states, step/epoch counters, logged metrics, random
    # state, the Trainer's flags, callbacks and loggers are as they were before ``with``.

Inside the trial the given callbacks replace the Trainer's, and its loggers are unregistered
(nothing is logged, no checkpoint is written, no progress bar moves); the module's hooks and
the other plugins (accelerator, strategy, precision, ``plugins=[...]``) take part as in any
run. The sanity check is off, and the flags given override the Trainer's.
The snapshot is taken in memory (state dicts cloned to the CPU), not through a checkpoint
file, so a user's ``on_save_checkpoint`` / ``on_load_checkpoint`` are not called by tuning.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import torch

from .checkpoint import restore_rng
from .checkpoint_contents import restore_training_state, training_state
from .exceptions import MisconfigurationException
from .hot_path import bind as bind_hot_path
from .metrics import MetricStore
from .selection import register_callbacks

if TYPE_CHECKING:
    from .callback import Callback
    from .trainer import Trainer

#: Trainer flags a trial may override (and that are put back afterwards).
FLAGS = (
    "max_steps", "max_epochs", "min_steps", "min_epochs", "max_time", "limit_train_batches", "limit_val_batches",
    "limit_test_batches", "limit_predict_batches", "val_check_interval", "check_val_every_n_epoch",
    "num_sanity_val_steps", "reload_dataloaders_every_n_epochs", "accumulate_grad_batches",
)

#: What the run holds besides ``trainer.state``: read before the trial, written back after it.
_STATE = (
    "train_dataloader", "val_dataloaders", "test_dataloaders", "predict_dataloaders",
    "lr_scheduler_configs", "optimizers", "sanity_checking", "callbacks", "predict_loop",
)


def _cpu_clone(state: Any) -> Any:
    """A deep copy of a state dict whose tensors live on the CPU (the GPU keeps its memory for the trial)."""
    if isinstance(state, torch.Tensor):
        return state.detach().to("cpu", copy=True)
    if isinstance(state, dict):
        return {k: _cpu_clone(v) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(_cpu_clone(v) for v in state)
    return copy.deepcopy(state)


class Trial:
    """Run the current stage's loop on trial inside a running stage; undo its effects on exit.

    :param trainer: the running Trainer (called from one of its stage hooks).
    :param callbacks: the only callbacks active during the trial.
    :param flags: Trainer flags for the trial (``max_steps=``, ``limit_val_batches=``...; see
        ``FLAGS``); the sanity check is always off.
    """

    def __init__(self, trainer: Trainer, callbacks: Iterable[Callback] = (), **flags: Any) -> None:
        unknown = set(flags) - set(FLAGS)
        if unknown:
            raise MisconfigurationException(f"Trial(): {sorted(unknown)} cannot be set for a trial; these can: {FLAGS}.")
        if trainer.lightning_module is None or trainer.state.fn is None:
            raise MisconfigurationException("Trial() runs inside a stage: call it from a hook of a running fit/validate/test/predict.")
        self.trainer = trainer
        self.callbacks = list(callbacks)
        self.flags = {"num_sanity_val_steps": 0, **flags}

    def __enter__(self) -> Trial:
        trainer = self.trainer
        module = trainer.lightning_module
        pm = trainer.plugin_manager
        self._registered = list(pm.list_name_plugin())
        self._attributes = {name: getattr(trainer, name) for name in (*FLAGS, *_STATE)}
        # The loop state as a whole (a trial's fit loop sets its own loss check: the run's saves check the run's loss).
        self._loop_state = copy.copy(trainer.state)
        self._loop_state.logged_metrics = dict(trainer.state.logged_metrics)  # the trial's loop updates the dict
        self._training = module.training
        # What a checkpoint would hold of the run, in memory (tensors cloned to the CPU).
        self._saved = _cpu_clone({"state_dict": module.state_dict(), **training_state(trainer)})
        for name, value in self.flags.items():
            setattr(trainer, name, value)
        trainer.optimizers = list(trainer.optimizers)
        trainer.lr_scheduler_configs = list(trainer.lr_scheduler_configs)
        trainer.state.train_metrics = MetricStore(trainer.strategy.reduce)
        trainer.state.eval_metrics = MetricStore(trainer.strategy.reduce)
        trainer.should_stop = False
        # Only the trial's callbacks and the kernel's own plugins take part: no logger, no checkpoint, no bar.
        for lg in trainer.loggers:
            _unregister(trainer, lg)
        _reregister_callbacks(trainer, list(self.callbacks))
        bind_hot_path(trainer)
        # As Lightning's tuner, which runs the loop alone: the module's (and plugins') fit start and
        # end hooks ran for the real fit and are not called again for each trial.
        trainer.state.events.fit_start = trainer.state.events.fit_end = None
        return self

    def run(self) -> Any:
        """Run the loop of the running stage (``trainer.state.fn``) once with the trial's settings."""
        trainer = self.trainer
        trainer.should_stop = False
        return trainer.plugin_manager.hook.lit_run_stage(trainer=trainer, stage=trainer.state.fn.value)

    def __exit__(self, *exc_info: Any) -> None:
        trainer = self.trainer
        module = trainer.lightning_module
        pm = trainer.plugin_manager
        for name, value in self._attributes.items():
            setattr(trainer, name, value)
        for f in dataclasses.fields(trainer.state):
            setattr(trainer.state, f.name, getattr(self._loop_state, f.name))
        module.load_state_dict(self._saved["state_dict"])
        restore_training_state(trainer, self._saved, "Trial")  # torch moves optimizer state to the parameters' device
        restore_rng(self._saved["rng_states"])
        module.train(self._training)
        # Everything back in its original registration order: pluggy calls hooks by that order.
        for name, plugin in list(pm.list_name_plugin()):
            if plugin is not None:  # None: a name blocked with ``set_blocked``, which stays blocked
                pm.unregister(name=name)
        for name, plugin in self._registered:
            if plugin is not None:
                pm.register(plugin, name)
        bind_hot_path(trainer)


def _unregister(trainer: Trainer, plugin: Any) -> None:
    pm = trainer.plugin_manager
    if pm.is_registered(plugin):
        pm.unregister(plugin)


def _reregister_callbacks(trainer: Trainer, callbacks: list[Callback]) -> None:
    """Make ``callbacks`` the Trainer's registered callbacks, in that order."""
    pm = trainer.plugin_manager
    for cb in trainer.callbacks:
        _unregister(trainer, cb)
        if pm.get_plugin(f"lit.callback-adapter:{id(cb)}") is not None:
            pm.unregister(name=f"lit.callback-adapter:{id(cb)}")
    trainer.callbacks = callbacks
    register_callbacks(pm, callbacks)
    pm.check_pending()


@contextlib.contextmanager
def with_callbacks(trainer: Trainer, *callbacks: Callback) -> Iterator[Trainer]:
    """``trainer`` with ``callbacks`` first in ``trainer.callbacks`` for the duration of the ``with``.

    The tuner adds its finder this way for one ``trainer.fit``/``validate``/... call, as
    Lightning's ``Tuner`` does; afterwards they are gone and the others are as they were.
    """
    _reregister_callbacks(trainer, [*callbacks, *trainer.callbacks])
    try:
        yield trainer
    finally:
        _reregister_callbacks(trainer, [cb for cb in trainer.callbacks if not any(cb is added for added in callbacks)])


def dataloaders_given(trainer: Trainer, kind: str) -> bool:
    """Whether the running stage's ``kind`` dataloaders ("train", "val", "test", "predict") were
    passed to ``fit``/``validate``/... directly (rather than built by the module or datamodule)."""
    return trainer.state.dataloader_args.get(kind) is not None


def reload_dataloaders(trainer: Trainer) -> None:
    """Build the running evaluation or predict stage's dataloaders again, from the module or datamodule.

    Called from ``on_validation_start`` / ``on_test_start`` / ``on_predict_start`` after changing
    what the dataloaders are built from (the batch-size finder's new size): the stage then runs
    on the new ones. ``fit`` needs no call: it builds its dataloaders after ``on_fit_start``.
    """
    fn = trainer.state.fn.value
    if fn == "fit":
        return
    kind = {"validate": "val", "test": "test", "predict": "predict"}[fn]
    loaders = trainer.fetch_dataloaders(kind)
    setattr(trainer, f"{kind}_dataloaders", loaders)
    if kind != "predict":
        trainer.state.eval_loaders = loaders
