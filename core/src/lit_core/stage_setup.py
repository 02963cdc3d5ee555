"""What a stage does around its loop, apart from the plugins: torch's global settings, ``prepare_data``, checks.

``Trainer._run_stage`` calls these in order: ``apply_torch_settings`` (``deterministic=``,
``benchmark=``; put back with ``restore_torch_settings`` when the stage ends, however it ends),
``prepare_data`` (once per node or once in all, before ``setup``) and ``check_module_for``
(the ``LightningModule`` methods the stage needs).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import torch

from .builtins.adapters import overrides
from .exceptions import MisconfigurationException
from .module import LightningModule
from .trainer_state import TrainerFn

if TYPE_CHECKING:
    from .trainer import Trainer


def apply_torch_settings(deterministic: bool | str | None, benchmark: bool | None) -> tuple[Any, ...]:
    """Set ``Trainer(deterministic=, benchmark=)`` in torch for the stage; returns what to put back."""
    saved = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
             torch.backends.cudnn.benchmark)
    if deterministic is not None:
        torch.use_deterministic_algorithms(bool(deterministic), warn_only=deterministic == "warn")
        if deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if benchmark is not None:
        torch.backends.cudnn.benchmark = benchmark
    return saved


def restore_torch_settings(saved: tuple[Any, ...]) -> None:
    """Put back what ``apply_torch_settings`` changed."""
    torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
    torch.backends.cudnn.benchmark = saved[2]


def prepare_data(trainer: Trainer) -> None:
    """Call ``prepare_data`` of the datamodule and the module once per node (or once in all), as Lightning."""
    per_node = trainer.prepare_data_per_node
    if per_node is None:
        per_node = getattr(trainer.datamodule, "prepare_data_per_node", getattr(trainer.lightning_module, "prepare_data_per_node", True))
    if (trainer.local_rank == 0) if per_node else trainer.is_global_zero:
        if trainer.datamodule is not None:
            trainer.datamodule.prepare_data()
        trainer.lightning_module.prepare_data()
    trainer.strategy.barrier("prepare_data")


def check_module_for(module: LightningModule, fn: TrainerFn) -> None:
    """The methods ``fn`` needs the module to define (``training_step``...): an error naming the missing one."""
    required = {TrainerFn.FITTING: "training_step", TrainerFn.TESTING: "test_step", TrainerFn.VALIDATING: "validation_step"}.get(fn)
    if required and not overrides(module, LightningModule, required):
        raise MisconfigurationException(
            f"trainer.{fn.value}() needs {type(module).__name__}.{required}(self, batch, batch_idx): define it."
        )
    if fn == TrainerFn.FITTING and not overrides(module, LightningModule, "configure_optimizers"):
        raise MisconfigurationException(
            f"trainer.fit() needs {type(module).__name__}.configure_optimizers(): return an optimizer, e.g. "
            "torch.optim.Adam(trainer.parameters(), lr=1e-3)."
        )
