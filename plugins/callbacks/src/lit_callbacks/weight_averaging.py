"""``StochasticWeightAveraging`` and ``WeightAveraging`` (SWA, EMA): keep an average of the weights
seen during training and put it in the model at the end (Lightning 2.6's callbacks)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from copy import deepcopy
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import SWALR, AveragedModel, get_ema_avg_fn

from lit_core.plugin_api import (
    Callback,
    LRSchedulerConfig,
    MisconfigurationException,
    move_data_to_device,
    rank_zero_info,
    rank_zero_warn,
)

if TYPE_CHECKING:
    from lit_core.plugin_api import LightningModule, Trainer

AvgFn = Callable[[Tensor, Tensor, Tensor], Tensor]


def _copy_tensors(src: nn.Module, dst: nn.Module, swap: bool = False) -> None:
    """Copy (or swap) the parameters and buffers of two modules of the same structure."""
    for s, d in zip(itertools.chain(src.parameters(), src.buffers()), itertools.chain(dst.parameters(), dst.buffers())):
        if swap:
            tmp = s.data.clone()
            s.data.copy_(d.data)
            d.data.copy_(tmp)
        else:
            d.data.copy_(s.data.to(d.device))


def _detached_copy(pl_module: LightningModule, trainer: Trainer, make: Callable[[nn.Module], Any]) -> Any:
    """``make(pl_module)`` (which deep-copies it) without copying ``trainer``, which the module points to."""
    pl_module.trainer = None
    try:
        return make(pl_module)
    finally:
        pl_module.trainer = trainer


class StochasticWeightAveraging(Callback):
    """Stochastic Weight Averaging (Izmailov et al., 2018) over the last epochs of training.

    From epoch ``swa_epoch_start`` on, the learning rate anneals to ``swa_lrs`` (``torch``'s
    ``SWALR`` replaces the configured scheduler) and the weights at the start of each epoch are
    averaged; the average replaces the model's weights when training ends, and BatchNorm
    statistics are then recomputed with one pass over the training data.

    :param swa_lrs: the SWA learning rate, for every parameter group or one per group.
    :param swa_epoch_start: the first SWA epoch (an int from 1), or a fraction of ``max_epochs``.
    :param annealing_epochs: epochs of annealing to ``swa_lrs``.
    :param annealing_strategy: ``"cos"`` or ``"linear"``.
    :param avg_fn: ``(averaged, current, n_averaged) -> new averaged`` (default: the equal average).
    :param device: where the averaged model lives (``None``: the model's device).
    """

    def __init__(self, swa_lrs: float | list[float], swa_epoch_start: int | float = 0.8, annealing_epochs: int = 10,
                 annealing_strategy: str = "cos", avg_fn: AvgFn | None = None,
                 device: torch.device | str | None = "cpu") -> None:
        message = "swa_epoch_start should be a >0 integer or a float between 0 and 1."
        if isinstance(swa_epoch_start, int) and swa_epoch_start < 1:
            raise MisconfigurationException(message)
        if isinstance(swa_epoch_start, float) and not 0 <= swa_epoch_start <= 1:
            raise MisconfigurationException(message)
        bad_float = isinstance(swa_lrs, float) and swa_lrs <= 0
        bad_list = isinstance(swa_lrs, list) and not all(isinstance(lr, float) and lr > 0 for lr in swa_lrs)
        if not isinstance(swa_lrs, (float, list)) or bad_float or bad_list:
            raise MisconfigurationException("The `swa_lrs` should a positive float, or a list of positive floats")
        if avg_fn is not None and not callable(avg_fn):
            raise MisconfigurationException("The `avg_fn` should be callable.")
        if device is not None and not isinstance(device, (torch.device, str)):
            raise MisconfigurationException(f"device is expected to be a torch.device or a str. Found {device}")
        if annealing_strategy not in ("cos", "linear"):
            raise MisconfigurationException(f"annealing_strategy={annealing_strategy!r}: use 'cos' or 'linear'.")
        self.n_averaged: Tensor | None = None
        self._swa_epoch_start = swa_epoch_start
        self._swa_lrs = swa_lrs
        self._annealing_epochs = annealing_epochs
        self._annealing_strategy = annealing_strategy
        self._avg_fn = avg_fn or self.avg_fn
        self._device = device
        self._average_model: nn.Module | None = None
        self._initialized = False
        self._swa_scheduler: Any = None
        self._scheduler_state: dict[str, Any] | None = None
        self._init_n_averaged = 0
        self._latest_update_epoch = -1
        self._max_epochs = 0
        self.momenta: dict[nn.Module, float | None] = {}

    @property
    def swa_start(self) -> int:
        """The first SWA epoch, 0-based."""
        return max(int(self._swa_epoch_start) - 1, 0)

    @property
    def swa_end(self) -> int:
        """The last epoch, 0-based."""
        return self._max_epochs - 1

    @staticmethod
    def pl_module_contains_batch_norm(pl_module: LightningModule) -> bool:
        """Whether the model has BatchNorm layers (their statistics are recomputed at the end)."""
        return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in pl_module.modules())

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if stage == "fit":
            self._average_model = _detached_copy(pl_module, trainer, deepcopy)  # before the model moves to the accelerator

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if len(trainer.optimizers) != 1:
            raise MisconfigurationException("SWA currently works with 1 `optimizer`.")
        if len(trainer.lr_scheduler_configs) > 1:
            raise MisconfigurationException("SWA currently not supported for more than 1 `lr_scheduler`.")
        if trainer.max_epochs is None or trainer.max_epochs < 1:
            raise MisconfigurationException("StochasticWeightAveraging needs Trainer(max_epochs=N): it averages the last epochs.")
        if isinstance(self._swa_epoch_start, float):
            self._swa_epoch_start = int(trainer.max_epochs * self._swa_epoch_start)
        self._max_epochs = trainer.max_epochs

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        epoch = trainer.current_epoch
        in_swa = self.swa_start <= epoch <= self.swa_end
        if in_swa and not self._initialized:
            self._initialize(trainer, pl_module)
        if in_swa and epoch > self._latest_update_epoch:
            assert self._average_model is not None and self.n_averaged is not None
            self.update_parameters(self._average_model, pl_module, self.n_averaged, self._avg_fn)
            self._latest_update_epoch = epoch

    def _initialize(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._initialized = True
        assert self._average_model is not None
        self._average_model = self._average_model.to(self._device or pl_module.device)
        optimizer = trainer.optimizers[0]
        if isinstance(self._swa_lrs, float):
            self._swa_lrs = [self._swa_lrs] * len(optimizer.param_groups)
        for lr, group in zip(self._swa_lrs, optimizer.param_groups):
            group["initial_lr"] = lr
        self._swa_scheduler = SWALR(optimizer, swa_lr=self._swa_lrs, anneal_epochs=self._annealing_epochs,
                                    anneal_strategy=self._annealing_strategy,
                                    last_epoch=trainer.max_epochs if self._annealing_strategy == "cos" else -1)
        if self._scheduler_state is not None:
            self._swa_scheduler.load_state_dict(self._scheduler_state)
        elif trainer.current_epoch != self.swa_start:
            rank_zero_warn("SWA is initializing after swa_start without any checkpoint data.")
        config = LRSchedulerConfig(self._swa_scheduler, opt_idx=0)
        if trainer.lr_scheduler_configs:
            old = trainer.lr_scheduler_configs[0]
            if old.interval != "epoch" or old.frequency != 1:
                rank_zero_warn(f"SWA is currently only supported every epoch. Found {old}")
            rank_zero_info(f"Swapping scheduler `{type(old.scheduler).__name__}` for `{type(self._swa_scheduler).__name__}`")
            trainer.lr_scheduler_configs[0] = config
        else:
            trainer.lr_scheduler_configs.append(config)
        if self.n_averaged is None:
            self.n_averaged = torch.tensor(self._init_n_averaged, dtype=torch.long, device=pl_module.device)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # The loop counted the last epoch already: current_epoch - 1 is the epoch that just ended.
        if trainer.current_epoch - 1 != self.swa_end or self._average_model is None:
            return
        self.transfer_weights(self._average_model, pl_module)
        if self.pl_module_contains_batch_norm(pl_module):
            self._update_batch_norm(trainer, pl_module)

    def _update_batch_norm(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Recompute BatchNorm statistics for the averaged weights: one pass over the training data.

        Lightning runs this pass as one more training epoch without backward passes; lit calls the
        model's ``forward`` on each training batch's input here instead, as
        ``torch.optim.swa_utils.update_bn`` does (the first element of a tuple or list batch, else
        the batch). A module without ``forward`` (its ``training_step`` calls its submodules) gets
        its ``training_step(batch, batch_idx)`` instead, with ``self.log`` muted for the pass: in
        neither case does the pass log, step or count (see docs/decisions.rst).
        """
        self.reset_batch_norm_and_save_state(pl_module)
        was_training = pl_module.training
        pl_module.train()
        limit = trainer.num_training_batches
        has_forward = type(pl_module).forward is not nn.Module.forward
        muted = {} if has_forward else {name: lambda *args, **kwargs: None for name in ("log", "log_dict")}
        pl_module.__dict__.update(muted)  # instance attributes shadow the methods for the pass only
        try:
            with torch.no_grad():
                for batch_idx, batch in enumerate(trainer.train_dataloader):
                    if batch_idx >= limit:
                        break
                    if has_forward:
                        inputs = batch[0] if isinstance(batch, (list, tuple)) else batch
                        pl_module(move_data_to_device(inputs, pl_module.device))
                    else:
                        pl_module.training_step(move_data_to_device(batch, pl_module.device), batch_idx)
        finally:
            for name in muted:
                del pl_module.__dict__[name]
        pl_module.train(was_training)
        self.reset_momenta()

    @staticmethod
    def transfer_weights(src_pl_module: nn.Module, dst_pl_module: nn.Module) -> None:
        """Copy ``src``'s parameters into ``dst``."""
        for src, dst in zip(src_pl_module.parameters(), dst_pl_module.parameters()):
            dst.detach().copy_(src.to(dst.device))

    def reset_batch_norm_and_save_state(self, pl_module: LightningModule) -> None:
        """Zero the BatchNorm statistics and use a cumulative average (momentum ``None``) for the pass."""
        self.momenta = {}
        for module in pl_module.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.running_mean = torch.zeros_like(module.running_mean)
                module.running_var = torch.ones_like(module.running_var)
                self.momenta[module] = module.momentum
                module.momentum = None
                module.num_batches_tracked *= 0

    def reset_momenta(self) -> None:
        """Put the BatchNorm momenta back."""
        for module, momentum in self.momenta.items():
            module.momentum = momentum

    @staticmethod
    def update_parameters(average_model: nn.Module, model: nn.Module, n_averaged: Tensor, avg_fn: AvgFn) -> None:
        """Fold ``model``'s parameters into ``average_model``'s; count one more model averaged."""
        for p_swa, p_model in zip(average_model.parameters(), model.parameters()):
            device = p_swa.device
            p_swa_, p_model_ = p_swa.detach(), p_model.detach().to(device)
            p_swa_.copy_(p_model_ if n_averaged == 0 else avg_fn(p_swa_, p_model_, n_averaged.to(device)))
        n_averaged += 1

    @staticmethod
    def avg_fn(averaged_model_parameter: Tensor, model_parameter: Tensor, num_averaged: Tensor) -> Tensor:
        """The running equal average."""
        return averaged_model_parameter + (model_parameter - averaged_model_parameter) / (num_averaged + 1)

    def state_dict(self) -> dict[str, Any]:
        """The average so far, how many models it holds, and the SWA scheduler's state."""
        return {
            "n_averaged": 0 if self.n_averaged is None else int(self.n_averaged),
            "latest_update_epoch": self._latest_update_epoch,
            "scheduler_state": None if self._swa_scheduler is None else self._swa_scheduler.state_dict(),
            "average_model_state": None if self._average_model is None else self._average_model.state_dict(),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""
        self._init_n_averaged = state_dict["n_averaged"]
        self._latest_update_epoch = state_dict["latest_update_epoch"]
        self._scheduler_state = state_dict["scheduler_state"]
        if state_dict["average_model_state"] is not None and self._average_model is not None:
            self._average_model.load_state_dict(state_dict["average_model_state"])


class WeightAveraging(Callback):
    """Keep an ``AveragedModel`` of the weights (SWA or, with ``avg_fn=get_ema_avg_fn()``, EMA).

    It is updated after every optimizer step (override ``should_update`` to choose when); during
    validation and after training the model holds the averaged weights, and checkpoints store
    them as ``state_dict`` (the current weights under ``current_model_state``).

    :param device: where the average lives (``None``: the model's device).
    :param use_buffers: average the buffers too.
    :param kwargs: passed to ``torch.optim.swa_utils.AveragedModel`` (``avg_fn``, ``multi_avg_fn``).
    """

    def __init__(self, device: torch.device | str | int | None = "cpu", use_buffers: bool = True, **kwargs: Any) -> None:
        self._device = torch.device(device) if isinstance(device, str) else device
        self._use_buffers = use_buffers
        self._kwargs = kwargs
        self._average_model: AveragedModel | None = None
        # 0: the first update comes after the first optimizer step (after N batches when accumulating).
        self._latest_update_step = 0
        self._latest_update_epoch = -1

    def should_update(self, step_idx: int | None = None, epoch_idx: int | None = None) -> bool:
        """Whether to update after optimizer step ``step_idx`` or epoch ``epoch_idx`` (0-based); default: every step."""
        return step_idx is not None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if stage == "fit":
            device = self._device or pl_module.device
            self._average_model = _detached_copy(pl_module, trainer, lambda module: AveragedModel(
                model=module, device=device, use_buffers=self._use_buffers, **self._kwargs))

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        if trainer.global_step > self._latest_update_step and self.should_update(step_idx=trainer.global_step - 1):
            assert self._average_model is not None
            self._average_model.update_parameters(pl_module)
            self._latest_update_step = trainer.global_step

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.current_epoch > self._latest_update_epoch and self.should_update(epoch_idx=trainer.current_epoch):
            assert self._average_model is not None
            self._average_model.update_parameters(pl_module)
            self._latest_update_epoch = trainer.current_epoch

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        assert self._average_model is not None
        rank_zero_info("Loading the average model parameters to the final model.")
        _copy_tensors(self._average_model.module, pl_module)

    def on_validation_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._average_model is not None and trainer.state.fn == "fit":
            _copy_tensors(self._average_model.module, pl_module, swap=True)

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._average_model is not None and trainer.state.fn == "fit":
            _copy_tensors(self._average_model.module, pl_module, swap=True)

    def state_dict(self) -> dict[str, Any]:
        """The step of the latest update."""
        return {"latest_update_step": self._latest_update_step}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""
        self._latest_update_step = state_dict["latest_update_step"]

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        if self._average_model is None:
            return
        average = self._average_model.state_dict()
        checkpoint["current_model_state"] = checkpoint["state_dict"]
        checkpoint["state_dict"] = {k[len("module."):]: v for k, v in average.items() if k.startswith("module.")}
        checkpoint["averaging_state"] = {k: v for k, v in average.items() if not k.startswith("module.")}

    def on_load_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        if self._average_model is None:
            rank_zero_warn("You're using the WeightAveraging callback, but loading a checkpoint outside the 'fit' stage. "
                           "The WeightAveraging state cannot be restored.")
        elif "current_model_state" in checkpoint and "averaging_state" in checkpoint:
            average = {f"module.{k}": v for k, v in checkpoint["state_dict"].items()}
            self._average_model.load_state_dict({**average, **checkpoint["averaging_state"]})
            # lit loaded checkpoint["state_dict"] (the average) into the model before this hook: put the current weights back.
            pl_module.load_state_dict(checkpoint["current_model_state"])
            checkpoint["state_dict"] = checkpoint["current_model_state"]
        else:
            rank_zero_warn("The checkpoint was not created with WeightAveraging. Both the current and the average model "
                           "will be initialized with state_dict.")
            self._average_model.module.load_state_dict(deepcopy(checkpoint["state_dict"]), strict=False)


class EMAWeightAveraging(WeightAveraging):
    """An exponential moving average of the weights: ``decay * average + (1 - decay) * current``.

    Updated after every ``update_every_n_steps``-th optimizer step once ``update_starting_at_step``
    is reached, and at the end of every epoch from ``update_starting_at_epoch`` on (when given).
    """

    def __init__(self, device: torch.device | str | int | None = None, use_buffers: bool = True, decay: float = 0.999,
                 update_every_n_steps: int = 1, update_starting_at_step: int | None = None,
                 update_starting_at_epoch: int | None = None, **kwargs: Any) -> None:
        super().__init__(device=device, use_buffers=use_buffers, avg_fn=get_ema_avg_fn(decay=decay), **kwargs)
        self.update_every_n_steps = update_every_n_steps
        self.update_starting_at_step = update_starting_at_step
        self.update_starting_at_epoch = update_starting_at_epoch

    def should_update(self, step_idx: int | None = None, epoch_idx: int | None = None) -> bool:
        every = step_idx is not None and self.update_every_n_steps > 0 and step_idx % self.update_every_n_steps == 0
        if every and (self.update_starting_at_step is None or step_idx >= self.update_starting_at_step):
            return True
        return epoch_idx is not None and self.update_starting_at_epoch is not None and epoch_idx >= self.update_starting_at_epoch
