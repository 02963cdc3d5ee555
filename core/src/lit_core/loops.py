"""The loops: lit-core's implementation of ``lit_run_stage`` (fit, validate, test, predict).

Hot-path rules: event hooks are looked up once per stage in ``trainer.state.events`` and skipped
when nobody implements them; user methods are bound once; nothing converts a tensor to a
Python number per step: the NaN check reads the latest loss when metrics go to the loggers and
at each epoch's end (every step only with ``detect_anomaly=True``).
"""

from __future__ import annotations

import functools
import inspect
import itertools
import math
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import torch

from . import namespace
from .builtins.adapters import overrides, positional_arity
from .checkpoint import capture_loader_rng, restore_loader_rng, restore_rng
from .data import num_batches, process_dataloader, recording_batch_indices, without_shuffle
from .exceptions import MisconfigurationException, MisconfigurationValueError
from .hot_path import closure_once_first
from .markers import hookimpl
from .metrics import MetricStore, to_float
from .model_mode import ModuleMode
from .module import LightningModule
from .optim import active_optimizers, step_schedulers
from .rank_zero import rank_zero_deprecation, rank_zero_info, rank_zero_warn
from .seed import isolate_rng
from .trainer_state import RunningStage, TrainerFn

if TYPE_CHECKING:
    from .trainer import Trainer


class Loops:
    """The built-in loops plugin (essential: it cannot be disabled, but it can be wrapped)."""

    @hookimpl(trylast=True)
    def lit_run_stage(self, trainer: Trainer, stage: str) -> Any:
        if stage == "fit":
            return FitLoop(trainer).run()
        return EvaluationLoop(trainer, stage).run()


def _batches(iterable: Any, limit: float, start: int = 0) -> Any:
    """``enumerate(iterable, start)`` stopping at batch ``limit``, without fetching one more."""
    return zip(itertools.count(start) if math.isinf(limit) else range(start, int(limit)), iterable)


def _step_arity(method: Callable[..., Any]) -> int:
    arity = positional_arity(method)
    return 99 if arity is None else arity


def eval_step_arg_count(module: LightningModule, name: str, n_loaders: int, kind: str) -> int:
    """How many of ``(batch, batch_idx, dataloader_idx)`` an evaluation / predict step takes (decided once per run).

    As in Lightning: ``batch_idx`` when the signature has room for it, ``dataloader_idx`` only with
    several loaders and a signature that accepts it. A step that requires ``dataloader_idx`` with a
    single loader is Lightning's ``RuntimeError``.
    """
    method = getattr(module, name)
    if n_loaders == 1:
        param = inspect.signature(method).parameters.get("dataloader_idx")
        if param is not None and param.default is param.empty:
            raise RuntimeError(
                f"You provided only a single `{kind}_dataloader`, but have included `dataloader_idx` in "
                f"`{type(module).__name__}.{name}()`. Either remove the argument or give it a default value i.e. "
                "`dataloader_idx=0`."
            )
    arity = _step_arity(method)
    return 3 if n_loaders > 1 and arity >= 3 else min(arity, 2)


def step_method(trainer: Trainer, name: str) -> Callable[..., Any]:
    """The step to call (decided once per loop run): the module's own method, or through what
    ``lit_setup_module`` returned (a wrapper, DDP..., is called as ``model(name, *args)``: see
    ``lit_core.wrappers.StepForward``); inside the context ``lit_autocast`` gives, if any."""
    module, model = trainer.lightning_module, trainer.model
    step = getattr(module, name) if model is None or model is module else functools.partial(model, name)
    autocast = trainer.plugin_manager.hook.lit_autocast(trainer=trainer)
    if autocast is None:
        return step

    def run(*args: Any) -> Any:
        with autocast:
            return step(*args)

    return run


def _fire(event: Callable[..., Any] | None, **kwargs: Any) -> None:
    """Call an event hook's caller from ``trainer.state.events``; ``None``: nobody implements it."""
    if event is not None:
        event(**kwargs)


#: Per evaluation stage: its dataloader kind, its hooks' prefix, Lightning's stage while it runs.
_EVALUATION = {"validate": ("val", "validation", RunningStage.VALIDATING), "test": ("test", "test", RunningStage.TESTING),
               "predict": ("predict", "predict", RunningStage.PREDICTING)}


