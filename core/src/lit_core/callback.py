"""``Callback``: Lightning's hooks, for code that is not part of the model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from torch.optim import Optimizer

    from .module import LightningModule
    from .trainer import Trainer


class Callback:
    """Override any of these hooks; only the ones you override are ever called.

    Hooks receive ``(trainer, pl_module, ...)`` positionally, as in Lightning. A callback may
    also carry ``@lit.hookimpl`` methods for lit's own hooks (see ``lit_core.hookspecs``).
    """

    #: Set to ``True`` by a progress bar, so that the kernel adds no default bar and ``trainer.progress_bar_callback`` finds it.
    is_progress_bar: bool = False

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this callback cannot run here (a missing library...), or ``None`` when it can.

        A classmethod, as on every kind of plugin (``lit_core.plugin_base``): ``lit plugins`` asks
        the class before any instance exists.
        """
        return None

    @property
    def state_key(self) -> str:
        """The key of this callback's state in checkpoints."""
        return type(self).__qualname__

    def state_dict(self) -> dict[str, Any]:
        """State to save in checkpoints."""
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""

    def on_init_start(self, trainer: Trainer) -> None:
        """Called when the Trainer starts initialising."""

    def on_init_end(self, trainer: Trainer) -> None:
        """Called when the Trainer is initialised."""

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Called when fit, validate, test or predict begins."""

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Called when fit, validate, test or predict ends."""

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Called when fit begins."""

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Called when fit ends."""

    def on_sanity_check_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Called when the validation sanity check starts."""

    def on_sanity_check_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Called when the validation sanity check ends."""

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Called when training begins."""

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Called when training ends."""

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Called when a training epoch begins."""

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Called when a training epoch ends."""

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int) -> None:
        """Called before ``training_step``."""

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        """Called after a training batch."""

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Called when a validation loop begins."""

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Called when a validation loop ends."""

    def on_validation_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Called before the first validation batch."""

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Called after the last validation batch."""

    def on_validation_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Called before ``validation_step``."""

    def on_validation_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Called after ``validation_step``."""

    def on_test_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Called when the test loop begins."""

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Called when the test loop ends."""

    def on_test_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Called before the first test batch."""

    def on_test_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Called after the last test batch."""

    def on_test_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Called before ``test_step``."""

    def on_test_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Called after ``test_step``."""

    def on_predict_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Called when the predict loop begins."""

    def on_predict_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Called when the predict loop ends."""

    def on_predict_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Called before the first predict batch."""

    def on_predict_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Called after the last predict batch."""

    def on_predict_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Called before ``predict_step``."""

    def on_predict_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        """Called after ``predict_step``."""

    def on_before_backward(self, trainer: Trainer, pl_module: LightningModule, loss: torch.Tensor) -> None:
        """Called before the backward pass."""

    def on_after_backward(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Called after the backward pass."""

    def on_before_optimizer_step(self, trainer: Trainer, pl_module: LightningModule, optimizer: Optimizer) -> None:
        """Called before the optimizer steps."""

    def on_before_zero_grad(self, trainer: Trainer, pl_module: LightningModule, optimizer: Optimizer) -> None:
        """Called before gradients are zeroed."""

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        """Called when a checkpoint is being saved."""

    def on_load_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]) -> None:
        """Called when a checkpoint is being loaded."""

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        """Called when an exception ends a stage."""
