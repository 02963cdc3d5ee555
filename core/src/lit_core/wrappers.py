"""Letting a wrapper module (DDP and the like) run a ``LightningModule``'s step methods."""

from __future__ import annotations

from typing import Any

from torch import nn

from .module import LightningModule


class StepForward(nn.Module):
    """Routes ``forward(step_name, *args)`` to ``module.<step_name>(*args)``.

    Wrappers such as ``DistributedDataParallel`` hook into ``forward``; a strategy wraps this
    module instead of the ``LightningModule`` so that ``training_step`` runs inside the
    wrapper's forward. The loops call ``trainer.model("training_step", batch, batch_idx)``
    whenever ``lit_setup_module`` returned something other than the module itself.
    """

    def __init__(self, module: LightningModule) -> None:
        super().__init__()
        self.module = module

    def forward(self, step: str, *args: Any, **kwargs: Any) -> Any:
        """Call ``module.<step>(*args, **kwargs)`` (``step`` is ``"training_step"``, ``"validation_step"`` ...)."""
        return getattr(self.module, step)(*args, **kwargs)