class EvaluationLoop:
    """Validation (alone, inside fit, or as the sanity check), test and predict: the step over each
    dataloader without gradients, the module in eval mode.

    A predict run's loop is ``trainer.predict_loop`` while it runs and after, as in Lightning:
    prediction writers find there what they write.
    """

    def __init__(self, trainer: Trainer, stage: str, sanity_check: bool = False) -> None:
        self.trainer = trainer
        self.stage = stage  # "validate", "test" or "predict"
        self.sanity_check = sanity_check
        self.kind, self.prefix, self.running_stage = _EVALUATION[stage]
        self._outputs: list[list[Any]] = []
        #: Per dataloader, each batch's sample indices (recorded when a prediction writer writes per epoch).
        self.epoch_batch_indices: list[list[list[int]]] = []
        #: The current batch's sample indices (recorded when a prediction writer writes per batch).
        self.current_batch_indices: list[int] = []
        if stage == "predict":
            trainer.predict_loop = self

    @property
    def predictions(self) -> list[Any]:
        """The kept outputs: a list per batch, or a list of those per dataloader when there are several."""
        return self._outputs[0] if len(self._outputs) == 1 else self._outputs

    def loaders(self) -> list[Any]:
        trainer = self.trainer
        if self.kind == "val" and not overrides(trainer.lightning_module, LightningModule, "validation_step"):
            return []
        loaders = trainer.fetch_dataloaders(self.kind)
        if trainer.overfit_batches and self.kind == "val":
            loaders = [without_shuffle(loader) for loader in loaders]
        return loaders

    def run(self, loaders: list[Any] | None = None) -> Any:
        """Run the stage; the results per dataloader (validate, test), or the predictions."""
        trainer, state = self.trainer, self.trainer.state
        module, kind, sanity_check, predicting = trainer.lightning_module, self.kind, self.sanity_check, self.stage == "predict"
        if loaders is None:
            loaders = self.loaders()
            if not loaders:
                raise MisconfigurationException(
                    f"trainer.{self.stage}() found no {kind} data: pass dataloaders=, a datamodule with "
                    f"{kind}_dataloader(), or define {kind}_dataloader() on the module."
                )
        setattr(trainer, f"{kind}_dataloaders", loaders)
        state.eval_loaders = loaders
        flag = f"limit_{kind}_batches"
        limit = getattr(trainer, flag)
        for loader in loaders:
            num_batches(loader, limit, kind, flag)  # an empty or mis-limited loader fails before any hook
        # The sanity check runs num_sanity_val_steps batches, within limit_val_batches (-1: all of them).
        most = trainer.num_sanity_val_steps if sanity_check and trainer.num_sanity_val_steps != -1 else math.inf
        # A prediction writer (whatever ``lit_core.callbacks.BasePredictionWriter`` resolves to; its
        # ``interval`` says when it writes) needs the outputs kept for a write per epoch, and the
        # batches' sample indices. Asked without importing anything: no writer, no provider imported.
        writer = namespace.imported_class("lit_core.callbacks", "BasePredictionWriter") if predicting else None
        intervals = [cb.interval for cb in trainer.callbacks if writer is not None and isinstance(cb, writer)]
        record_batch, record_epoch = any(i.on_batch for i in intervals), any(i.on_epoch for i in intervals)
        epoch_end_method = getattr(module, f"{self.prefix}_epoch_end", None)  # Lightning 1.x
        keep = state.return_predictions or record_epoch if predicting else epoch_end_method is not None
        store = None if predicting else MetricStore(trainer.strategy.reduce)
        start, epoch_start, batch_start, batch_end, epoch_end, end = (
            getattr(state.events, f"{self.prefix}_{name}") for name in ("start", "epoch_start", "batch_start", "batch_end", "epoch_end", "end")
        )
        step = step_method(trainer, f"{self.prefix}_step")
        step_end = getattr(module, f"{self.prefix}_step_end", None)  # Lightning 1.x
        n_args = eval_step_arg_count(module, f"{self.prefix}_step", len(loaders), kind)
        grad_context = torch.inference_mode if trainer.inference_mode else torch.no_grad
        eval_steps = 0  # batches of this run, over every dataloader: the logger step of per-step values

        outer = state.stage, state.metrics, state.log_on_step
        if not sanity_check:
            state.stage = self.running_stage
            if store is not None:
                state.eval_metrics = store
        state.metrics, state.log_on_step = store, False
        mode = ModuleMode(module)
        getattr(module, f"on_{self.prefix}_model_eval")()
        try:
            with grad_context():
                _fire(start, trainer=trainer, module=module)
                # A start hook may have rebuilt them (lit_core.trial.reload_dataloaders: the batch-size finder).
                loaders = getattr(trainer, f"{kind}_dataloaders")
                _fire(epoch_start, trainer=trainer, module=module)
                for dl_idx, loader in enumerate(loaders):
                    state.dataloader_idx = dl_idx
                    outputs: list[Any] = []
                    epoch_indices: list[list[int]] = []
                    self._outputs.append(outputs)
                    self.epoch_batch_indices.append(epoch_indices)
                    iterable = trainer.plugin_manager.hook.lit_process_dataloader(
                        trainer=trainer, dataloader=loader, stage="sanity_check" if sanity_check else self.stage)
                    recorder = None
                    if record_batch or record_epoch:
                        iterable, recorder = recording_batch_indices(iterable)
                    for batch_idx, batch in _batches(iterable, min(most, num_batches(iterable, limit, kind, flag))):
                        if recorder is not None:
                            self.current_batch_indices = recorder.seen[batch_idx] if record_batch else []
                            if record_epoch:
                                epoch_indices.append(recorder.seen[batch_idx])
                        batch = state.to_device(batch, dl_idx)
                        state.batch, state.batch_size = batch, None
                        if batch_start is not None:
                            batch_start(trainer=trainer, module=module, batch=batch, batch_idx=batch_idx, dataloader_idx=dl_idx)
                        output = step(*(batch, batch_idx, dl_idx)[:n_args])
                        if step_end is not None:
                            output = step_end(output)
                        if keep:
                            outputs.append(output)
                        if batch_end is not None:
                            batch_end(trainer=trainer, module=module, outputs=output, batch=batch, batch_idx=batch_idx, dataloader_idx=dl_idx)
                        if store is not None and store.fresh and not sanity_check:
                            # self.log(..., on_step=True) in an evaluation step: one row per batch, as in Lightning.
                            trainer.send_to_loggers(store.step_values_for_logger(), eval_steps)
                        eval_steps += 1
                state.dataloader_idx = None
                if epoch_end_method is not None:
                    epoch_end_method(self.predictions)
                _fire(epoch_end, trainer=trainer, module=module)
                if store is not None:
                    for_logger = store.end_epoch()
                    if not sanity_check:
                        fitting = state.fn == TrainerFn.FITTING
                        trainer.send_to_loggers(for_logger, max(state.batches_that_stepped - 1, 0) if fitting else state.batches_that_stepped)
                _fire(end, trainer=trainer, module=module)
        finally:
            state.dataloader_idx = None
            state.stage, state.metrics, state.log_on_step = outer
            train_hook = f"on_{self.prefix}_model_train"
            if overrides(module, LightningModule, train_hook):
                getattr(module, train_hook)()
            else:
                mode.restore(module)  # every submodule back in its own mode, as Lightning 2.6
        if predicting:
            return self.predictions if state.return_predictions else None
        results = self._results(store, len(loaders))
        if not sanity_check and state.fn != TrainerFn.FITTING and trainer.is_global_zero and state.verbose and any(results):
            trainer.plugin_manager.hook.lit_print_results(trainer=trainer, stage=self.stage, results=results)
        return results

    @staticmethod
    def _results(store: MetricStore, n_loaders: int) -> list[dict[str, float]]:
        results: list[dict[str, float]] = [{} for _ in range(n_loaders)]
        for key, value in to_float(store.results()).items():
            for idx in [int(key.rsplit("_", 1)[1])] if "/dataloader_idx_" in key else range(n_loaders):
                results[idx][key] = value
        return results


