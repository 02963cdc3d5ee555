"""The kernel's single-process implementation of every service hook (all ``trylast``).

Accelerator, strategy and precision plugins override these by implementing the same hook
(they are asked first) or wrap them (``@hookimpl(wrapper=True)``). This plugin is essential:
it cannot be disabled.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from typing import TYPE_CHECKING, Any

import torch

from .. import roles
from ..apply import move_data_to_device
from ..checkpoint import load
from ..checkpoint_files import atomic_save
from ..hot_path import step_optimizer
from ..markers import hookimpl
from ..progress import ProgressBar

if TYPE_CHECKING:
    from torch.optim import Optimizer

    from ..module import LightningModule
    from ..trainer import Trainer


class KernelDefaults:
    """One process, one device, the module's own ``backward`` / ``optimizer_step``."""

    def __init__(self, disabled: Iterable[str] = ()) -> None:
        #: ``Trainer(disable_plugins=...)``: the default summary's role skips the names it blocks.
        self.disabled = frozenset(disabled)

    @hookimpl(trylast=True)
    def lit_setup_module(self, trainer: Trainer, module: LightningModule) -> torch.nn.Module:
        return module.to(trainer.device)

    @hookimpl(trylast=True)
    def lit_setup_optimizers(self, optimizers: list[Optimizer]) -> list[Optimizer]:
        return optimizers

    @hookimpl(trylast=True)
    def lit_process_dataloader(self, dataloader: Any) -> Any:
        return dataloader

    # The three per-step services take every argument of their hookspec, used or not, so that
    # PluginManager.fast_caller can hand the loop the method itself (no argument selection).

    @hookimpl(trylast=True)
    def lit_batch_to_device(self, trainer: Trainer, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        return move_data_to_device(batch, device)

    @hookimpl(trylast=True)
    def lit_backward(self, trainer: Trainer, module: LightningModule, loss: torch.Tensor, optimizer: Any,
                     optimizer_idx: Any, args: tuple, kwargs: dict) -> bool:
        trainer.state.backward_call(loss, optimizer, optimizer_idx, args, kwargs)
        return True

    @hookimpl(trylast=True)
    def lit_optimizer_step(self, trainer: Trainer, module: LightningModule, optimizer: Any, optimizer_idx: int,
                           closure: Callable[[], Any], batch_idx: int) -> bool:
        module_step = trainer.state.module_optimizer_step
        if module_step is not None:
            module_step(optimizer, optimizer_idx, closure, batch_idx)
        else:
            step_optimizer(optimizer, closure)
        return True

    @hookimpl(trylast=True)
    def lit_clip_gradients(self, optimizer: Optimizer, clip_val: float | None, algorithm: str | None) -> bool:
        if clip_val is None or clip_val <= 0:
            return True
        params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        if algorithm in (None, "norm"):
            torch.nn.utils.clip_grad_norm_(params, clip_val)
        elif algorithm == "value":
            torch.nn.utils.clip_grad_value_(params, clip_val)
        else:
            raise ValueError(f"gradient_clip_algorithm={algorithm!r}: use 'norm' or 'value'.")
        return True

    # No collectives here: they are methods of the selected Strategy (single-process ones in its base class).

    @hookimpl(trylast=True)
    def lit_save_checkpoint(self, checkpoint: dict[str, Any], path: str) -> str:
        atomic_save(checkpoint, path)
        return path

    @hookimpl(trylast=True)
    def lit_load_checkpoint(self, path: str, map_location: Any) -> dict[str, Any]:
        return load(path, map_location)

    @hookimpl(trylast=True)
    def lit_print_model_summary(self, trainer: Trainer, module: torch.nn.Module) -> bool | None:
        # The callback of the default_model_summary role prints (lit-callbacks' ModelSummary); with
        # none installed there is no summary, as there is no bar without a progress-bar plugin.
        # Lightning 1.x's Trainer(weights_summary="full") answers first, deeper (lit-compat's WeightsSummary).
        summary = roles.model_summary(max_depth=1, disabled=self.disabled)
        if summary is None:
            return None
        summary.on_fit_start(trainer, module)
        return True

    @hookimpl(wrapper=True)
    def lit_print_results(self, stage: str, results: list[dict[str, float]]) -> Generator[None, Any, Any]:
        # A wrapper, so every implementation is asked first: a printer in plugins=[...], then an
        # enabled progress bar (ProgressBar's trylast implementation); the table when none answered.
        shown = yield
        if shown is None:
            print(ProgressBar.format_results(stage, results))
        return True
