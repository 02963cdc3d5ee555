"""The callbacks two Lightning 1.x flags add: ``weights_summary="top" | "full"`` and ``track_grad_norm=p``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lit_core.plugin_api import Callback, default_model_summary, grad_norm, hookimpl, rank_zero_warn

if TYPE_CHECKING:
    from lit_core.plugin_api import LightningModule, Trainer


class WeightsSummary(Callback):
    """``Trainer(weights_summary="top" | "full")`` of Lightning 1.x: the default model summary, to ``max_depth``.

    It answers ``lit_print_model_summary`` instead of the kernel's default (``trylast``), with the
    callback of the ``default_model_summary`` role made with its depth (``default_model_summary``). Being
    the last of ``trainer.callbacks``, it answers after the callbacks given, so a ``ModelSummary``
    callback given too still wins, as in Lightning 1.x; ``enable_model_summary=False`` still turns
    the summary off. With no distribution filling the role it warns and prints nothing.
    """

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth

    @hookimpl
    def lit_print_model_summary(self, trainer: Trainer, module: LightningModule) -> bool | None:
        summary = default_model_summary(max_depth=self.max_depth)
        if summary is None:
            rank_zero_warn(
                "Trainer(weights_summary=...) prints no summary: no installed distribution fills the "
                "default_model_summary role. Install one (lit-callbacks) or drop the flag."
            )
            return None
        summary.on_fit_start(trainer, module)
        return True


class GradNormLogger(Callback):
    """``Trainer(track_grad_norm=p)`` of Lightning 1.x: logs ``grad_{p}_norm/<parameter>`` and
    ``grad_{p}_norm_total`` before the optimizer steps, on the steps whose metrics go to the loggers."""

    def __init__(self, norm_type: float) -> None:
        self.norm_type = norm_type

    def on_before_optimizer_step(self, trainer: Trainer, pl_module: LightningModule, optimizer: Any) -> None:
        every = trainer.log_every_n_steps
        # Like Lightning 1.x, only when this step's metrics are sent (the norms cost a host read each).
        if every <= 0 or (trainer.state.batches_that_stepped + 1) % every != 0:
            return
        norms = grad_norm(pl_module, self.norm_type)
        if norms:
            pl_module.log_dict(norms, on_step=True, on_epoch=False, prog_bar=False, logger=True)