class _Closure:
    """Runs ``training_step`` and the backward pass; what ``optimizer.step(closure)`` calls."""

    __slots__ = ("batch", "batch_idx", "calls", "loop", "optimizer", "optimizer_idx", "output", "stepping")

    def __init__(self, loop: FitLoop, optimizer: Any, optimizer_idx: int) -> None:
        self.loop = loop
        self.optimizer = optimizer
        self.optimizer_idx = optimizer_idx

    def prepare(self, batch: Any, batch_idx: int, stepping: bool) -> None:
        """Point the closure at a new batch (one closure per optimizer serves every batch)."""
        self.batch, self.batch_idx, self.stepping = batch, batch_idx, stepping
        self.calls = 0
        self.output: Any = None

    def __call__(self) -> torch.Tensor | None:
        loop = self.loop
        if self.calls:
            # Optimizers such as LBFGS re-evaluate: each evaluation starts from zero gradients.
            self.optimizer.zero_grad()
        self.calls += 1
        output = self.output = loop.run_step(self.batch, self.batch_idx, self.optimizer_idx)
        # The common case, a scalar loss tensor that requires grad, checked inline; loss_of says what is wrong otherwise.
        if type(output) is torch.Tensor and output.requires_grad and output.numel() == 1 and not loop.check_nan_now:
            loss = loop.last_loss = output  # read for NaN later, with the logging (see FitLoop.check_loss)
        else:
            loss = loop.loss_of(output, automatic=True)
            if loss is None:
                return None
        if loop.accumulate > 1:
            loss = loss / loop.accumulate
        if loop.plain_backward:
            loop.trainer.state.backward_call(loss, self.optimizer, self.optimizer_idx, (), {})
        else:
            loop.trainer.backward(loss, self.optimizer, self.optimizer_idx)
        if self.stepping and loop.pre_step_work:
            loop.before_optimizer_step(self.optimizer, self.optimizer_idx)
        return loss


