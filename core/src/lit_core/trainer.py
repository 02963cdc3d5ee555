"""``Trainer``: Lightning's flags and entry points over lit's hook-driven loops.

This module wires; each concern is a module of its own: ``selection`` (which accelerator,
strategy, precision, loggers, callbacks; ``lightning_1x``: Lightning 1.x flags), ``trainer_properties``
(Lightning's read-only properties), ``trainer_state`` (``trainer.state``'s types), ``hot_path``
(what a stage binds once, the per-step calls), ``metric_logging`` (``self.log``'s path),
``stage_setup`` (torch settings, ``prepare_data``, checks) and ``checkpoint_contents`` (the
checkpoint dict, restore). The loops are ``lit_core.loops``; the plugin contract is ``lit_core.hookspecs``.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import os
import time
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch.optim import Optimizer

from . import checkpoint_contents, lightning_1x, lineage, profiling, registry, selection, stage_setup, tuning
from .accelerators.accelerator import Accelerator
from .builtins.adapters import callback_plugin, module_plugin, overrides
from .builtins.defaults import KernelDefaults
from .callback import Callback
from .cleanup import run_exception_hooks
from .data import LOADER_METHODS, as_loader_list
from .datamodule import LightningDataModule
from .exceptions import ExitStage, MisconfigurationException, MisconfigurationTypeError
from .flag_checks import check_strategy_devices, check_trainer_flags, parse_max_time
from .hot_path import HotPath
from .hot_path import bind as bind_hot_path
from .hparams import hyperparameters_to_log
from .interrupt import begin_shutdown, end_shutdown
from .logger import Logger, after_save_checkpoint_plugin
from .loops import Loops
from .metric_logging import MetricLogging
from .metrics import MetricStore
from .model_mode import init_context
from .module import LightningModule
from .optim import LightningOptimizer, LRSchedulerConfig, parse_optimizers
from .plugins.precision.precision import Precision
from .rank_zero import rank_zero_info, rank_zero_only
from .seed import seed_everything  # noqa: F401  (Lightning's lightning.pytorch.trainer exports it)
from .strategies.strategy import Strategy
from .trainer_properties import TrainerProperties
from .trainer_state import RunningStage, TrainerFn, TrainerState, TrainerStatus  # noqa: F401  (Lightning's path: lit_core.trainer.states)
from .unique_plugins import check_each_once


class Trainer(TrainerProperties, MetricLogging, HotPath):
    """Runs ``fit`` / ``validate`` / ``test`` / ``predict`` for a ``LightningModule``.

    Takes Lightning's flags. Accelerators, strategies, precision, loggers and callbacks are
    plugins: pass a name (found through entry points), a class, or an instance, in the
    dedicated argument or in ``plugins=[...]``.
    """

    def __init__(
        self,
        *,
        accelerator: str | Accelerator = "auto",
        strategy: str | Strategy = "auto",
        devices: int | str | list[int] = "auto",
        num_nodes: int = 1,
        precision: str | int | Precision = "32-true",
        logger: Any = None,
        callbacks: Any = None,
        plugins: Any = None,
        disable_plugins: Iterable[str] = (),
        fast_dev_run: int | bool = False,
        max_epochs: int | None = None,
        min_epochs: int | None = None,
        max_steps: int = -1,
        min_steps: int | None = None,
        max_time: Any = None,
        limit_train_batches: int | float | None = None,
        limit_val_batches: int | float | None = None,
        limit_test_batches: int | float | None = None,
        limit_predict_batches: int | float | None = None,
        overfit_batches: int | float = 0.0,
        val_check_interval: int | float | None = None,
        check_val_every_n_epoch: int | None = 1,
        num_sanity_val_steps: int | None = None,
        log_every_n_steps: int | None = None,
        enable_checkpointing: bool | None = None,
        enable_progress_bar: bool | None = None,
        enable_model_summary: bool | None = None,
        accumulate_grad_batches: int = 1,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
        deterministic: bool | str | None = None,
        benchmark: bool | None = None,
        inference_mode: bool = True,
        use_distributed_sampler: bool = True,
        profiler: Any = None,
        detect_anomaly: bool = False,
        barebones: bool = False,
        sync_batchnorm: bool = False,
        reload_dataloaders_every_n_epochs: int = 0,
        default_root_dir: str | os.PathLike | None = None,
        prepare_data_per_node: bool | None = None,
        gpus: int | str | list[int] | None = None,
        tpu_cores: int | list[int] | None = None,
        **legacy_kwargs: Any,
    ) -> None:
        """Configure a run; nothing is loaded or started until ``fit`` / ``validate`` / ``test`` / ``predict``.

        Args:
            accelerator: the device kind: ``"cpu"``, ``"cuda"``, ``"xla"``, ``"auto"`` (what this machine has), a
                plugin name, or an ``Accelerator`` instance.
            strategy: how work is spread: ``"auto"``, ``"single_device"``, ``"ddp"``, ``"ddp_spawn"``,
                ``"ddp_notebook"``, ``"fsdp"``..., a plugin name, or a ``Strategy`` instance.
            devices: devices per node: a number, a list of indices, ``-1`` (all) or ``"auto"``.
            num_nodes: machines in the job.
            precision: ``"32-true"``, ``"64-true"``, ``"16-mixed"``, ``"bf16-mixed"``, ``"bf16-true"``... or a
                ``Precision`` instance.
            logger: a logger, a list of them, a plugin name (``"csv"``, ``"tensorboard"``, ``"wandb"``...),
                ``True`` / ``None`` (the default logger) or ``False`` (none).
            callbacks: callbacks: instances or plugin names, added to the default ones.
            plugins: any plugins: names, instances (loggers, callbacks, environments, precision, checkpoint IO...).
            disable_plugins: plugin names never used by default (roles), nor when named.
            fast_dev_run: run 1 (or N) batch of each loop to check the code; no logging or checkpoints.
            max_epochs: stop after this many epochs (default 1000 when neither ``max_steps`` nor ``max_time`` is
                set; ``-1``: no limit).
            min_epochs: train at least this many epochs (early stopping waits).
            max_steps: stop after this many optimizer steps (``-1``: no limit).
            min_steps: train at least this many optimizer steps.
            max_time: stop after this long: ``"DD:HH:MM:SS"``, a dict of ``timedelta`` arguments or a ``timedelta``.
            limit_train_batches: training batches per epoch: a fraction (float) or a number (int).
            limit_val_batches: validation batches per run: a fraction or a number (``0`` turns validation off).
            limit_test_batches: test batches: a fraction or a number.
            limit_predict_batches: prediction batches: a fraction or a number.
            overfit_batches: train and validate on this many (or this fraction of) training batches, unshuffled.
            val_check_interval: validate every this fraction of an epoch (float) or every this many batches (int).
            check_val_every_n_epoch: validate every N epochs (``None``: count batches across epochs).
            num_sanity_val_steps: validation batches run before training (default 2; ``-1``: all).
            log_every_n_steps: send values logged on step to the loggers every N steps (default 50).
            enable_checkpointing: add the default checkpoint callback (default ``True`` when one is installed).
            enable_progress_bar: show the default progress bar (default ``True``).
            enable_model_summary: print the model summary at fit start (default ``True``).
            accumulate_grad_batches: step the optimizer every N batches, gradients summed in between.
            gradient_clip_val: clip gradients to this norm (or value, see ``gradient_clip_algorithm``).
            gradient_clip_algorithm: ``"norm"`` (default) or ``"value"``.
            deterministic: use deterministic algorithms (``True``, or ``"warn"`` to warn only).
            benchmark: set ``torch.backends.cudnn.benchmark``.
            inference_mode: evaluate under ``torch.inference_mode`` (``False``: ``torch.no_grad``).
            use_distributed_sampler: give each process its share of the data under several processes.
            profiler: ``"simple"``, ``"advanced"``, ``"pytorch"``, a profiler instance, or ``None``.
            detect_anomaly: run with ``torch.autograd.set_detect_anomaly``.
            barebones: nothing but the loop (no logger, bar, summary or checkpointing): the lowest cost per step.
            sync_batchnorm: synchronise batch-norm statistics across processes (GPUs).
            reload_dataloaders_every_n_epochs: rebuild the dataloaders every N epochs (``0``: never).
            default_root_dir: where logs and checkpoints go when their plugins are not told (default: the working
                directory).
            prepare_data_per_node: call ``prepare_data`` once per node (``True``) or once per job.
            gpus: Lightning 1.x: ``accelerator="cuda", devices=gpus``.
            tpu_cores: Lightning 1.x: ``accelerator="xla", devices=tpu_cores``.
            **legacy_kwargs: other Lightning 1.x flags, translated with a warning (lit-compat).
        """
        if legacy_kwargs:  # Lightning 1.x flags: translated (with a warning each) by lit_core.lightning_1x's role
            lightning_1x.init_with_legacy_flags(self, legacy_kwargs, locals(), Trainer.__init__)
            return
        check_trainer_flags(locals())  # every flag, before any plugin is loaded
        self.state = TrainerState()
        self.default_root_dir = os.path.expanduser(os.fspath(default_root_dir)) if default_root_dir is not None else os.getcwd()
        self.barebones = barebones
        #: Turns plugin arguments into plugins (``lit_core.selection``); configure_callbacks() uses it too.
        self._selection = select = selection.PluginSelection(disable_plugins, self.default_root_dir)
        self.plugin_manager = registry.PluginManager()
        self.plugin_manager.register(KernelDefaults(select.disabled), "lit.defaults")
        self.plugin_manager.register(Loops(), "lit.loops")

        accelerator, strategy, devices = lightning_1x.translate_seed_flags(accelerator, strategy, devices, gpus, tpu_cores)
        chosen = select.sort_plugins(plugins, accelerator=accelerator, strategy=strategy, precision=precision)
        selection.check_barebones(barebones, enable_checkpointing, enable_progress_bar, enable_model_summary)
        self.fast_dev_run = int(fast_dev_run)

        # ---- devices, accelerator, strategy, precision --------------------------------------
        self.accelerator: Accelerator = select.choose_accelerator(chosen["accelerator"])
        self.device_ids = self.accelerator.parse_devices(devices)
        self.num_devices = len(self.device_ids)
        self.num_nodes = int(num_nodes)
        self.strategy: Strategy = select.choose_strategy(chosen["strategy"], self.accelerator, self.num_devices, self.num_nodes)
        check_strategy_devices(self.strategy, self.num_devices, self.num_nodes)
        self.strategy.trainer = self
        selection.give_cluster_environment(self.strategy, chosen["environment"])
        self.precision_plugin: Precision = select.choose_precision(chosen["precision"])
        self.precision: str = self.precision_plugin.name
        self.sync_batchnorm = sync_batchnorm
        self.use_distributed_sampler = use_distributed_sampler
        self.global_rank = 0
        self.local_rank = 0
        self.node_rank = 0
        self.world_size = self.num_devices * self.num_nodes
        self.device: torch.device = self.accelerator.get_device(self.device_ids[0])
        self.prepare_data_per_node = prepare_data_per_node

        # ---- loggers and callbacks ----------------------------------------------------------
        quiet = barebones or self.fast_dev_run > 0
        self.loggers: list[Logger] = [] if quiet else select.choose_loggers(logger, chosen["logger"])
        self.callbacks: list[Callback] = select.choose_callbacks(
            callbacks, chosen["callback"], enable_progress_bar, enable_checkpointing, quiet, barebones)
        self.enable_model_summary = enable_model_summary is not False and not barebones

        check_each_once(self.loggers, self.callbacks, chosen["other"])  # before pluggy sees a duplicate
        for plugin, name in ((self.accelerator, "accelerator"), (self.strategy, "strategy"), (self.precision_plugin, "precision")):
            self.plugin_manager.register(plugin, f"lit.{name}:{plugin.name}")
        for lg in self.loggers:
            lg.attach(self)
            self.plugin_manager.register(lg, selection.plugin_name(self.plugin_manager, "logger", lg))
            after_save = after_save_checkpoint_plugin(lg)  # Lightning's Logger.after_save_checkpoint, when overridden
            if after_save is not None:
                self.plugin_manager.register(after_save, f"lit.logger-adapter:{id(lg)}")
        # pluggy asks later registrations first: register in reverse to call them in the order given.
        for plugin in reversed(chosen["other"]):
            self.plugin_manager.register(plugin, selection.plugin_name(self.plugin_manager, "plugin", plugin))
        selection.register_callbacks(self.plugin_manager, self.callbacks)
        #: Lightning's ``trainer.profiler``: a do-nothing one unless ``profiler=`` names one (``lit_core.profiling``).
        self.profiler = profiling.choose(profiler, select.disabled, barebones)
        profiling.register(self.plugin_manager, self.profiler)
        self.plugin_manager.check_pending()
        self.plugin_manager.hook.lit_init_start(trainer=self)

        # ---- loop flags ---------------------------------------------------------------------
        max_steps = -1 if max_steps is None else max_steps  # Lightning 1.x's default for "no limit"
        if self.fast_dev_run:
            n = self.fast_dev_run
            limit_train_batches = limit_val_batches = limit_test_batches = limit_predict_batches = n
            max_epochs, max_steps, num_sanity_val_steps, val_check_interval = 1, n, 0, 1.0
            rank_zero_info(f"Running in fast_dev_run mode: {n} batch(es) of each loop, no logger, no checkpoints.")
        self.max_epochs = max_epochs if max_epochs is not None else (1000 if max_steps == -1 and max_time is None else -1)
        self.min_epochs = min_epochs
        self.max_steps = max_steps
        self.min_steps = min_steps
        self.max_time = parse_max_time(max_time)
        self.overfit_batches = overfit_batches
        if overfit_batches:
            limit_train_batches = limit_val_batches = overfit_batches
        self.limit_train_batches = 1.0 if limit_train_batches is None else limit_train_batches
        self.limit_val_batches = 1.0 if limit_val_batches is None else limit_val_batches
        self.limit_test_batches = 1.0 if limit_test_batches is None else limit_test_batches
        self.limit_predict_batches = 1.0 if limit_predict_batches is None else limit_predict_batches
        self.val_check_interval = 1.0 if val_check_interval is None else val_check_interval
        self.check_val_every_n_epoch = check_val_every_n_epoch
        self.num_sanity_val_steps = 2 if num_sanity_val_steps is None else num_sanity_val_steps
        self.log_every_n_steps = 50 if log_every_n_steps is None else log_every_n_steps
        self.accumulate_grad_batches = accumulate_grad_batches
        self.gradient_clip_val = gradient_clip_val
        self.gradient_clip_algorithm = gradient_clip_algorithm or "norm"
        self.deterministic = deterministic
        self.benchmark = benchmark
        self.inference_mode = inference_mode
        self.detect_anomaly = detect_anomaly
        # Set by Lightning 1.x flags (lit_core.lightning_1x): a NaN check on every loss (terminate_on_nan),
        # the next fit's checkpoint (resume_from_checkpoint).
        #: Lightning 1.x's ``terminate_on_nan``: the fit loop reads every loss, without anomaly mode.
        self.terminate_on_nan = False
        #: Lightning 1.x's ``resume_from_checkpoint``: the next ``fit()`` given no ``ckpt_path=`` restores it (once).
        self.resume_from_checkpoint: str | None = None
        self.reload_dataloaders_every_n_epochs = reload_dataloaders_every_n_epochs
        #: Lightning 1.x's tuning flags (given through lit_core.lightning_1x), read by ``trainer.tune()``.
        self.auto_lr_find: bool | str = False
        self.auto_scale_batch_size: bool | str = False

        # ---- run state ----------------------------------------------------------------------
        self.lightning_module: LightningModule | None = None
        self.model: torch.nn.Module | None = None
        self.datamodule: LightningDataModule | None = None
        self.optimizers: list[Optimizer] = []
        self.lr_scheduler_configs: list[LRSchedulerConfig] = []
        self.sanity_checking = False
        self.train_dataloader: Any = None
        self.val_dataloaders: list[Any] = []
        self.test_dataloaders: list[Any] = []
        self.predict_dataloaders: list[Any] = []
        # The loop's position, the current batch, the logging session: trainer.state (lit_core.loop_state).
        self.state.train_metrics = MetricStore(self.strategy.reduce)
        self.state.eval_metrics = MetricStore(self.strategy.reduce)
        #: What each checkpoint records of its run (``lit_core.lineage``), taken when a stage starts.
        self._lineage: dict[str, Any] | None = None
        self._model_given = True
        self._fit_ran = False
        #: The last ``predict``'s loop: its ``predictions`` and batch indices (Lightning's ``trainer.predict_loop``).
        self.predict_loop: Any = None
        self._ckpt_path: str | None = None
        #: ``trainer.ckpt_path = path`` was set for the next stage.
        self._ckpt_path_set = False
        self.plugin_manager.hook.lit_init_end(trainer=self)

    # Lightning 1.x's argparse helpers (deprecated), from the lightning_1x_flags role (lit_core.lightning_1x).
    add_argparse_args = lightning_1x.argparse_method("add_argparse_args")
    from_argparse_args = lightning_1x.argparse_method("from_argparse_args", "Trainer(**vars(args))")
    parse_argparser = lightning_1x.argparse_method("parse_argparser")
    get_init_arguments_and_types = lightning_1x.argparse_method("get_init_arguments_and_types", "inspect.signature")
    default_attributes = lightning_1x.argparse_method("default_attributes", "inspect.signature")

    # ==== Pickling: launchers that start processes with multiprocessing (ddp_spawn) send the Trainer ====

    def __getstate__(self) -> dict[str, Any]:
        """The Trainer without its plugin manager: the registered plugins, in order, instead.

        Callback adapters (compiled trampolines) are recorded as their callback and rebuilt; the
        module's adapter is registered by each stage anyway.
        """
        state = {k: v for k, v in self.__dict__.items() if k != "plugin_manager"}
        # What every stage rebuilds (hot_path.bind's compiled callers, the fit loop's NaN check) does not pickle.
        state["state"] = copy.copy(self.state)
        state["state"].per_stage_reset()
        adapters = {f"lit.callback-adapter:{id(cb)}": cb for cb in self.callbacks}
        state["_registered"] = [
            (None, adapters[name]) if name in adapters else (name, plugin)
            for name, plugin in self.plugin_manager.list_name_plugin()
            if name != "lit.module-adapter"
        ]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        registered = state.pop("_registered")
        self.__dict__.update(state)
        self.plugin_manager = registry.PluginManager()
        for name, plugin in registered:
            if name is None:
                self.plugin_manager.register(callback_plugin(plugin), f"lit.callback-adapter:{id(plugin)}")
            else:
                self.plugin_manager.register(plugin, name)
        self.plugin_manager.check_pending()

    @contextlib.contextmanager
    def init_module(self, empty_init: bool | None = None) -> Iterator[None]:
        """Create the model inside: its tensors get the precision's dtype (``"bf16-true"``...) on the device.

        ``empty_init=True`` skips the weights' initialization (``torch.nn.init``), for models
        whose weights are loaded from a checkpoint right after. On the CPU at ``32-true`` this
        changes nothing.
        """
        with self._init_context(empty_init):
            yield

    def _init_context(self, empty_init: bool | None) -> contextlib.AbstractContextManager:
        local_rank = int(os.environ.get("LOCAL_RANK", self.local_rank))
        device = self.accelerator.get_device(self.device_ids[local_rank % len(self.device_ids)]) if self.device_ids else None
        return init_context(device, self.precision_plugin.tensor_init_context(), empty_init)

    # ==== Entry points ============================================================================

    def fit(self, model: LightningModule, train_dataloaders: Any = None, val_dataloaders: Any = None,
            datamodule: LightningDataModule | None = None, ckpt_path: str | None = None) -> None:
        """Train ``model``; validate during training when it has a ``validation_step``."""
        if isinstance(train_dataloaders, LightningDataModule):
            datamodule, train_dataloaders = train_dataloaders, None
        self._attach(model, datamodule, TrainerFn.FITTING, train=train_dataloaders, val=val_dataloaders)
        if ckpt_path is None:  # Lightning 1.x: Trainer(resume_from_checkpoint=...) is the next fit's ckpt_path
            ckpt_path, self.resume_from_checkpoint = self.resume_from_checkpoint, None
        self._run(TrainerFn.FITTING, ckpt_path)

    def validate(self, model: LightningModule | None = None, dataloaders: Any = None, ckpt_path: str | None = None,
                 verbose: bool = True, datamodule: LightningDataModule | None = None) -> list[dict[str, float]]:
        """Run the validation loop once; returns one dict of metrics per dataloader."""
        return self._evaluate(TrainerFn.VALIDATING, "val", model, dataloaders, ckpt_path, verbose, datamodule)

    def test(self, model: LightningModule | None = None, dataloaders: Any = None, ckpt_path: str | None = None,
             verbose: bool = True, datamodule: LightningDataModule | None = None) -> list[dict[str, float]]:
        """Run the test loop; returns one dict of metrics per dataloader and prints a table."""
        return self._evaluate(TrainerFn.TESTING, "test", model, dataloaders, ckpt_path, verbose, datamodule)

    def predict(self, model: LightningModule | None = None, dataloaders: Any = None, datamodule: LightningDataModule | None = None,
                return_predictions: bool | None = None, ckpt_path: str | None = None) -> Any:
        """Run ``predict_step`` over the predict dataloader(s); returns the predictions."""
        if isinstance(dataloaders, LightningDataModule):
            datamodule, dataloaders = dataloaders, None
        self.state.return_predictions = return_predictions is not False
        self._attach(model, datamodule, TrainerFn.PREDICTING, predict=dataloaders)
        return self._run(TrainerFn.PREDICTING, ckpt_path)

    def tune(self, model: LightningModule, train_dataloaders: Any = None, val_dataloaders: Any = None, dataloaders: Any = None,
             datamodule: LightningDataModule | None = None, scale_batch_size_kwargs: dict[str, Any] | None = None,
             lr_find_kwargs: dict[str, Any] | None = None, method: str = "fit") -> dict[str, Any]:
        """Lightning 1.x (deprecated): run the searches ``auto_scale_batch_size`` / ``auto_lr_find`` ask for."""
        return tuning.tune(self, model, train_dataloaders, val_dataloaders, dataloaders, datamodule,
                           scale_batch_size_kwargs, lr_find_kwargs, method)

    @property
    def tuner(self) -> Any:
        """Lightning 1.x's tuner, deprecated, as ``trainer.tuner.lr_find(model)`` / ``.scale_batch_size(model)``."""
        return tuning.legacy_tuner(self)

    def _evaluate(self, fn: TrainerFn, kind: str, model: Any, dataloaders: Any, ckpt_path: Any, verbose: bool, datamodule: Any) -> Any:
        if isinstance(dataloaders, LightningDataModule):
            datamodule, dataloaders = dataloaders, None
        self.state.verbose = verbose
        self._attach(model, datamodule, fn, **{kind: dataloaders})
        return self._run(fn, ckpt_path)

    def _attach(self, model: Any, datamodule: Any, fn: TrainerFn, **loaders: Any) -> None:
        self._model_given = model is not None
        if model is None:
            model = self.lightning_module
            if model is None:
                raise MisconfigurationTypeError(
                    f"trainer.{fn.value}() needs a model: pass the LightningModule, or call trainer.fit(model) first."
                )
        if not isinstance(model, LightningModule):
            raise MisconfigurationTypeError(
                f"trainer.{fn.value}() expects a lit_core.LightningModule, got {type(model).__name__}. "
                "Subclass lit.LightningModule (import lit_core as lit) instead of torch.nn.Module."
            )
        if datamodule is not None and not isinstance(datamodule, LightningDataModule):
            raise MisconfigurationException(f"datamodule= expects a LightningDataModule, got {type(datamodule).__name__}.")
        if datamodule is not None and any(v is not None for v in loaders.values()):
            raise MisconfigurationException(f"trainer.{fn.value}(): give dataloaders or a datamodule, not both.")
        if model is not self.lightning_module:
            selection.attach_model_callbacks(self, model, self._selection)
        self.lightning_module = model
        model.trainer = self
        if datamodule is not None:
            self.datamodule = datamodule
            datamodule.trainer = self
        self.state.dataloader_args = loaders

    # ==== Running a stage =========================================================================

    def _run(self, fn: TrainerFn, ckpt_path: str | None) -> Any:
        self.state.fn = fn
        self.state.status = TrainerStatus.RUNNING
        if fn == TrainerFn.FITTING:  # as Lightning: a test after an early-stopped fit still reads should_stop=True
            self.should_stop = False
        self._sigint_before_shutdown: tuple[Any] | None = None  # set when Ctrl+C starts a graceful shutdown
        try:
            # A partial, not a lambda: launchers that start processes with multiprocessing pickle it (with the Trainer).
            result = self.strategy.launch(functools.partial(self._run_stage, fn, ckpt_path))
        except BaseException:
            if self._sigint_before_shutdown is not None:  # whatever the launcher turned it into
                end_shutdown(self._sigint_before_shutdown[0])
            raise
        return result

    def _run_stage(self, fn: TrainerFn, ckpt_path: str | None) -> Any:
        """Everything one process does for a stage; ``trainer.strategy.launch`` runs it in each process."""
        module = self.lightning_module
        assert module is not None
        hook = self.plugin_manager.hook
        adapter = module_plugin(module, self.datamodule)
        self.plugin_manager.register(adapter, "lit.module-adapter")
        saved = stage_setup.apply_torch_settings(self.deterministic, self.benchmark)
        try:
            hook.lit_setup_environment(trainer=self)
            rank_zero_only.rank = self.global_rank  # type: ignore[attr-defined]
            self.device = self.accelerator.get_device(self.device_ids[self.local_rank % len(self.device_ids)])
            self.accelerator.setup_device(self.device)
            stage_setup.prepare_data(self)
            if self.datamodule is not None:
                self.datamodule.setup(stage=fn.value)
            hook.lit_setup(trainer=self, module=module, stage=fn.value)
            if overrides(module, LightningModule, "configure_model"):
                with self._init_context(None):
                    module.configure_model()
            stage_setup.check_module_for(module, fn)
            self.model = hook.lit_setup_module(trainer=self, module=module)
            if fn == TrainerFn.FITTING:
                self._configure_optimizers()
            # After setup: plugins that callbacks register there (checkpoint writers...) are on the hot path too.
            bind_hot_path(self)
            self.state.resume = None
            if ckpt_path is None and self._ckpt_path_set:
                ckpt_path = self._ckpt_path
            self._ckpt_path_set = False
            self._lineage = lineage.record(module)  # the experiment as it starts (before a tuner changes its hparams)
            ckpt_path = self._ckpt_path = checkpoint_contents.resolve_ckpt_path(self, ckpt_path, fn, self._model_given, self._fit_ran)
            if ckpt_path is not None:
                checkpoint_contents.restore(self, ckpt_path, fn)
            if fn == TrainerFn.FITTING and self.enable_model_summary and self.is_global_zero:
                hook.lit_print_model_summary(trainer=self, module=module)
            if self.is_global_zero and self.loggers:
                params = hyperparameters_to_log(module, self.datamodule)
                if params:
                    hook.lit_log_hyperparams(trainer=self, params=params)
            # Each stage starts with no metrics, as Lightning's: a test's callback_metrics hold only what it logged.
            self.state.train_metrics, self.state.eval_metrics, self.state.logged_metrics = MetricStore(self.strategy.reduce), MetricStore(self.strategy.reduce), {}
            self.state.start_time = time.monotonic()
            try:
                with torch.autograd.set_detect_anomaly(self.detect_anomaly) if self.detect_anomaly else contextlib.nullcontext():
                    value = hook.lit_run_stage(trainer=self, stage=fn.value)
            except ExitStage:
                value, self.state.metrics = None, None
            self.state.stage = None
            hook.lit_teardown(trainer=self, module=module, stage=fn.value)
            if self.datamodule is not None:
                self.datamodule.teardown(stage=fn.value)
            self.state.status = TrainerStatus.FINISHED
            if fn == TrainerFn.FITTING:
                self._fit_ran = True
            return value
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                self._sigint_before_shutdown = (begin_shutdown(),)
            self.state.status = TrainerStatus.INTERRUPTED
            run_exception_hooks(self, module, exc)  # each cleanup step runs whatever the others raise
            raise
        finally:
            self.plugin_manager.unregister(adapter)
            stage_setup.restore_torch_settings(saved)
            # The fit loop's NaN check holds the loop, and the loop the stage's model (a DDP wrapper): kept
            # past the stage, a wrapper reachable from the user's module outlives the process group.
            self.state.loss_check = None

    def _configure_optimizers(self) -> None:
        module = self.lightning_module
        setup = parse_optimizers(module.configure_optimizers())
        setup.optimizers = self.plugin_manager.hook.lit_setup_optimizers(trainer=self, optimizers=setup.optimizers)
        self.state.optimizer_setup = setup
        self.optimizers = setup.optimizers
        self.state.lightning_optimizers = [LightningOptimizer(opt, self, idx) for idx, opt in enumerate(setup.optimizers)]
        self.lr_scheduler_configs = setup.schedulers

    # ==== Dataloaders =============================================================================

    def fetch_dataloaders(self, kind: str) -> list[Any]:
        """The dataloaders of ``kind`` ("train", "val", "test", "predict"): argument, datamodule, module."""
        given = self.state.dataloader_args.get(kind)
        if given is not None:
            return as_loader_list(given, kind)
        method = LOADER_METHODS[kind]
        for source, base in ((self.datamodule, LightningDataModule), (self.lightning_module, LightningModule)):
            if source is not None and overrides(source, base, method):
                return as_loader_list(getattr(source, method)(), kind)
        return []

    # ==== Checkpoints (contents and restore: lit_core.checkpoint_contents; files: the checkpoint hooks) ====

    def save_checkpoint(self, filepath: str | os.PathLike, weights_only: bool = False) -> None:
        """Write a checkpoint of the current state to ``filepath`` (atomically, rank zero)."""
        if self.lightning_module is None:
            raise MisconfigurationException("trainer.save_checkpoint() needs a model: call it during or after fit().")
        if self.state.loss_check is not None:
            self.state.loss_check(os.fspath(filepath))
        checkpoint = checkpoint_contents.checkpoint_dict(self, self._lineage, weights_only)
        self.strategy.save_checkpoint(checkpoint, os.fspath(filepath))
