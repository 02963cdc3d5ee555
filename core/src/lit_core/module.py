"""``LightningModule``: a ``torch.nn.Module`` that also holds its training recipe."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn

from .apply import apply_to_collection
from .checkpoint import load_from_checkpoint, load_state_dict
from .data_hooks import DataHooks
from .export import to_torchscript
from .hparams import AttributeDict, save_hyperparameters
from .metric_logging import log_value
from .model_mode import ModelModeHooks
from .optim import LightningOptimizer
from .rank_zero import rank_zero_deprecation

if TYPE_CHECKING:
    from torch.optim import Optimizer

    from .logger import Logger
    from .trainer import Trainer


class LightningModule(ModelModeHooks, DataHooks, nn.Module):
    """A ``torch.nn.Module`` with ``training_step``, ``configure_optimizers`` and hooks.

    Use it exactly as a PyTorch module; the ``Trainer`` calls the methods below the way
    PyTorch Lightning does. Every ``on_*`` hook is a no-op here: override the ones you need
    (only overridden hooks are called at all).
    """

    #: Properties ``torch.jit.script`` must not compile (they read the Trainer); see ``to_torchscript``.
    __jit_unused_properties__: ClassVar[list[str]] = [
        "trainer", "device", "dtype", "on_gpu", "current_epoch", "global_step", "global_rank", "local_rank",
        "logger", "loggers", "hparams", "hparams_initial",
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._trainer: Trainer | None = None
        self._hparams: AttributeDict = AttributeDict()
        self._hparams_initial: AttributeDict = AttributeDict()
        self._log_hyperparams = True
        self._toggled: dict[nn.Parameter, bool] = {}
        #: ``False`` switches to manual optimization: ``training_step`` steps the optimizers.
        self.automatic_optimization: bool = True
        #: An example input for the model summary (shapes) and tracing.
        self.example_input_array: Any = None

    # ----------------------------------------------------------------------------------------
    # Trainer-facing properties
    # ----------------------------------------------------------------------------------------

    @property
    def trainer(self) -> Trainer:
        """The ``Trainer`` running this module (an error when there is none)."""
        trainer = self.__dict__.get("_trainer")
        if trainer is None and not self.__dict__.get("_jit_is_scripting"):
            raise RuntimeError(f"{type(self).__name__} is not attached to a `Trainer`.")
        return trainer

    @trainer.setter
    def trainer(self, trainer: Trainer | None) -> None:
        self.__dict__["_trainer"] = trainer

    @property
    def device(self) -> torch.device:
        """The device of the module's first parameter or buffer (CPU when it has none)."""
        for tensor in self.parameters():
            return tensor.device
        for tensor in self.buffers():
            return tensor.device
        return torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the module's first floating-point parameter."""
        for p in self.parameters():
            if p.is_floating_point():
                return p.dtype
        return torch.get_default_dtype()

    @dtype.setter
    def dtype(self, value: torch.dtype) -> None:
        raise RuntimeError("Cannot set the dtype explicitly. Please use module.to(new_dtype).")

    @property
    def on_gpu(self) -> bool:
        """Whether the module's parameters are on a CUDA device."""
        return self.device.type == "cuda"

    @property
    def current_epoch(self) -> int:
        """The trainer's current epoch (0 without a trainer)."""
        trainer = self.__dict__.get("_trainer")
        return trainer.current_epoch if trainer else 0

    @property
    def global_step(self) -> int:
        """Optimizer steps taken so far (0 without a trainer)."""
        trainer = self.__dict__.get("_trainer")
        return trainer.global_step if trainer else 0

    @property
    def global_rank(self) -> int:
        """This process's rank among all processes."""
        trainer = self.__dict__.get("_trainer")
        return trainer.global_rank if trainer else 0

    @property
    def local_rank(self) -> int:
        """This process's rank on its node."""
        trainer = self.__dict__.get("_trainer")
        return trainer.local_rank if trainer else 0

    @property
    def logger(self) -> Logger | None:
        """The trainer's first logger."""
        trainer = self.__dict__.get("_trainer")
        return trainer.logger if trainer else None

    @property
    def loggers(self) -> list[Logger]:
        """All the trainer's loggers."""
        trainer = self.__dict__.get("_trainer")
        return trainer.loggers if trainer else []

    # ----------------------------------------------------------------------------------------
    # Hyperparameters
    # ----------------------------------------------------------------------------------------

    def save_hyperparameters(self, *args: Any, ignore: str | list[str] | None = None, frame: Any = None, logger: bool = True) -> None:
        """Store the ``__init__`` arguments in ``self.hparams`` (and log them).

        With no arguments every ``__init__`` argument is saved; name some to save only those,
        or pass a dict / ``argparse.Namespace`` to save it as it is. ``ignore`` drops names
        (e.g. an ``nn.Module`` argument).
        """
        if frame is None:
            frame = inspect.currentframe().f_back  # type: ignore[union-attr]
        save_hyperparameters(self, args, ignore, frame, logger)

    @property
    def hparams(self) -> AttributeDict:
        """The saved hyperparameters; attribute and key access both work."""
        return self._hparams

    @property
    def hparams_initial(self) -> AttributeDict:
        """The hyperparameters as they were saved, before any later change."""
        return AttributeDict(self._hparams_initial)

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path: Any, map_location: Any = None, hparams_file: Any = None,
                             strict: bool = True, **hparam_overrides: Any) -> Any:
        """Rebuild the module from a checkpoint: ``cls(**saved hyperparameters, **overrides)``, then its weights.

        ``checkpoint_path`` is a local path or an fsspec URL (with lit-checkpoint installed).
        ``hparams_file`` (a ``hparams.yaml`` or ``tags.csv``) overrides the saved hyperparameters;
        keyword arguments override both (or supply ones that were not saved).
        ``strict=False`` loads the matching part of a different model's weights. The file is read
        with ``torch.load(weights_only=True)``. The module is returned in training mode, on
        ``map_location`` when it names a device (else on the CPU).
        """
        module, checkpoint = load_from_checkpoint(cls, checkpoint_path, map_location, strict, hparams_file=hparams_file,
                                                  **hparam_overrides)
        module.on_load_checkpoint(checkpoint)
        load_state_dict(module, checkpoint["state_dict"], strict, source=f"Checkpoint {str(checkpoint_path)!r}")
        if isinstance(map_location, (str, torch.device)):
            module.to(map_location)
        return module

    # ----------------------------------------------------------------------------------------
    # Logging
    # ----------------------------------------------------------------------------------------

    def log(
        self,
        name: str,
        value: Any,
        prog_bar: bool = False,
        logger: bool | None = None,
        on_step: bool | None = None,
        on_epoch: bool | None = None,
        reduce_fx: str | Any = "mean",
        enable_graph: bool = False,
        sync_dist: bool = False,
        sync_dist_group: Any = None,
        add_dataloader_idx: bool = True,
        batch_size: int | None = None,
        metric_attribute: str | None = None,
        rank_zero_only: bool = False,
    ) -> None:
        """Record a scalar for the progress bar, the loggers and callbacks.

        ``on_step`` / ``on_epoch`` default by where you call it: per step in
        ``training_step`` and the train batch hooks, per epoch (averaged, weighted by batch
        size) in ``validation_step`` / ``test_step`` and every epoch-level hook. Values are kept
        as tensors; they are turned into Python numbers only when a logger or the progress bar
        reads them.
        """
        trainer = self.__dict__.get("_trainer")
        if trainer is None:
            raise RuntimeError(
                f"self.log({name!r}, ...) was called while {type(self).__name__} is not attached to a Trainer: "
                "log from the step methods and hooks the Trainer calls."
            )
        log_value(
            trainer, name, value, prog_bar, True if logger is None else logger, on_step, on_epoch, reduce_fx,
            enable_graph, sync_dist, add_dataloader_idx, batch_size,
        )

    def log_dict(self, dictionary: Mapping[str, Any], **kwargs: Any) -> None:
        """``self.log`` each item of ``dictionary`` with the same options.

        ``dictionary`` may be a torchmetrics ``MetricCollection``: each of its metrics is logged as
        an object under the collection's names (prefix and postfix applied).
        """
        if isinstance(dictionary, nn.Module) and callable(getattr(dictionary, "compute", None)):
            # A MetricCollection: its own names, and the metrics sharing a compute group see one state.
            items = dictionary.items(keep_base=False, copy_state=False)  # type: ignore[call-arg]
        else:
            items = dictionary.items()
        for name, value in items:
            self.log(name, value, **kwargs)

    def all_gather(self, data: Any, sync_grads: bool = False) -> Any:
        """Gather tensors (nested in collections too) from every process: ``(world_size, ...)``."""
        strategy = self.trainer.strategy
        return apply_to_collection(data, torch.Tensor, lambda t: strategy.all_gather(t, sync_grads=sync_grads))

    def to_torchscript(self, file_path: Any = None, method: str = "script", example_inputs: Any = None,
                       **kwargs: Any) -> Any:
        """The module as TorchScript (``method="script"`` or ``"trace"``, with ``example_input_array`` by
        default), saved to ``file_path`` when given."""
        return to_torchscript(self, file_path, method, example_inputs, **kwargs)

    def print(self, *args: Any, **kwargs: Any) -> None:
        """``print`` on global rank zero only."""
        trainer = self.__dict__.get("_trainer")
        if trainer is None or trainer.is_global_zero:
            print(*args, **kwargs)

    # ----------------------------------------------------------------------------------------
    # The recipe: steps and optimizers
    # ----------------------------------------------------------------------------------------

    def training_step(self, *args: Any, **kwargs: Any) -> Any:
        """Compute and return the training loss (a tensor, or a dict with a ``"loss"`` key).

        Return ``None`` to skip the optimization of this batch (automatic optimization).
        """
        raise NotImplementedError(
            f"{type(self).__name__} has no `training_step`: define `training_step(self, batch, batch_idx)` "
            "returning the loss to use `trainer.fit`."
        )

    def validation_step(self, *args: Any, **kwargs: Any) -> Any:
        """Compute validation metrics for one batch and ``self.log`` them."""

    def test_step(self, *args: Any, **kwargs: Any) -> Any:
        """Compute test metrics for one batch and ``self.log`` them."""

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> Any:
        """Return the predictions for one batch; the default calls ``self(batch)``."""
        return self(batch)

    def configure_optimizers(self) -> Any:
        """Return the optimizer(s) and optionally learning-rate schedulers.

        Any of Lightning's forms: an optimizer; a list or tuple of optimizers; a pair
        ``([optimizers], [schedulers])``; a dict ``{"optimizer": ..., "lr_scheduler": ...}``
        (the scheduler itself or a dict with ``scheduler``, ``interval``, ``frequency``,
        ``monitor``); or a list / tuple of such dicts.
        """
        raise NotImplementedError(
            f"{type(self).__name__} has no `configure_optimizers`: define it and return e.g. "
            "`torch.optim.Adam(self.parameters(), lr=1e-3)`."
        )

    def optimizers(self, use_pl_optimizer: bool = True) -> Optimizer | list[Optimizer]:
        """The optimizers from ``configure_optimizers`` (one, or a list when there are several).

        They are wrapped so that ``opt.step()`` in manual optimization goes through the
        Trainer (hooks, precision, ``global_step``); ``use_pl_optimizer=False`` gives the raw ones.
        """
        trainer = self.trainer
        opts = trainer.state.lightning_optimizers if use_pl_optimizer else trainer.optimizers
        return opts[0] if len(opts) == 1 else opts

    def lr_schedulers(self) -> Any:
        """The schedulers from ``configure_optimizers`` (``None``, one, or a list)."""
        scheds = [config.scheduler for config in self.trainer.lr_scheduler_configs]
        if not scheds:
            return None
        return scheds[0] if len(scheds) == 1 else scheds

    def manual_backward(self, loss: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        """Back-propagate ``loss`` in manual optimization (use instead of ``loss.backward()``).

        Goes through the precision and strategy plugins (loss scaling, gradient sync) and the
        backward hooks.
        """
        self.trainer.backward(loss, None, None, *args, **kwargs)

    def backward(self, loss: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        """Back-propagate ``loss``. Override for a custom backward.

        The seed signature ``backward(self, use_amp, loss, optimizer, optimizer_idx)`` is
        recognised too.
        """
        loss.backward(*args, **kwargs)

    def optimizer_step(self, epoch: int, batch_idx: int, optimizer: Optimizer, optimizer_closure: Any = None) -> None:
        """Step ``optimizer``; the closure runs ``training_step`` and the backward pass."""
        optimizer.step(closure=optimizer_closure)

    def optimizer_zero_grad(self, epoch: int, batch_idx: int, optimizer: Optimizer) -> None:
        """Zero the gradients after ``optimizer`` stepped."""
        optimizer.zero_grad()

    def configure_gradient_clipping(self, optimizer: Optimizer, gradient_clip_val: float | None = None, gradient_clip_algorithm: str | None = None) -> None:
        """Clip gradients before ``optimizer`` steps; the default uses the Trainer's flags."""
        self.clip_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)

    def clip_gradients(self, optimizer: Optimizer, gradient_clip_val: float | None = None, gradient_clip_algorithm: str | None = None) -> None:
        """Clip the gradients of ``optimizer``'s parameters by norm (default) or value."""
        if gradient_clip_val is None:
            return
        if isinstance(optimizer, LightningOptimizer):
            optimizer = optimizer.optimizer  # plugins key state by the torch optimizer (a GradScaler does)
        self.trainer.plugin_manager.hook.lit_clip_gradients(
            trainer=self.trainer, module=self, optimizer=optimizer,
            clip_val=gradient_clip_val, algorithm=gradient_clip_algorithm or "norm",
        )

    def toggle_optimizer(self, optimizer: Optimizer, optimizer_idx: int | None = None) -> None:
        """Make only ``optimizer``'s parameters require gradients (undo with ``untoggle_optimizer``).

        Lightning 1.x's ``toggle_optimizer(optimizer, optimizer_idx)`` is accepted, with a deprecation warning.
        """
        if optimizer_idx is not None:
            rank_zero_deprecation(
                "toggle_optimizer(optimizer, optimizer_idx) is Lightning 1.x's form: call toggle_optimizer(optimizer)."
            )
        own = {id(p) for group in optimizer.param_groups for p in group["params"]}
        for opt in self.trainer.optimizers:
            for group in opt.param_groups:
                for p in group["params"]:
                    if id(p) not in own and p not in self._toggled:
                        self._toggled[p] = p.requires_grad
                        p.requires_grad = False

    def untoggle_optimizer(self, optimizer: Optimizer | int) -> None:
        """Restore ``requires_grad`` as it was before ``toggle_optimizer`` (1.x passed the optimizer's index)."""
        for p, requires_grad in self._toggled.items():
            p.requires_grad = requires_grad
        self._toggled.clear()

    @contextlib.contextmanager
    def toggled_optimizer(self, optimizer: Optimizer) -> Iterator[None]:
        """``toggle_optimizer`` for the ``with`` block, ``untoggle_optimizer`` after it (even on an error)."""
        self.toggle_optimizer(optimizer)
        try:
            yield
        finally:
            self.untoggle_optimizer(optimizer)

    def freeze(self) -> None:
        """Stop every parameter from requiring gradients and switch to eval mode."""
        for p in self.parameters():
            p.requires_grad = False
        self.eval()

    def unfreeze(self) -> None:
        """Make every parameter require gradients again and switch to train mode."""
        for p in self.parameters():
            p.requires_grad = True
        self.train()

    # ----------------------------------------------------------------------------------------
    # Loop hooks (no-ops; only overridden ones are called)
    # ----------------------------------------------------------------------------------------

    def on_fit_start(self) -> None:
        """Called when fit starts."""

    def on_fit_end(self) -> None:
        """Called when fit ends."""

    def on_train_start(self) -> None:
        """Called before the first training epoch."""

    def on_train_end(self) -> None:
        """Called after the last training epoch."""

    def on_train_epoch_start(self) -> None:
        """Called at the start of each training epoch."""

    def on_train_epoch_end(self) -> None:
        """Called at the end of each training epoch."""

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> Any:
        """Called before ``training_step``; return ``-1`` to end the epoch now."""

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        """Called after a training batch's optimization."""

    def on_validation_start(self) -> None:
        """Called when a validation loop starts."""

    def on_validation_end(self) -> None:
        """Called when a validation loop ends."""

    def on_validation_epoch_start(self) -> None:
        """Called before the first validation batch."""

    def on_validation_epoch_end(self) -> None:
        """Called after the last validation batch."""

    def on_validation_batch_start(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Called before ``validation_step``."""

    def on_validation_batch_end(self, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Called after ``validation_step``."""

    def on_test_start(self) -> None:
        """Called when the test loop starts."""

    def on_test_end(self) -> None:
        """Called when the test loop ends."""

    def on_test_epoch_start(self) -> None:
        """Called before the first test batch."""

    def on_test_epoch_end(self) -> None:
        """Called after the last test batch."""

    def on_test_batch_start(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Called before ``test_step``."""

    def on_test_batch_end(self, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Called after ``test_step``."""

    def on_predict_start(self) -> None:
        """Called when the predict loop starts."""

    def on_predict_end(self) -> None:
        """Called when the predict loop ends."""

    def on_predict_epoch_start(self) -> None:
        """Called before the first predict batch."""

    def on_predict_epoch_end(self) -> None:
        """Called after the last predict batch."""

    def on_predict_batch_start(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Called before ``predict_step``."""

    def on_predict_batch_end(self, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Called after ``predict_step``."""

    def on_before_backward(self, loss: torch.Tensor) -> None:
        """Called before the backward pass."""

    def on_after_backward(self) -> None:
        """Called after the backward pass; gradients are populated."""

    def on_before_optimizer_step(self, optimizer: Optimizer) -> None:
        """Called before the optimizer steps (after gradient accumulation, before clipping)."""

    def on_before_zero_grad(self, optimizer: Optimizer) -> None:
        """Called before gradients are zeroed."""

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Add to a checkpoint being saved."""

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Read from a checkpoint being loaded."""

    def configure_callbacks(self) -> Any:
        """Callbacks this module needs; they join (and replace same-type) Trainer callbacks."""
        return []
