"""The learning-rate range test: ``LearningRateFinder`` (a callback) and its result, ``LRFinder``.

A short training run raises the learning rate after every optimizer step, from ``min_lr`` to
``max_lr`` (exponentially or linearly), and records the smoothed training loss at each. The
suggestion is the learning rate where the loss falls fastest. The run happens inside the fit
(at its start, as in Lightning) through ``lit_core.trial.Trial``, which puts the weights,
optimizer, counters, random state, callbacks and loggers back afterwards.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import torch

import lit_core as lit
from lit_core.plugin_api import ExitStage, LRSchedulerConfig, MisconfigurationException, Trial, rank_zero_warn

from .attributes import lightning_hasattr, lightning_setattr

log = logging.getLogger(__name__)

_MODES = ("linear", "exponential")
_LR_ATTRS = ("lr", "learning_rate")


class MatplotlibMissing(MisconfigurationException, ImportError):
    """``LRFinder.plot()`` needs matplotlib, which is not installed.

    Both a ``MisconfigurationException`` (what Lightning raises) and an ``ImportError``.
    """


class _RangeScheduler(torch.optim.lr_scheduler.LRScheduler):
    """Moves every parameter group's learning rate from ``min_lr`` to ``max_lr`` over ``steps`` steps.

    The points are Lightning 2.6's, so the same program finds the same curve and suggestion: the
    first step uses ``min_lr``, step ``i >= 1`` the fraction ``(i + 1) / steps`` of the range (its
    second point is two fractions up; the last one is ``max_lr``).
    """

    def __init__(self, optimizer: torch.optim.Optimizer, max_lr: float, steps: int, mode: str) -> None:
        self.max_lr, self.steps, self.mode = max_lr, max(steps, 1), mode
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        if self.last_epoch <= 0:
            return list(self.base_lrs)
        r = min((self.last_epoch + 1) / self.steps, 1.0)
        if self.mode == "linear":
            return [base + r * (self.max_lr - base) for base in self.base_lrs]
        return [base * (self.max_lr / base) ** r for base in self.base_lrs]


class _LRProbe(lit.Callback):
    """Records the learning rate before each optimizer step and the smoothed loss after it.

    Stops the trial when the smoothed loss exceeds ``early_stop_threshold`` times the best so far.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, early_stop_threshold: float | None, beta: float = 0.98) -> None:
        self.optimizer = optimizer
        self.early_stop_threshold = early_stop_threshold
        self.beta = beta
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.avg_loss = 0.0
        self.best_loss = 0.0

    @staticmethod
    def _steps(trainer: lit.Trainer, batch_idx: int) -> bool:
        return (batch_idx + 1) % trainer.accumulate_grad_batches == 0

    def on_train_batch_start(self, trainer: lit.Trainer, pl_module: lit.LightningModule, batch: Any, batch_idx: int) -> None:
        if self._steps(trainer, batch_idx):
            self.lrs.append(self.optimizer.param_groups[0]["lr"])

    def on_train_batch_end(self, trainer: lit.Trainer, pl_module: lit.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        if not self._steps(trainer, batch_idx):
            return
        loss = outputs if isinstance(outputs, torch.Tensor) else (outputs or {}).get("loss")
        if loss is None:  # the step returned nothing (manual optimization): keep lrs and losses paired
            self.losses.append(float("nan"))
            return
        step = len(self.losses) + 1
        self.avg_loss = self.beta * self.avg_loss + (1 - self.beta) * float(loss)
        # Lightning debiases with the global step counted after this optimizer step, plus one
        # (beta**2 at the first point): the same smoothed curve, so the same suggestion.
        smoothed = self.avg_loss / (1 - self.beta ** (step + 1))
        if self.early_stop_threshold is not None and step > 1 and smoothed > self.early_stop_threshold * self.best_loss:
            trainer.should_stop = True
        if trainer.world_size > 1:
            trainer.should_stop = bool(trainer.strategy.broadcast(trainer.should_stop, src=0))
        if step == 1 or smoothed < self.best_loss:
            self.best_loss = smoothed
        self.losses.append(smoothed)


class LRFinder:
    """What ``Tuner.lr_find`` returns: the learning rates tried and the smoothed losses (Lightning's ``_LRFinder``).

    :param mode: ``"exponential"`` or ``"linear"``.
    :param lr_min: the first learning rate tried.
    :param lr_max: the last learning rate tried.
    :param num_training: how many learning rates were to be tried.
    """

    def __init__(self, mode: str, lr_min: float, lr_max: float, num_training: int) -> None:
        self.mode = mode
        self.lr_min = lr_min
        self.lr_max = lr_max
        self.num_training = num_training
        #: ``{"lr": [...], "loss": [...]}``, one entry per optimizer step of the search.
        self.results: dict[str, list[float]] = {}
        self._optimal_idx: int | None = None

    def suggestion(self, skip_begin: int = 10, skip_end: int = 1) -> float | None:
        """The learning rate where the loss falls fastest (its steepest negative gradient against the rate).

        :param skip_begin: points skipped at the start (the loss has not moved yet).
        :param skip_end: points skipped at the end (the loss is diverging).
        :return: the learning rate, or ``None`` (logged as an error) with fewer than two finite points left.
        """
        # float32 like Lightning's, so near-ties resolve the same way.
        losses = torch.tensor(self.results["loss"], dtype=torch.float32)
        kept = torch.arange(len(losses))[skip_begin : len(losses) - skip_end]
        kept = kept[torch.isfinite(losses[kept])]
        if len(kept) < 2:
            log.error(
                "Failed to compute suggestion for learning rate because there are not enough points. Increase the loop"
                " iteration limits or the size of your dataset/dataloader."
            )
            self._optimal_idx = None
            return None
        # Lightning 2.6 takes the gradient against the learning rates themselves, not the point index.
        lrs = torch.tensor(self.results["lr"], dtype=torch.float32)
        gradients = torch.gradient(losses[kept], spacing=[lrs[kept]])[0]
        self._optimal_idx = int(kept[int(torch.argmin(gradients))])
        return self.results["lr"][self._optimal_idx]

    def plot(self, suggest: bool = False, show: bool = False, ax: Any = None) -> Any:
        """Plot loss against learning rate (log scale in exponential mode); needs matplotlib.

        :param suggest: mark the suggested learning rate with a red point.
        :param show: call ``plt.show()``.
        :param ax: the matplotlib ``Axes`` to draw on; a new figure when ``None``.
        :return: the matplotlib figure.
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError as exc:
            raise MatplotlibMissing(
                "To use the `plot` method, you must have Matplotlib installed. Install it by running `pip install -U matplotlib`."
            ) from exc
        lrs, losses = self.results["lr"], self.results["loss"]
        if ax is None:
            fig, ax = plt.subplots()
        else:
            fig = ax.figure
        ax.plot(lrs, losses)
        if self.mode == "exponential":
            ax.set_xscale("log")
        ax.set_xlabel("Learning rate")
        ax.set_ylabel("Loss")
        if suggest and self.suggestion() is not None:
            idx = self._optimal_idx
            ax.plot(lrs[idx], losses[idx], markersize=10, marker="o", color="red")
        if show:
            plt.show()
        return fig


def lr_attr_name(model: lit.LightningModule, attr_name: str) -> str:
    """The attribute the found learning rate is written to: ``attr_name``, else ``lr`` or ``learning_rate``."""
    if attr_name:
        if not lightning_hasattr(model, attr_name):
            raise AttributeError(
                f"The attribute name for the learning rate was set to {attr_name}, but could not find this as a field in"
                " `model` or `model.hparams`."
            )
        return attr_name
    for name in _LR_ATTRS:
        if lightning_hasattr(model, name):
            return name
    raise AttributeError(
        f"When using the learning rate finder, either `model` or `model.hparams` should have one of these fields:"
        f" {_LR_ATTRS}. If your model has a different name for the learning rate, set it with `.lr_find(attr_name=...)`."
    )


def lr_find(trainer: lit.Trainer, model: lit.LightningModule, min_lr: float = 1e-8, max_lr: float = 1.0,
            num_training: int = 100, mode: str = "exponential", early_stop_threshold: float | None = 4.0,
            update_attr: bool = False, attr_name: str = "") -> LRFinder | None:
    """Run the range test inside the running fit and put everything back; returns its ``LRFinder``.

    With ``update_attr`` the suggestion is written to the module's learning-rate attribute.
    """
    if trainer.fast_dev_run:
        rank_zero_warn("Skipping learning rate finder since `fast_dev_run` is enabled.")
        return None
    if update_attr:
        attr_name = lr_attr_name(model, attr_name)
    if len(trainer.optimizers) != 1:
        raise MisconfigurationException(
            f"`model.configure_optimizers()` returned {len(trainer.optimizers)} optimizers, but the learning rate finder"
            " only works with a single optimizer: tune each one separately, or return one optimizer."
        )
    optimizer = trainer.optimizers[0]
    finder = LRFinder(mode, min_lr, max_lr, num_training)
    probe = _LRProbe(optimizer, early_stop_threshold)
    with Trial(trainer, callbacks=[probe], max_steps=trainer.global_step + num_training, limit_val_batches=num_training) as trial:
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"] = min_lr
        scheduler = _RangeScheduler(optimizer, max_lr, num_training, mode)
        trainer.lr_scheduler_configs = [LRSchedulerConfig(scheduler, interval="step")]
        trial.run()
        steps = len(probe.losses)
    if steps != num_training:
        log.info(f"LR finder stopped early after {steps} steps due to diverging loss.")
    finder.results = {"lr": probe.lrs[:steps], "loss": probe.losses}
    if trainer.world_size > 1:  # every process takes rank zero's curve, so all set the same rate
        finder.results = trainer.strategy.broadcast(finder.results, src=0)
    if update_attr:
        lr = finder.suggestion()
        if lr is not None:
            lightning_setattr(model, attr_name, lr)
            log.info(f"Learning rate set to {lr}")
    return finder


class LearningRateFinder(lit.Callback):
    """Find a good initial learning rate when the fit starts (Lightning's ``LearningRateFinder``).

    The search trains ``num_training_steps`` steps with a learning rate rising from ``min_lr`` to
    ``max_lr``, then the weights, optimizer and counters are put back; with ``update_attr`` the
    suggestion is written to the module's ``lr`` / ``learning_rate`` (or ``attr_name``), and
    ``optimal_lr`` holds the ``LRFinder`` result. Override ``on_fit_start`` and call
    ``self.lr_find(trainer, pl_module)`` from another hook to search at other times.

    :param min_lr: the first learning rate tried.
    :param max_lr: the last learning rate tried.
    :param num_training_steps: how many learning rates (optimizer steps) to try.
    :param mode: ``"exponential"`` or ``"linear"`` increase.
    :param early_stop_threshold: stop when the loss exceeds this times the best loss; ``None``: never.
    :param update_attr: write the suggestion to the module's learning-rate attribute.
    :param attr_name: that attribute's name when it is neither ``lr`` nor ``learning_rate``.
    """

    SUPPORTED_MODES = _MODES

    def __init__(self, min_lr: float = 1e-8, max_lr: float = 1, num_training_steps: int = 100, mode: str = "exponential",
                 early_stop_threshold: float | None = 4.0, update_attr: bool = True, attr_name: str = "") -> None:
        mode = mode.lower()
        if mode not in self.SUPPORTED_MODES:
            raise ValueError(f"`mode` should be either of {self.SUPPORTED_MODES}")
        if not (0 < min_lr < max_lr) or not math.isfinite(max_lr):
            raise ValueError(f"min_lr={min_lr} and max_lr={max_lr}: need 0 < min_lr < max_lr.")
        self._min_lr = min_lr
        self._max_lr = max_lr
        self._num_training_steps = num_training_steps
        self._mode = mode
        self._early_stop_threshold = early_stop_threshold
        self._update_attr = update_attr
        self._attr_name = attr_name
        #: Set by the ``Tuner``: end the fit once the search is done.
        self._early_exit = False
        #: The ``LRFinder`` of the last search.
        self.optimal_lr: LRFinder | None = None

    def lr_find(self, trainer: lit.Trainer, pl_module: lit.LightningModule) -> None:
        """Run the search now (from inside a fit)."""
        self.optimal_lr = lr_find(trainer, pl_module, self._min_lr, self._max_lr, self._num_training_steps, self._mode,
                                  self._early_stop_threshold, self._update_attr, self._attr_name)
        if self._early_exit:
            raise ExitStage()

    def on_fit_start(self, trainer: lit.Trainer, pl_module: lit.LightningModule) -> None:
        """Search before the first training step."""
        self.lr_find(trainer, pl_module)
