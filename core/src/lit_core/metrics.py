"""``self.log`` bookkeeping: step values, epoch reductions, and what each consumer sees.

Values stay tensors: a logged step value is stored as it is (detached), epoch values are
accumulated with tensor arithmetic. Nothing calls ``.item()`` per step; loggers and progress
bars convert when they read.

A logged metric *object* (torchmetrics' ``Metric``, recognised by its methods: lit-core does not
import torchmetrics) keeps its own state: its step value is what its last ``forward`` returned,
its epoch value is its ``compute()`` (which synchronises across processes itself, so ``sync_dist``
does not reduce it again), and it is ``reset()`` when the epoch's values are computed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from .exceptions import MisconfigurationException

# Lightning accepts these names (any case) and functions, Python's builtins included.
_REDUCE_NAMES: dict[Any, str] = {
    "mean": "mean", "avg": "mean", torch.mean: "mean",
    "sum": "sum", torch.sum: "sum", sum: "sum",
    "max": "max", torch.max: "max", max: "max",
    "min": "min", torch.min: "min", min: "min",
}

#: How the running epoch value takes in the next value, per reduction but ``"mean"`` (a weighted sum).
_COMBINE: dict[str, Callable[..., torch.Tensor]] = {"sum": torch.add, "max": torch.maximum, "min": torch.minimum}


def reduce_name(reduce_fx: Any) -> str:
    """Normalise ``reduce_fx`` (a name or ``torch.mean``-like function)."""
    try:
        return _REDUCE_NAMES[reduce_fx.lower() if isinstance(reduce_fx, str) else reduce_fx]
    except (KeyError, TypeError):
        raise MisconfigurationException(
            f"self.log(..., reduce_fx={reduce_fx!r}) is not supported: use 'mean', 'sum', 'max' or 'min'."
        ) from None


def is_metric_object(value: Any) -> bool:
    """Whether ``value`` is a torchmetrics-style ``Metric`` (duck typed: ``update``, ``compute``, ``reset``, ``forward``)."""
    return all(callable(getattr(value, name, None)) for name in ("update", "compute", "reset", "forward"))


@dataclass(slots=True, eq=False)
class LoggedMetric:
    """One logged name: its options, the last step value and the running epoch reduction."""

    key: str
    prog_bar: bool
    logger: bool
    on_step: bool
    on_epoch: bool
    reduce: str
    sync_dist: bool
    #: The ``Metric`` object logged under this name (``None`` for values).
    metric: Any = None
    value: torch.Tensor | None = None
    #: Logged since the loggers last received step values.
    fresh: bool = False
    total: torch.Tensor | None = None
    weight: int = 0
    #: The metric object was logged since its last ``compute()`` / ``reset()``.
    updated: bool = False
    #: The names its step and epoch values go under (``name_step`` / ``name_epoch`` when logged both ways).
    step_key: str = field(init=False)
    epoch_key: str = field(init=False)

    def __post_init__(self) -> None:
        self.step_key = f"{self.key}_step" if self.on_epoch else self.key
        self.epoch_key = f"{self.key}_epoch" if self.on_step else self.key

    def accumulate(self, value: torch.Tensor, batch_size: int) -> None:
        total = self.total
        if self.reduce == "mean":
            weighted = value * batch_size
            self.total = weighted if total is None else total + weighted
            self.weight += batch_size
        elif total is None:
            self.total = value.clone()
            self.weight = 1
        else:
            self.total = _COMBINE[self.reduce](total, value)

    def compute(self, reduce_across: Callable[[torch.Tensor, str], torch.Tensor] | None) -> torch.Tensor:
        """The epoch value, reduced across processes when ``sync_dist`` asked for it."""
        total = self.total
        assert total is not None
        if self.reduce == "mean":
            weight = torch.tensor(float(self.weight), device=total.device)
            if reduce_across is not None:
                total, weight = reduce_across(total, "sum"), reduce_across(weight, "sum")
            return total / weight
        return total if reduce_across is None else reduce_across(total, self.reduce)


class MetricStore:
    """What was logged during one run of a loop (the fit's training, one validation run...)."""

    def __init__(self, reduce_across: Callable[[torch.Tensor, str], torch.Tensor] | None = None) -> None:
        #: Reduces ``sync_dist=True`` values across processes (the strategy's ``reduce``): step values when
        #: logged, epoch values at the epoch's end.
        self.reduce_across = reduce_across
        self.metrics: dict[str, LoggedMetric] = {}
        #: name -> tensor, as ``trainer.callback_metrics`` shows it.
        self.callback: dict[str, torch.Tensor] = {}
        #: epoch values by key (filled by ``end_epoch``).
        self.epoch_values: dict[str, torch.Tensor] = {}
        #: Some step value was logged since ``step_values_for_logger`` last ran.
        self.fresh = False

    def log(
        self,
        key: str,
        value: torch.Tensor | None,
        prog_bar: bool,
        logger: bool,
        on_step: bool,
        on_epoch: bool,
        reduce_fx: Any,
        sync_dist: bool,
        batch_size: Callable[[], int] | int,
        metric_object: Any = None,
    ) -> None:
        """Record ``value`` under ``key``; or, given ``metric_object`` (a ``Metric`` the user has updated; ``value``
        is then ``None``), its ``forward`` value per step and its ``compute()`` per epoch."""
        metric = self.metrics.get(key)
        if metric is None:
            if not (on_step or on_epoch):
                raise MisconfigurationException(
                    f"self.log({key!r}, ..., on_step=False, on_epoch=False) records nothing: set one of them to True."
                )
            metric = self.metrics[key] = LoggedMetric(key, prog_bar, logger, on_step, on_epoch, reduce_name(reduce_fx), sync_dist,
                                                      metric_object)
        elif metric.metric is not metric_object:
            if metric_object is None:
                raise MisconfigurationException(
                    f"self.log({key!r}, value): {key!r} was logged as a metric object earlier in this loop, whose epoch "
                    f"value is its compute(). Log this value under another name (e.g. {key + '_computed'!r})."
                )
            raise MisconfigurationException(
                f"self.log({key!r}, metric): {key!r} was logged with a different "
                f"{'value' if metric.metric is None else 'metric object'} earlier in this loop. Log each metric "
                "object under a name of its own."
            )
        if metric_object is not None:
            metric.updated = True
            # What the user's latest ``metric(preds, target)`` returned; None when only update() ran.
            value = getattr(metric_object, "_forward_cache", None) if metric.on_step else None
            if value is None:
                return
            value = _scalar(key, value)
        elif metric.on_epoch:
            # The epoch accumulates local values, reduced once at its end.
            metric.accumulate(value, batch_size if isinstance(batch_size, int) else batch_size())
        if metric.on_step:
            # The step value is reduced now (a metric object's was by its forward: it has no sync_dist).
            step_value = value if not (metric.sync_dist and self.reduce_across) else self.reduce_across(value, metric.reduce)
            metric.value = step_value
            metric.fresh = self.fresh = True
            self.callback[metric.step_key] = step_value
            if metric.on_epoch and metric.key not in self.epoch_values:
                self.callback[metric.key] = step_value  # until the first epoch value exists, as in Lightning

    def end_epoch(self) -> dict[str, torch.Tensor]:
        """Reduce every epoch metric; return the values for loggers (``logger=True`` ones)."""
        for_logger: dict[str, torch.Tensor] = {}
        for metric in self.metrics.values():
            if metric.metric is not None:
                if not metric.updated:
                    continue
                metric.updated = False
                # compute() synchronises across processes itself (no reduce_across here); reset() starts the next epoch.
                value = _scalar(metric.key, metric.metric.compute()) if metric.on_epoch else None
                metric.metric.reset()
                if value is None:
                    continue
            elif not metric.on_epoch or metric.total is None:
                continue
            else:
                value = metric.compute(self.reduce_across if metric.sync_dist else None)
            self.epoch_values[metric.key] = value
            self.callback[metric.key] = self.callback[metric.epoch_key] = value  # the same name unless also per step
            if metric.logger:
                for_logger[metric.epoch_key] = value
            metric.total = None
            metric.weight = 0
        return for_logger

    def results(self) -> dict[str, torch.Tensor]:
        """The epoch values under the names ``validate()`` / ``test()`` return (``name_epoch`` when also per step)."""
        return {self.metrics[key].epoch_key: value for key, value in self.epoch_values.items()}

    def step_values_for_logger(self) -> dict[str, torch.Tensor]:
        """The latest step values of ``logger=True`` metrics logged since the previous call."""
        values = {}
        self.fresh = False
        for m in self.metrics.values():
            if m.fresh:
                m.fresh = False
                if m.logger:
                    values[m.step_key] = m.value
        return values

    def progress_bar(self) -> dict[str, torch.Tensor]:
        """The current values of ``prog_bar=True`` metrics (epoch value once it exists)."""
        shown: dict[str, torch.Tensor] = {}
        for metric in self.metrics.values():
            if not metric.prog_bar:
                continue
            if metric.on_step and metric.value is not None:
                shown[metric.step_key] = metric.value
            if metric.key in self.epoch_values:
                shown[metric.epoch_key] = self.epoch_values[metric.key]
        return shown


def _scalar(key: str, value: Any) -> torch.Tensor:
    """A metric object's value as a detached scalar tensor; Lightning's ``ValueError`` otherwise."""
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"The `.compute()` return of the metric logged as {key!r} must be a tensor. Found {value!r}")
    if value.numel() != 1:
        raise ValueError(
            f"The metric logged as {key!r} returned a tensor of shape {tuple(value.shape)}; self.log takes scalars. "
            "Configure the metric to reduce to one value (e.g. average='macro') or log its elements with self.log_dict."
        )
    return value.detach().squeeze()


def to_float(values: dict[str, torch.Tensor]) -> dict[str, float]:
    """Turn logged tensors into Python floats (the one place a device sync happens)."""
    return {k: v.item() if isinstance(v, torch.Tensor) else float(v) for k, v in values.items()}
