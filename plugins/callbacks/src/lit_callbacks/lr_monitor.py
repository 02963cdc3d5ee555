"""``LearningRateMonitor``: log the optimizers' learning rates (and momentum, weight decay) as Lightning does."""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any

from lit_core.plugin_api import Callback, MisconfigurationException, rank_zero_warn

if TYPE_CHECKING:
    from torch.optim import Optimizer

    from lit_core.plugin_api import LightningModule, Trainer


class LearningRateMonitor(Callback):
    """Log each optimizer's learning rate through the Trainer's loggers.

    Names are Lightning's: ``lr-<Optimizer class>`` (``lr-Adam``; a second Adam is ``lr-Adam-1``),
    ``/pg1``, ``/pg2`` ... per parameter group when there are several (or ``/<name>`` when a group
    has a ``name``), or the scheduler config's ``name``. Momentum goes in ``<name>-momentum``
    and weight decay in ``<name>-weight_decay``.

    :param logging_interval: ``"step"`` or ``"epoch"`` for every optimizer, or ``None``: each
        scheduler's own ``interval`` (optimizers without a scheduler: at both).
    :param log_momentum: also log the momentum (or ``betas[0]`` for Adam-like optimizers).
    :param log_weight_decay: also log the weight decay.
    """

    def __init__(self, logging_interval: str | None = None, log_momentum: bool = False, log_weight_decay: bool = False) -> None:
        if logging_interval not in (None, "step", "epoch"):
            raise MisconfigurationException("logging_interval should be `step` or `epoch` or `None`.")
        self.logging_interval = logging_interval
        self.log_momentum = log_momentum
        self.log_weight_decay = log_weight_decay
        #: name -> every learning rate logged under it.
        self.lrs: dict[str, list[float]] = {}
        self.last_momentum_values: dict[str, float | None] = {}
        self.last_weight_decay_values: dict[str, float | None] = {}
        if logging_interval == "epoch" and type(self).on_train_batch_start is LearningRateMonitor.on_train_batch_start:
            # Nothing to log per step: a hook set to None on the instance is absent, so lit calls none per batch.
            self.on_train_batch_start = None  # type: ignore[assignment]

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.loggers:
            raise MisconfigurationException(
                "Cannot use `LearningRateMonitor` callback with `Trainer` that has no logger: give the Trainer a logger "
                "(e.g. logger='csv') or remove the callback."
            )
        if self.log_momentum:
            optimizers = [c.scheduler.optimizer for c in trainer.lr_scheduler_configs] or trainer.optimizers
            if any("momentum" not in opt.defaults and "betas" not in opt.defaults for opt in optimizers):
                rank_zero_warn("You have set log_momentum=True, but some optimizers do not have momentum. This will log "
                               "a value 0 for the momentum.", category=RuntimeWarning)
        names = [name for group in self._names(trainer)[0] for name in group]
        self.lrs = {name: [] for name in names}
        self.last_momentum_values = {f"{name}-momentum": None for name in names}
        self.last_weight_decay_values = {f"{name}-weight_decay": None for name in names}

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int) -> None:
        # Lightning logs when the step's metrics are logged: every log_every_n_steps optimizer steps.
        every = trainer.log_every_n_steps
        stepped = trainer.state.batches_that_stepped  # the step the trainer's own metrics go to
        if self.logging_interval == "epoch" or every <= 0 or ((stepped + 1) % every and not trainer.should_stop):
            return
        self._log(trainer, "step" if self.logging_interval is None else "any")

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.logging_interval != "step":
            self._log(trainer, "epoch" if self.logging_interval is None else "any")

    def _log(self, trainer: Trainer, interval: str) -> None:
        stats = self._extract_stats(trainer, interval)
        if stats and trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.log_metrics(stats, step=trainer.state.batches_that_stepped)

    def _extract_stats(self, trainer: Trainer, interval: str) -> dict[str, float]:
        """The current values of every optimizer due at ``interval`` (``"step"``, ``"epoch"`` or ``"any"``)."""
        names, optimizers, intervals = self._names(trainer)
        stats: dict[str, float] = {}
        for group_names, optimizer, own_interval in zip(names, optimizers, intervals):
            if own_interval is not None and interval not in (own_interval, "any"):
                continue
            use_betas = "betas" in optimizer.defaults
            for group, name in zip(optimizer.param_groups, group_names):
                stats[name] = group["lr"]
                self.lrs.setdefault(name, []).append(group["lr"])
                if self.log_momentum:
                    momentum = group["betas"][0] if use_betas else group.get("momentum", 0)
                    stats[f"{name}-momentum"] = self.last_momentum_values[f"{name}-momentum"] = momentum
                if self.log_weight_decay and "weight_decay" in group:
                    decay = group["weight_decay"]
                    stats[f"{name}-weight_decay"] = self.last_weight_decay_values[f"{name}-weight_decay"] = decay
        return stats

    def _names(self, trainer: Trainer) -> tuple[list[list[str]], list[Optimizer], list[str | None]]:
        """Per optimizer (those with a scheduler first): its groups' names, the optimizer, its interval.

        Recomputed at each log: a finetuning callback may have added parameter groups since (the
        name without ``/pg1`` then continues as ``/pg1``, as in Lightning).
        """
        seen: list[Optimizer] = []
        counts: defaultdict[type, int] = defaultdict(int)
        names: list[list[str]] = []
        optimizers: list[Optimizer] = []
        intervals: list[str | None] = []
        for config in trainer.lr_scheduler_configs:
            optimizer = config.scheduler.optimizer
            named = getattr(config, "name", None)
            if named is None:
                counts[type(optimizer)] += 1
            names.append(self._group_names(named or f"lr-{type(optimizer).__name__}", optimizer, counts, named is None))
            optimizers.append(optimizer)
            intervals.append(config.interval)
            seen.append(optimizer)
        for optimizer in trainer.optimizers:
            optimizer = getattr(optimizer, "optimizer", optimizer)  # a wrapper around a torch optimizer
            if optimizer in seen:
                continue
            counts[type(optimizer)] += 1
            names.append(self._group_names(f"lr-{type(optimizer).__name__}", optimizer, counts, True))
            optimizers.append(optimizer)
            intervals.append(None)  # without a scheduler: logged at every step and every epoch start, as in Lightning
            seen.append(optimizer)
        for group_names in names:
            for name in group_names:
                old = name.replace("/pg1", "")
                if "/pg1" in name and old in self.lrs and name not in self.lrs:
                    self.lrs[name] = self.lrs.pop(old)
        return names, optimizers, intervals

    @staticmethod
    def _group_names(name: str, optimizer: Optimizer, counts: defaultdict[type, int], numbered: bool) -> list[str]:
        groups = optimizer.param_groups
        given = [g.get("name", f"pg{i}") for i, g in enumerate(groups, start=1)]
        duplicates = {n for n in given if given.count(n) > 1}
        if duplicates:
            raise MisconfigurationException(
                "A single `Optimizer` cannot have multiple parameter groups with identical `name` values. "
                f"{name} has duplicated parameter group names {duplicates}"
            )
        count = counts[type(optimizer)]
        if numbered and count > 1:
            name = f"{name}-{count - 1}"
        if len(groups) > 1:
            return [f"{name}/{n}" for n in given]
        return [f"{name}/{groups[0]['name']}" if groups[0].get("name") else name]
