"""``BaseFinetuning`` and ``BackboneFinetuning``: freeze modules, then unfreeze them into new
parameter groups of the running optimizer (Lightning's callbacks)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import torch
from torch.nn import Module, ModuleDict
from torch.nn.modules.batchnorm import _BatchNorm

from lit_core.plugin_api import Callback, MisconfigurationException, rank_zero_warn

if TYPE_CHECKING:
    from torch.optim import Optimizer

    from lit_core.plugin_api import LightningModule, Trainer

# Under lit_core's logger (where the names are imported from), so messages show as lit's own do.
log = logging.getLogger("lit_core.callbacks.finetuning")

Modules = Module | Iterable[Module | Iterable]


def multiplicative(epoch: int) -> float:
    """``BackboneFinetuning``'s default ``lambda_func``: double the backbone's learning rate each epoch."""
    return 2.0


class BaseFinetuning(Callback):
    """Base class of fine-tuning callbacks: override ``freeze_before_training`` and ``finetune_function``.

    ``freeze_before_training(pl_module)`` runs at setup, before ``configure_optimizers`` (so build
    the optimizer from ``filter(lambda p: p.requires_grad, self.parameters())``);
    ``finetune_function(pl_module, epoch, optimizer)`` runs at the start of every training epoch
    for each optimizer, and unfreezes what it wants with ``unfreeze_and_add_param_group``.
    The parameter groups added are saved in checkpoints and added again when training resumes.
    """

    def __init__(self) -> None:
        #: optimizer index -> its parameter groups, parameters given by name.
        self._internal_optimizer_metadata: dict[int, list[dict[str, Any]]] = {}

    def state_dict(self) -> dict[str, Any]:
        """The optimizers' parameter groups (parameters by name), so a resume can rebuild them."""
        return {"internal_optimizer_metadata": self._internal_optimizer_metadata}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""
        self._internal_optimizer_metadata = state_dict.get("internal_optimizer_metadata", state_dict)

    def on_load_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        # lit loads this hook's checkpoint before the optimizers' states: the groups added before the
        # save must exist again by then, or the optimizer state would not fit the optimizer.
        state = checkpoint.get("callbacks", {}).get(self.state_key)
        if state is None or not trainer.optimizers:
            return
        self.load_state_dict(state)
        self._restore_param_groups(trainer, pl_module)

    def _restore_param_groups(self, trainer: Trainer, pl_module: LightningModule) -> None:
        named = dict(pl_module.named_parameters())
        for opt_idx, optimizer in enumerate(trainer.optimizers):
            groups = self._internal_optimizer_metadata.get(opt_idx)
            if groups is not None:
                optimizer.param_groups = self._apply_mapping_to_param_groups(groups, named)

    @staticmethod
    def flatten_modules(modules: Modules) -> list[Module]:
        """The leaf modules of ``modules``, and the parents that hold parameters themselves."""
        if isinstance(modules, ModuleDict):
            modules = modules.values()
        if isinstance(modules, Iterable):
            found: Iterable[Module] = [m for sub in modules for m in BaseFinetuning.flatten_modules(sub)]
        else:
            found = modules.modules()
        return [m for m in found if not list(m.children()) or m._parameters]

    @staticmethod
    def filter_params(modules: Modules, train_bn: bool = True, requires_grad: bool = True) -> Iterator[torch.nn.Parameter]:
        """The parameters of ``modules`` whose ``requires_grad`` is ``requires_grad`` (BatchNorm's left out without ``train_bn``)."""
        for mod in BaseFinetuning.flatten_modules(modules):
            if isinstance(mod, _BatchNorm) and not train_bn:
                continue
            for param in mod.parameters(recurse=False):  # not recursive: a parent's own parameters once
                if param.requires_grad == requires_grad:
                    yield param

    @staticmethod
    def make_trainable(modules: Modules) -> None:
        """Unfreeze the parameters of ``modules`` (BatchNorm layers track running statistics again)."""
        for mod in BaseFinetuning.flatten_modules(modules):
            if isinstance(mod, _BatchNorm):
                mod.track_running_stats = True
            for param in mod.parameters(recurse=False):
                param.requires_grad = True

    @staticmethod
    def freeze_module(module: Module) -> None:
        """Freeze ``module``'s own parameters (a BatchNorm layer stops tracking running statistics)."""
        if isinstance(module, _BatchNorm):
            module.track_running_stats = False
        for param in module.parameters(recurse=False):
            param.requires_grad = False

    @staticmethod
    def freeze(modules: Modules, train_bn: bool = True) -> None:
        """Freeze ``modules``; with ``train_bn`` their BatchNorm layers stay trainable."""
        for mod in BaseFinetuning.flatten_modules(modules):
            if isinstance(mod, _BatchNorm) and train_bn:
                BaseFinetuning.make_trainable(mod)
            else:
                BaseFinetuning.freeze_module(mod)

    @staticmethod
    def filter_on_optimizer(optimizer: Optimizer, params: Iterable[torch.nn.Parameter]) -> list[torch.nn.Parameter]:
        """``params`` less those already in one of ``optimizer``'s groups (with a warning)."""
        present = {id(p) for group in optimizer.param_groups for p in group["params"]}
        out, removed = [], []
        for param in params:
            (removed if id(param) in present else out).append(param)
        if removed:
            rank_zero_warn(
                "The provided params to be frozen already exist within another group of this optimizer. Those "
                "parameters will be skipped.\nHINT: Did you init your optimizer in `configure_optimizer` as such:\n "
                f"{type(optimizer)}(filter(lambda p: p.requires_grad, self.parameters()), ...) "
            )
        return out

    @staticmethod
    def unfreeze_and_add_param_group(modules: Modules, optimizer: Optimizer, lr: float | None = None,
                                     initial_denom_lr: float = 10.0, train_bn: bool = True) -> None:
        """Unfreeze ``modules`` and add their parameters to ``optimizer`` as a new group.

        :param lr: the group's learning rate; by default the first group's divided by ``initial_denom_lr``.
        :param train_bn: also train the BatchNorm layers.
        """
        BaseFinetuning.make_trainable(modules)
        params_lr = optimizer.param_groups[0]["lr"] if lr is None else float(lr)
        denom_lr = initial_denom_lr if lr is None else 1.0
        params = BaseFinetuning.filter_on_optimizer(optimizer, BaseFinetuning.filter_params(modules, train_bn=train_bn))
        if params:
            optimizer.add_param_group({"params": params, "lr": params_lr / denom_lr})

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self.freeze_before_training(pl_module)

    @staticmethod
    def _apply_mapping_to_param_groups(param_groups: list[dict[str, Any]], mapping: dict[Any, Any]) -> list[dict[str, Any]]:
        return [{**{k: v for k, v in g.items() if k != "params"}, "params": [mapping[p] for p in g["params"]]}
                for g in param_groups]

    def _store(self, pl_module: LightningModule, opt_idx: int, num_param_groups: int,
               current_param_groups: list[dict[str, Any]]) -> None:
        mapping = {p: n for n, p in pl_module.named_parameters()}
        if opt_idx not in self._internal_optimizer_metadata:
            self._internal_optimizer_metadata[opt_idx] = self._apply_mapping_to_param_groups(current_param_groups, mapping)
        elif num_param_groups != len(current_param_groups):
            self._internal_optimizer_metadata[opt_idx].extend(
                self._apply_mapping_to_param_groups(current_param_groups[num_param_groups:], mapping)
            )

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        for opt_idx, optimizer in enumerate(trainer.optimizers):
            num_param_groups = len(optimizer.param_groups)
            self.finetune_function(pl_module, trainer.current_epoch, optimizer)
            self._store(pl_module, opt_idx, num_param_groups, optimizer.param_groups)

    def finetune_function(self, pl_module: LightningModule, epoch: int, optimizer: Optimizer) -> None:
        """Override: unfreeze what should train from ``epoch`` on."""
        raise NotImplementedError(f"{type(self).__name__} must implement finetune_function(pl_module, epoch, optimizer).")

    def freeze_before_training(self, pl_module: LightningModule) -> None:
        """Override: freeze what should not train at first."""
        raise NotImplementedError(f"{type(self).__name__} must implement freeze_before_training(pl_module).")