class FitLoop:
    """Epochs of training batches, validation when due, stopping rules."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.state = trainer.state
        self.module = trainer.lightning_module
        self.accumulate = trainer.accumulate_grad_batches
        #: The latest loss, read for NaN when metrics go to the loggers (every ``log_every_n_steps``
        #: optimizer steps) and at each epoch's end: reading it every step costs a host read (and a
        #: device sync off the CPU), and reading it then costs nothing more than the logging does.
        self.last_loss: torch.Tensor | None = None
        #: barebones=True drops the NaN check altogether, unless detect_anomaly=True asks for it.
        #: detect_anomaly=True (or Lightning 1.x's terminate_on_nan=True): every loss is read before its backward pass.
        every_step = bool(trainer.detect_anomaly) or trainer.terminate_on_nan
        self.check_nan = not trainer.barebones or every_step
        self.check_nan_now = every_step
        # Every checkpoint written from here on is refused while the latest loss is not finite.
        trainer.state.loss_check = self.check_loss
        #: Whether the 0.x-era step dict ({'loss', 'log', 'progress_bar'}) was seen (warned once per fit).
        self.legacy_step_dict = False

    # -- setup ---------------------------------------------------------------------------------

    def _load_dataloaders(self) -> None:
        """The training dataloader (its batches counted) and the validation ones: what ``fit`` was given, or
        what the module or datamodule builds."""
        trainer = self.trainer
        loaders = trainer.fetch_dataloaders("train")
        if not loaders:
            raise MisconfigurationException(
                "trainer.fit() found no training data: pass train_dataloaders=, a datamodule with train_dataloader(), "
                "or define train_dataloader() on the module."
            )
        # Several training loaders arrive as one CombinedLoader (see lit_core.data.as_loader_list).
        loader = without_shuffle(loaders[0]) if trainer.overfit_batches else loaders[0]
        self.train_loader = trainer.train_dataloader = loader
        self._count_batches(loader)
        self.val_loop = EvaluationLoop(trainer, "validate")
        self.val_loaders = trainer.val_dataloaders = self.val_loop.loaders() if trainer.limit_val_batches != 0 else []

    def _count_batches(self, loader: Any) -> None:
        trainer = self.trainer
        self.n_batches = num_batches(loader, trainer.limit_train_batches, "train", "limit_train_batches")
        trainer.state.epoch_batches_total = self.n_batches
        self._set_val_check_batch()

    def _set_val_check_batch(self) -> None:
        trainer = self.trainer
        vci = trainer.val_check_interval
        if isinstance(vci, float):
            # In [0.0, 1.0]: the Trainer's flag check (lit_core.flag_checks.check_batch_limit).
            if vci != 1.0 and math.isinf(self.n_batches):
                raise MisconfigurationException(
                    f"val_check_interval={vci} is a fraction, but the training dataloader has no length: give an int."
                )
            self.val_every = None if vci == 1.0 else max(1, int(self.n_batches * vci))
        else:
            if vci < 1:
                raise MisconfigurationException(f"val_check_interval={vci} must be >= 1 batch.")
            if trainer.check_val_every_n_epoch is not None and vci > self.n_batches:
                raise MisconfigurationValueError(  # ValueError, as Lightning
                    f"val_check_interval={vci} is more than the {int(self.n_batches)} training batches per epoch: lower it, "
                    "or set check_val_every_n_epoch=None to count batches across epochs."
                )
            self.val_every = vci

    # -- the loop ------------------------------------------------------------------------------

    def run(self) -> None:
        trainer = self.trainer
        module = self.module
        events = trainer.state.events
        self.training_step = step_method(trainer, "training_step")
        self.step_end = getattr(module, "training_step_end", None)  # Lightning 1.x
        arity = _step_arity(module.training_step)
        # training_step(self, batch) is called without batch_idx, as in Lightning; the seed's
        # several-optimizer form takes (batch, batch_idx, optimizer_idx).
        several = module.automatic_optimization and len(trainer.optimizers) > 1
        self.n_step_args = 3 if several and arity >= 3 else 2 if arity >= 2 else 1
        self.collect_epoch_outputs = hasattr(module, "training_epoch_end")
        #: Whether an implementation of lit_train_batch_end takes ``outputs`` (a plugin that only
        #: watches steps does not, and then no outputs dict is built per batch).
        self.batch_end_reads_outputs = any(
            "outputs" in impl.argnames for impl in trainer.plugin_manager.hook.lit_train_batch_end.get_hookimpls()
        )
        self.custom_clipping = overrides(module, LightningModule, "configure_gradient_clipping")
        # Lightning 1.x: configure_gradient_clipping(self, optimizer, optimizer_idx, gradient_clip_val, ...).
        self.clipping_takes_idx = "optimizer_idx" in inspect.signature(module.configure_gradient_clipping).parameters
        self.closures = [_Closure(self, opt, idx) for idx, opt in enumerate(trainer.optimizers)]
        #: optimizer index -> its schedulers stepped per optimizer step (interval="step").
        self.step_schedulers = [
            [c for c in trainer.lr_scheduler_configs if c.opt_idx == idx and c.interval == "step"]
            for idx in range(len(trainer.optimizers))
        ]
        # The common case, measured: one of torch's optimizers, stepped by the kernel's default with nothing
        # around it (no optimizer_step override, no zero_grad hook, no per-step scheduler): closure(), step() and
        # zero_grad() called here. benchmarks/overhead.py, seed MLP, paired: through lit_optimizer_step and
        # trainer.zero_grad +40 us/step (wall ratio 1.04-1.05x, goal <= 1.03x); this way see hot_path's docstring.
        state = trainer.state
        defaults = trainer.plugin_manager.get_plugin("lit.defaults")
        #: Nothing around the backward pass but the kernel's default: the module's backward is called directly.
        self.plain_backward = (getattr(state.services.backward, "__self__", None) is defaults and state.services.scale_loss is None
                               and state.events.before_backward is None and state.events.after_backward is None)
        #: Something to do between the backward pass and the step (hooks, clipping).
        self.pre_step_work = bool(state.events.before_optimizer_step or state.events.gradients_ready or self.custom_clipping
                                  or trainer.gradient_clip_val)
        self.direct_step = (
            len(self.closures) == 1 and not state.optimizer_setup.frequencies and not self.step_schedulers[0]
            and getattr(state.services.optimizer_step, "__self__", None) is defaults
            and state.module_optimizer_step is None and state.events.before_zero_grad is None
            and not state.zero_grad_overridden and closure_once_first(trainer.optimizers[0])
        )
        if not module.automatic_optimization and self.accumulate > 1:
            raise MisconfigurationException(
                f"accumulate_grad_batches={self.accumulate} works with automatic optimization only: in manual "
                "optimization, step the optimizers every N batches yourself in training_step."
            )
        # self.log in the fit / train / epoch start hooks records per-epoch values, as in Lightning.
        trainer.state.metrics, trainer.state.log_on_step = trainer.state.train_metrics, False
        _fire(events.fit_start, trainer=trainer, module=module)
        # After on_fit_start, as in Lightning: a hook there may change what the dataloaders are
        # built from (the batch-size finder sets the new batch size).
        self._load_dataloaders()
        self._sanity_check()
        _fire(events.train_start, trainer=trainer, module=module)
        first_epoch = trainer.current_epoch
        if self.n_batches == 0:
            rank_zero_info("limit_train_batches=0: training is skipped.")
        while self.n_batches and not self._done():
            epoch = trainer.current_epoch
            every = trainer.reload_dataloaders_every_n_epochs
            if every and epoch != first_epoch and epoch % every == 0:
                self._load_dataloaders()
            self._run_epoch()
            self.state.current_epoch += 1
            self.state.epoch_completed = False
            self.state.epoch_batches_done = 0
        trainer.state.metrics = None
        _fire(events.train_end, trainer=trainer, module=module)
        _fire(events.fit_end, trainer=trainer, module=module)

    def _min_reached(self) -> bool:
        trainer = self.trainer
        return (trainer.min_epochs is None or trainer.current_epoch >= trainer.min_epochs) and (
            trainer.min_steps is None or trainer.global_step >= trainer.min_steps
        )

    def _done(self) -> bool:
        trainer = self.trainer
        return ((trainer.max_steps != -1 and trainer.global_step >= trainer.max_steps)
                or (trainer.max_epochs != -1 and trainer.current_epoch >= trainer.max_epochs)
                or self._out_of_time() or (trainer.should_stop and self._min_reached()))

    def _out_of_time(self) -> bool:
        trainer = self.trainer
        return trainer.max_time is not None and time.monotonic() - trainer.state.start_time >= trainer.max_time

    def _sanity_check(self) -> None:
        trainer = self.trainer
        if not self.val_loaders or trainer.num_sanity_val_steps == 0:
            return

        events = trainer.state.events
        trainer.sanity_checking = True
        trainer.state.stage = RunningStage.SANITY_CHECKING
        _fire(events.sanity_check_start, trainer=trainer, module=self.module)
        # As Lightning's: the check draws no random numbers the run would see (each val iterator takes a seed).
        with isolate_rng():
            EvaluationLoop(trainer, "validate", sanity_check=True).run(self.val_loaders)
        _fire(events.sanity_check_end, trainer=trainer, module=self.module)
        trainer.sanity_checking = False
        trainer.state.stage = None

    def _val_due(self, batch_idx: int, is_last: bool) -> bool:
        trainer = self.trainer
        if not self.val_loaders:
            return False
        every_n = trainer.check_val_every_n_epoch
        if every_n is not None and (trainer.current_epoch + 1) % every_n:
            return False
        if self.val_every is None:
            return is_last
        count = batch_idx + 1 if every_n is not None else trainer.state.total_batches_seen
        return count % self.val_every == 0

    def _run_epoch(self) -> None:

        trainer = self.trainer
        state = self.state
        module = self.module
        events = state.events
        state.stage = RunningStage.TRAINING
        # No module.train() (Lightning 2.6): submodules the user put in eval mode stay there.
        torch.set_grad_enabled(True)
        store = state.train_metrics
        state.metrics, state.log_on_step = store, False
        state.epoch_completed = False
        _fire(events.train_epoch_start, trainer=trainer, module=module)
        state.log_on_step = True
        # Read each epoch: a callback (GradientAccumulationScheduler) may change it in on_train_epoch_start.
        self.accumulate = trainer.accumulate_grad_batches
        # Lightning 2.6 steps interval="epoch" schedulers that monitor nothing right after the epoch's last
        # batch (before end-of-epoch validation, on_train_epoch_end and its checkpoints). Read each epoch:
        # a callback (StochasticWeightAveraging) may swap them in on_train_epoch_start.
        epoch_schedulers = [c for c in trainer.lr_scheduler_configs if c.interval == "epoch" and not c.needs_metric]
        resume, state.resume = state.resume, None
        if resume is not None:
            restore_loader_rng(self.train_loader, resume.epoch_rng)
        # What decides this epoch's order, for a checkpoint saved in the middle of it.
        state.epoch_rng = capture_loader_rng(self.train_loader)
        iterable = process_dataloader(trainer, self.train_loader, "train")
        # A strategy may have inserted a sampler or batch sampler (a shard of the data): count and seed what is
        # iterated (both, as Lightning: a DataLoader built with a batch_sampler has a default sampler too).
        for sampler in (getattr(iterable, "sampler", None), getattr(iterable, "batch_sampler", None)):
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(trainer.current_epoch)
        if iterable is not self.train_loader:
            self._count_batches(iterable)
        n_batches = self.n_batches
        batches = _batches(iterable, n_batches) if resume is None else self._resume_epoch(iterable, n_batches, resume)
        state.epoch_batches_done = ran = 0 if resume is None else resume.done
        # Resumed after the last batch (saved in its on_train_batch_end): the checkpoint holds that step already.
        stepped_schedulers = resume is not None and resume.done >= n_batches
        log_every = trainer.log_every_n_steps
        logging_on = trainer.state.log_metrics is not None and log_every > 0
        automatic = module.automatic_optimization
        accumulate = self.accumulate
        # Checks that are usually off are decided once here, not per batch.
        batch_start, batch_end = events.train_batch_start, events.train_batch_end
        # The outputs (the step's dict, loss detached) are built only when someone reads them.
        wants_outputs = (batch_end is not None and self.batch_end_reads_outputs) or self.collect_epoch_outputs
        may_validate = bool(self.val_loaders)
        max_steps = trainer.max_steps if trainer.max_steps != -1 else math.inf
        timed = trainer.max_time is not None
        to_device = trainer.state.to_device
        epoch_outputs: list[Any] = []
        validated_at_end = exhausted = False
        for batch_idx, batch in batches:
            ran += 1
            is_last = batch_idx + 1 >= n_batches
            batch = to_device(batch, 0)
            # The stepping rule, decided here only: plugins read state.stepping (DDP's gradient sync, preemption).
            stepping = is_last or (batch_idx + 1) % accumulate == 0
            state.batch, state.batch_size, state.batch_idx = batch, None, batch_idx
            state.is_last_batch, state.stepping = is_last, stepping
            if batch_start is not None and -1 in batch_start(trainer=trainer, module=module, batch=batch, batch_idx=batch_idx):
                break
            if automatic:
                output = self._direct(batch, batch_idx, stepping) if self.direct_step else self._automatic(batch, batch_idx, stepping)
            else:
                output = self.run_step(batch, batch_idx, None)
                self.loss_of(output, automatic=False)
            # Counted before on_train_batch_end, so a checkpoint saved there resumes after this batch.
            state.epoch_batches_done = batch_idx + 1
            state.total_batches_seen += 1
            if stepping:
                state.batches_that_stepped += 1
            if is_last and automatic and epoch_schedulers:
                step_schedulers(trainer, "epoch", epoch_schedulers, state.current_epoch + 1)
                stepped_schedulers = True
            outputs = self._outputs(output) if wants_outputs else None
            if batch_end is not None:
                batch_end(trainer=trainer, module=module, outputs=outputs, batch=batch, batch_idx=batch_idx)
            if self.collect_epoch_outputs and outputs is not None:
                epoch_outputs.append(outputs)
            if stepping and logging_on and state.batches_that_stepped % log_every == 0:
                if self.check_nan:
                    self.check_loss()  # the values are fetched now anyway (a device sync off the CPU)
                trainer.send_to_loggers(store.step_values_for_logger(), state.batches_that_stepped - 1)
            if may_validate and self._val_due(batch_idx, is_last):
                self.val_loop.run(self.val_loaders)
                validated_at_end = is_last
            if state.global_step >= max_steps or (timed and self._out_of_time()):
                break
            if state.should_stop and self._min_reached():
                break
        else:
            exhausted = True
        if ran == 0 and state.current_epoch == 0:
            raise MisconfigurationException(
                "The training dataloader yielded no batches: check the dataset (an IterableDataset that is empty, or "
                "a sampler that selects nothing)."
            )
        if self.val_every is None and not validated_at_end and math.isinf(n_batches) and self._val_due(0, True):
            self.val_loop.run(self.val_loaders)
        # An epoch cut short (max_steps, should_stop, max_time) steps no epoch scheduler, as in Lightning.
        complete = stepped_schedulers or (exhausted and ran > 0)
        self._end_epoch(store, epoch_outputs, complete, epoch_schedulers if complete and not stepped_schedulers else [])

    def _resume_epoch(self, iterable: Any, limit: float, resume: Any) -> Any:
        """``_batches`` for an epoch resumed mid-way: the done batches are fetched and dropped.

        ``iter()`` ran with the epoch's captured random state, so the sampler draws the same order;
        fetching (not only indexing) the done batches keeps data workers and random transforms
        where they were. Then the random state is put back as it was when the checkpoint was saved.
        Says so when no batches are left because the data shrank since the save.
        """
        iterator = iter(iterable)
        done, total = resume.done, resume.total
        fetched = sum(1 for _ in itertools.islice(iterator, done))
        if total is None or done < total:  # unfinished (older checkpoints do not record the epoch's length)
            if not math.isinf(limit) and (done > limit or (done == limit and total is not None)):
                now = f"now has {int(limit)} batches"
            else:
                now = f"ran out after {fetched} batches" if fetched < done else None
            if now is not None:
                epoch = self.trainer.current_epoch
                had = f" (it had {int(total)} batches at the save)" if total is not None and not math.isinf(total) else ""
                rank_zero_warn(f"Mid-epoch checkpoint resumed at batch {done} of epoch {epoch} but the train dataloader "
                               f"{now}: the rest of epoch {epoch} is skipped{had}. Resume on the data the checkpoint was "
                               "saved with to train on every batch of that epoch.")
        if resume.rng_states is not None:
            restore_rng(resume.rng_states)
        return _batches(iterator, limit, done)

    def _end_epoch(self, store: MetricStore, epoch_outputs: list[Any], complete: bool, late_schedulers: list[Any]) -> None:
        """Epoch-end hooks and logging, then the schedulers still due: those monitoring a metric (after
        on_train_epoch_end, so they can read what it logged) and, for an iterable of unknown length whose
        last batch was not known in advance, the others."""
        trainer = self.trainer
        module = self.module
        events = trainer.state.events
        trainer.state.log_on_step = False
        trainer.state.epoch_completed = True  # a checkpoint saved from here on resumes at the next epoch
        if self.check_nan:
            self.check_loss()
        for_logger = store.end_epoch()
        if self.collect_epoch_outputs:
            module.training_epoch_end(epoch_outputs)
        _fire(events.train_epoch_end, trainer=trainer, module=module)
        for_logger.update(store.end_epoch())
        trainer.send_to_loggers(for_logger, max(trainer.state.batches_that_stepped - 1, 0))
        if module.automatic_optimization and complete:
            due = late_schedulers + [c for c in trainer.lr_scheduler_configs if c.interval == "epoch" and c.needs_metric]
            step_schedulers(trainer, "epoch", due, trainer.current_epoch + 1)
        trainer.state.stage = None

    # -- one batch -----------------------------------------------------------------------------

    def run_step(self, batch: Any, batch_idx: int, optimizer_idx: int | None) -> Any:
        """``training_step`` with the arguments its signature takes, then Lightning 1.x's ``training_step_end``."""
        output = self.training_step(*(batch, batch_idx, optimizer_idx)[: self.n_step_args])
        return output if self.step_end is None else self.step_end(output)

    def loss_of(self, output: Any, automatic: bool) -> torch.Tensor | None:
        """The loss in ``training_step``'s output, checked; ``None`` skips the batch."""
        if output is None:
            return None
        is_dict = type(output) is not torch.Tensor and isinstance(output, Mapping)
        if is_dict and ("log" in output or "progress_bar" in output):  # the 0.x-era dict form (dict returns only)
            self._log_step_dict(output)
        if not isinstance(output, torch.Tensor) and not (is_dict and "loss" in output):
            if not automatic:
                return None  # manual optimization: training_step may return anything
            raise MisconfigurationException(
                f"training_step returned a dict without a 'loss' key (keys: {sorted(output)}). Return the loss tensor, "
                "or {'loss': loss, ...}." if is_dict else f"training_step returned {type(output).__name__}; it must "
                "return the loss tensor, a dict with a 'loss' key, or None to skip the batch."
            )
        loss = output["loss"] if is_dict else output
        if not isinstance(loss, torch.Tensor):
            problem = f"'s loss is a {type(loss).__name__}, not a tensor: compute it with torch operations so it can be back-propagated."
        elif automatic and loss.numel() != 1:
            problem = f" returned a loss of shape {tuple(loss.shape)}; it must be a scalar: reduce it (e.g. loss.mean())."
        elif automatic and not loss.requires_grad:
            problem = (" returned a loss that does not require grad: it was detached, computed under torch.no_grad(), or "
                       "from parameters with requires_grad=False.")
        else:
            self.last_loss = loss  # read for NaN when metrics go to the loggers and at the epoch's end
            if self.check_nan_now:
                self.check_loss(deferred=False)
            return loss
        raise MisconfigurationException(f"training_step{problem}")

    def _log_step_dict(self, output: Mapping[str, Any]) -> None:
        """``{'loss': ..., 'log': {...}, 'progress_bar': {...}}``: 'log' values go to the loggers,
        'progress_bar' values to the bar, each logged for this step (Lightning 0.x / 1.0 semantics)."""
        if not self.legacy_step_dict:
            self.legacy_step_dict = True
            rank_zero_deprecation(
                "training_step returned a dict with 'log' / 'progress_bar' entries, a form deprecated since Lightning "
                "1.0: call self.log(name, value) for the loggers and self.log(name, value, prog_bar=True) for the bar."
            )
        log, bar = output.get("log") or {}, output.get("progress_bar") or {}
        for name in {**log, **bar}:
            value = log[name] if name in log else bar[name]
            self.module.log(name, value, prog_bar=name in bar, logger=name in log, on_step=True, on_epoch=False,
                            reduce_fx="mean", add_dataloader_idx=False)

    def check_loss(self, saving: str | None = None, deferred: bool = True) -> None:
        """Raise ``FloatingPointError`` when the latest loss is NaN or infinite.

        Every step with ``detect_anomaly=True``; else when metrics go to the loggers and at each
        epoch's end (``deferred``); and before every checkpoint (``saving``: its path), which
        ``trainer.save_checkpoint`` then refuses to write: one host read each time, nothing per step.
        """
        loss = self.last_loss
        # Read on the host: on XLA a check on the device would be a graph of its own to compile.
        if loss is None or torch.isfinite(loss.detach().cpu()).all():
            return
        trainer = self.trainer
        where = f"at epoch {trainer.current_epoch}, global step {trainer.global_step}"
        if saving is not None:
            where = (f"(found before saving {saving!r} {where}: that checkpoint was not written, so the checkpoints "
                     "on disk are from steps whose loss was finite)")
        elif deferred:
            every = trainer.log_every_n_steps if trainer.state.log_metrics is not None else 0
            when = f"with the logging, every {every} optimizer steps (log_every_n_steps), and " if every > 0 else ""
            where = f"(found {where}: lit reads the latest loss {when}at each epoch's end, so it may have turned NaN earlier)"
        raise FloatingPointError(
            f"The loss is NaN or infinite {where}. Lower the learning rate, clip gradients "
            "(Trainer(gradient_clip_val=1.0)), check the data for NaNs, or use Trainer(detect_anomaly=True), which "
            "checks every loss before its backward pass and finds the operation that produced a NaN."
        )

    @staticmethod
    def _outputs(output: Any) -> Any:
        if isinstance(output, torch.Tensor):
            return {"loss": output.detach()}
        if isinstance(output, Mapping) and isinstance(output.get("loss"), torch.Tensor):
            return {**output, "loss": output["loss"].detach()}
        return output

    def _direct(self, batch: Any, batch_idx: int, stepping: bool) -> Any:
        """``_automatic`` for ``direct_step``: what the kernel's default optimizer step and zero_grad do, called here."""
        closure = self.closures[0]
        closure.prepare(batch, batch_idx, stepping)
        closure()
        if stepping:
            optimizer = closure.optimizer
            optimizer.step()
            optimizer.zero_grad()
            self.state.global_step += 1
        return closure.output

    def _automatic(self, batch: Any, batch_idx: int, stepping: bool) -> Any:
        """One batch of automatic optimization: for each active optimizer, the closure (step, backward)
        through ``lit_optimizer_step`` when the batch steps, then ``zero_grad`` and the per-step schedulers."""
        trainer, module, state = self.trainer, self.module, self.state
        setup = state.optimizer_setup
        several = len(self.closures) > 1
        output = None
        for opt_idx in active_optimizers(setup, state.total_batches_seen) if setup.frequencies else range(len(self.closures)):
            optimizer = trainer.optimizers[opt_idx]
            if several:
                module.toggle_optimizer(optimizer)
            closure = self.closures[opt_idx]
            closure.prepare(batch, batch_idx, stepping)
            if stepping:
                state.services.optimizer_step(trainer=trainer, module=module, optimizer=optimizer, optimizer_idx=opt_idx,
                                              closure=closure, batch_idx=batch_idx)
                if closure.calls == 0:
                    raise MisconfigurationException(
                        "optimizer_step did not call the closure: pass it on, optimizer.step(closure=optimizer_closure), "
                        "so training_step and backward run."
                    )
                trainer.zero_grad(optimizer, batch_idx)
                state.global_step += 1
                if self.step_schedulers[opt_idx]:
                    step_schedulers(trainer, "step", self.step_schedulers[opt_idx], batch_idx + 1)  # Lightning counts batches of the epoch
            else:
                closure()
            if several:
                module.untoggle_optimizer(optimizer)
            output = closure.output
        return output

    def before_optimizer_step(self, optimizer: Any, optimizer_idx: int) -> None:
        """Inside the closure, after backward: the hook, then gradient clipping."""
        trainer = self.trainer
        module = self.module
        events = trainer.state.events
        if events.before_optimizer_step is not None:
            events.before_optimizer_step(trainer=trainer, module=module, optimizer=optimizer, optimizer_idx=optimizer_idx)
        if self.custom_clipping:
            args = (optimizer, optimizer_idx) if self.clipping_takes_idx else (optimizer,)
            module.configure_gradient_clipping(*args, trainer.gradient_clip_val, trainer.gradient_clip_algorithm)
        elif trainer.gradient_clip_val:
            trainer.state.services.clip_gradients(trainer=trainer, module=module, optimizer=optimizer,
                                             clip_val=trainer.gradient_clip_val, algorithm=trainer.gradient_clip_algorithm)
        if events.gradients_ready is not None:
            events.gradients_ready(trainer=trainer, module=module, optimizer=optimizer, optimizer_idx=optimizer_idx)
