"""``GradientAccumulationScheduler``: change ``accumulate_grad_batches`` by epoch (Lightning's callback)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lit_core.plugin_api import Callback, LightningModule, MisconfigurationException, rank_zero_warn

if TYPE_CHECKING:
    from lit_core.plugin_api import Trainer


class GradientAccumulationScheduler(Callback):
    """Accumulate gradients over a number of batches that depends on the epoch.

    :param scheduling: ``{epoch: factor}`` (epochs from 0): from each listed epoch on, the optimizer
        steps every ``factor`` batches. Epochs before the first listed one use 1.

    >>> GradientAccumulationScheduler({4: 2, 8: 4}).get_accumulate_grad_batches(5)
    2
    """

    def __init__(self, scheduling: dict[int, int]) -> None:
        if not scheduling:
            raise TypeError("Empty dict cannot be interpreted correct")
        if any(not isinstance(key, int) or key < 0 for key in scheduling):
            raise MisconfigurationException(f"Epoch should be an int greater than or equal to 0. Got {list(scheduling)}.")
        if any(not isinstance(value, int) or value < 1 for value in scheduling.values()):
            raise MisconfigurationException(
                f"Accumulation factor should be an int greater than 0. Got {list(scheduling.values())}."
            )
        scheduling = dict(scheduling)
        if min(scheduling) != 0:
            scheduling[0] = 1
        self.scheduling = scheduling
        self.epochs = sorted(scheduling)

    def going_to_accumulate_grad_batches(self) -> bool:
        """Whether any epoch accumulates over more than one batch."""
        return any(value > 1 for value in self.scheduling.values())

    def get_accumulate_grad_batches(self, epoch: int) -> int:
        """The factor for ``epoch``: that of the last listed epoch at or before it."""
        return next((self.scheduling[e] for e in reversed(self.epochs) if epoch >= e), 1)

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not pl_module.automatic_optimization:
            raise RuntimeError(
                "Automatic gradient accumulation and the `GradientAccumulationScheduler` is not supported for manual "
                "optimization. Please remove the callback or switch to automatic optimization."
            )
        overridden = any(getattr(type(pl_module), name) is not getattr(LightningModule, name)
                         for name in ("optimizer_step", "optimizer_zero_grad"))
        if overridden and self.going_to_accumulate_grad_batches():
            rank_zero_warn(
                "When using `Trainer(accumulate_grad_batches != 1)` and overriding `LightningModule.optimizer_{step,"
                "zero_grad}`, the hooks will not be called on every batch (rather, they are called on every "
                "optimization step)."
            )
        if trainer.accumulate_grad_batches != 1:
            raise ValueError(
                "You have set `accumulate_grad_batches` and are using the `GradientAccumulationScheduler` callback. "
                "Either remove `accumulate_grad_batches` from the Trainer or remove the callback."
            )

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        trainer.accumulate_grad_batches = self.get_accumulate_grad_batches(trainer.current_epoch)