class BackboneFinetuning(BaseFinetuning):
    """Keep ``pl_module.backbone`` frozen, then train it with a learning rate that grows each epoch.

    :param unfreeze_backbone_at_epoch: the epoch at which the backbone starts training.
    :param lambda_func: ``epoch -> factor`` applied to the backbone's learning rate each later epoch.
    :param backbone_initial_ratio_lr: the backbone's first learning rate, as a fraction of the
        model's current one.
    :param backbone_initial_lr: the backbone's first learning rate (overrides the ratio).
    :param should_align: once the backbone's learning rate passes the model's, use the model's.
    :param initial_denom_lr: see ``unfreeze_and_add_param_group``.
    :param train_bn: train the backbone's BatchNorm layers.
    :param verbose: log both learning rates each epoch.
    :param rounding: digits of the logged learning rates.
    """

    def __init__(self, unfreeze_backbone_at_epoch: int = 10, lambda_func: Callable[[int], float] = multiplicative,
                 backbone_initial_ratio_lr: float = 10e-2, backbone_initial_lr: float | None = None,
                 should_align: bool = True, initial_denom_lr: float = 10.0, train_bn: bool = True,
                 verbose: bool = False, rounding: int = 12) -> None:
        super().__init__()
        self.unfreeze_backbone_at_epoch = unfreeze_backbone_at_epoch
        self.lambda_func = lambda_func
        self.backbone_initial_ratio_lr = backbone_initial_ratio_lr
        self.backbone_initial_lr = backbone_initial_lr
        self.should_align = should_align
        self.initial_denom_lr = initial_denom_lr
        self.train_bn = train_bn
        self.verbose = verbose
        self.rounding = rounding
        self.previous_backbone_lr: float | None = None

    def state_dict(self) -> dict[str, Any]:
        """The parameter groups and the backbone's latest learning rate."""
        return {**super().state_dict(), "previous_backbone_lr": self.previous_backbone_lr}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""
        self.previous_backbone_lr = state_dict["previous_backbone_lr"]
        super().load_state_dict(state_dict)

    def _restore_param_groups(self, trainer: Trainer, pl_module: LightningModule) -> None:
        super()._restore_param_groups(trainer, pl_module)
        # Resumed after the unfreezing epoch: the backbone (frozen again at setup) trains again.
        if self.previous_backbone_lr is not None:
            self.make_trainable(pl_module.backbone)
            if not self.train_bn:
                self.freeze([m for m in self.flatten_modules(pl_module.backbone) if isinstance(m, _BatchNorm)], train_bn=False)

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if not isinstance(getattr(pl_module, "backbone", None), Module):
            raise MisconfigurationException("The LightningModule should have a nn.Module `backbone` attribute")
        super().setup(trainer, pl_module, stage)

    def freeze_before_training(self, pl_module: LightningModule) -> None:
        self.freeze(pl_module.backbone)

    def finetune_function(self, pl_module: LightningModule, epoch: int, optimizer: Optimizer) -> None:
        current_lr = optimizer.param_groups[0]["lr"]
        if epoch == self.unfreeze_backbone_at_epoch:
            backbone_lr = (self.backbone_initial_lr if self.backbone_initial_lr is not None
                           else current_lr * self.backbone_initial_ratio_lr)
            self.unfreeze_and_add_param_group(pl_module.backbone, optimizer, backbone_lr, train_bn=self.train_bn,
                                              initial_denom_lr=self.initial_denom_lr)
        elif epoch > self.unfreeze_backbone_at_epoch and self.previous_backbone_lr is not None:
            backbone_lr = self.lambda_func(epoch + 1) * self.previous_backbone_lr
            if self.should_align and backbone_lr > current_lr:
                backbone_lr = current_lr
            optimizer.param_groups[-1]["lr"] = backbone_lr
        else:
            return
        self.previous_backbone_lr = backbone_lr
        if self.verbose:
            log.info(f"Current lr: {round(current_lr, self.rounding)}, Backbone lr: {round(backbone_lr, self.rounding)}")
