"""Reading ``configure_optimizers`` in all of Lightning's forms, and scheduler stepping rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from torch.optim import Optimizer
from torch.optim.lr_scheduler import ReduceLROnPlateau

from .exceptions import MisconfigurationException

if TYPE_CHECKING:
    from .trainer import Trainer

_FORMS = (
    "an optimizer; a list or tuple of optimizers; ([optimizers], [schedulers]); "
    "a dict {'optimizer': opt, 'lr_scheduler': scheduler or {'scheduler': s, 'interval': 'step'|'epoch', "
    "'frequency': n, 'monitor': 'val_loss'}}; or a list/tuple of such dicts"
)


@dataclass
class LRSchedulerConfig:
    """A scheduler and when to step it (Lightning's ``lr_scheduler`` dict)."""

    scheduler: Any
    interval: str = "epoch"
    frequency: int = 1
    monitor: str | None = None
    strict: bool = True
    name: str | None = None
    opt_idx: int = 0
    #: ``ReduceLROnPlateau``-style schedulers step with a metric value.
    needs_metric: bool = field(init=False)

    def __post_init__(self) -> None:
        self.needs_metric = isinstance(self.scheduler, ReduceLROnPlateau)

    reduce_on_plateau = property(attrgetter("needs_metric"), doc="Lightning's name for ``needs_metric`` (read by learning-rate monitors).")


@dataclass
class OptimizerSetup:
    """What ``configure_optimizers`` returned, normalised."""

    optimizers: list[Optimizer]
    schedulers: list[LRSchedulerConfig]
    #: How many consecutive batches each optimizer runs for (Lightning 1.x ``frequency``).
    frequencies: list[int]


def _error(returned: Any, detail: str = "") -> MisconfigurationException:
    return MisconfigurationException(
        f"configure_optimizers returned {type(returned).__name__} {returned!r:.200}{detail}. Return {_FORMS}."
    )


def _check_keys(entry: Mapping[str, Any], required: str, optional: set[str], returned: Any, kind: str) -> None:
    """A dict of ``configure_optimizers``' value has its ``required`` key and no key but ``optional`` ones."""
    if required not in entry:
        raise _error(returned, f": the {kind}dict {dict(entry)!r} has no {required!r} key")
    unknown = set(entry) - optional - {required}
    if unknown:
        raise _error(returned, f": unknown {kind}keys {sorted(unknown)}")


def _scheduler_config(entry: Any, returned: Any, monitor: str | None = None) -> LRSchedulerConfig:
    """One ``lr_scheduler`` entry, checked; ``monitor``: the optimizer dict's, unless the entry names its own."""
    if isinstance(entry, Mapping):
        _check_keys(entry, "scheduler", {"interval", "frequency", "monitor", "strict", "name", "opt_idx"}, returned, "lr_scheduler ")
        config = LRSchedulerConfig(**entry)
    else:
        config = LRSchedulerConfig(scheduler=entry)
    if config.monitor is None:
        config.monitor = monitor
    if config.interval not in ("step", "epoch"):
        raise _error(returned, f": lr_scheduler interval={config.interval!r} must be 'step' or 'epoch'")
    if not hasattr(config.scheduler, "step"):
        raise _error(returned, f": {config.scheduler!r} is not a learning-rate scheduler")
    if config.needs_metric and config.monitor is None:
        raise MisconfigurationException(
            "configure_optimizers returned a ReduceLROnPlateau scheduler without a metric to monitor: return "
            "{'optimizer': opt, 'lr_scheduler': {'scheduler': sched, 'monitor': 'val_loss'}}."
        )
    return config


def parse_optimizers(returned: Any) -> OptimizerSetup:
    """Normalise the value of ``configure_optimizers``; a clear error for anything else."""
    optimizers: list[Optimizer] = []
    schedulers: list[LRSchedulerConfig] = []
    frequencies: list[int] = []
    if isinstance(returned, (Optimizer, Mapping)):
        returned = [returned]
    if not (isinstance(returned, Sequence) and not isinstance(returned, str) and returned):
        raise _error(returned)
    if len(returned) == 2 and all(isinstance(x, Sequence) and not isinstance(x, str) for x in returned):
        opts, scheds = returned
        optimizers = list(opts)
        schedulers = [_scheduler_config(s, returned) for s in scheds]
    elif all(isinstance(x, Mapping) for x in returned):
        for idx, entry in enumerate(returned):
            _check_keys(entry, "optimizer", {"lr_scheduler", "frequency", "monitor"}, returned, "")
            optimizers.append(entry["optimizer"])
            if "frequency" in entry:
                frequencies.append(int(entry["frequency"]))
            if entry.get("lr_scheduler") is not None:
                config = _scheduler_config(entry["lr_scheduler"], returned, entry.get("monitor"))
                config.opt_idx = idx
                schedulers.append(config)
    else:
        optimizers = list(returned)
    bad = [o for o in optimizers if not isinstance(o, Optimizer)]
    if not optimizers or bad:
        raise _error(returned, f": {bad[0]!r} is not a torch.optim.Optimizer" if bad else ": no optimizer")
    if frequencies and len(frequencies) != len(optimizers):
        raise MisconfigurationException(
            "configure_optimizers: give a 'frequency' for every optimizer dict, or for none of them."
        )
    for config in schedulers:
        owner = [i for i, o in enumerate(optimizers) if getattr(config.scheduler, "optimizer", None) is o]
        if owner:
            config.opt_idx = owner[0]
    return OptimizerSetup(optimizers, schedulers, frequencies)


def active_optimizers(setup: OptimizerSetup, batches_seen: int) -> list[int]:
    """The one optimizer a batch trains when frequencies are given (Lightning 1.x).

    With frequencies ``[1, 2]`` the batches cycle through optimizers 0, 1, 1, 0, 1, 1, ...
    """
    position = batches_seen % sum(setup.frequencies)
    for idx, freq in enumerate(setup.frequencies):
        if position < freq:
            return [idx]
        position -= freq
    return [0]


def step_schedulers(trainer: Trainer, interval: str, configs: list[LRSchedulerConfig], count: int) -> None:
    """Step the schedulers of ``interval`` whose frequency divides ``count``."""
    for config in configs:
        if config.interval != interval or count % config.frequency:
            continue
        if config.needs_metric:
            metrics = trainer.callback_metrics
            if config.monitor not in metrics:
                if config.strict:
                    raise MisconfigurationException(
                        f"ReduceLROnPlateau monitors {config.monitor!r}, which was not logged. "
                        f"Logged metrics: {sorted(metrics)}. Log it with self.log({config.monitor!r}, value) "
                        "or set 'strict': False in the lr_scheduler dict."
                    )
                continue
            config.scheduler.step(metrics[config.monitor])
        else:
            config.scheduler.step()


class LightningOptimizer:
    """What ``self.optimizers()`` returns: the optimizer, with ``step`` going through the Trainer.

    In manual optimization ``opt.step()`` runs the precision / strategy plugins and the
    ``lit_before_optimizer_step`` hook, and counts ``trainer.global_step``. Every other
    attribute is the wrapped optimizer's.
    """

    def __init__(self, optimizer: Optimizer, trainer: Trainer, index: int) -> None:
        self.__dict__.update(_optimizer=optimizer, _trainer=trainer, _index=index)

    @property
    def optimizer(self) -> Optimizer:
        """The wrapped ``torch.optim.Optimizer``."""
        return self._optimizer

    def step(self, closure: Any = None) -> Any:
        """Step through the Trainer; ``closure`` (optional) computes the loss.

        ``lit_optimizer_step`` with the wrapped closure (which calls ``lit_before_optimizer_step`` and
        ``lit_gradients_ready`` once the loss is computed, as in automatic optimization), then
        ``global_step`` counts it.
        """
        trainer, optimizer, index = self._trainer, self._optimizer, self._index
        state = trainer.state
        module = trainer.lightning_module
        before_step, ready = state.events.before_optimizer_step, state.events.gradients_ready

        def wrapped() -> Any:
            result = closure() if closure is not None else None
            if before_step is not None:
                before_step(trainer=trainer, module=module, optimizer=optimizer, optimizer_idx=index)
            if ready is not None:
                ready(trainer=trainer, module=module, optimizer=optimizer, optimizer_idx=index)
            return result

        state.services.optimizer_step(trainer=trainer, module=module, optimizer=optimizer, optimizer_idx=index,
                                      closure=wrapped, batch_idx=state.batch_idx)
        state.global_step += 1

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Zero the gradients (``lit_before_zero_grad`` runs first)."""
        self._trainer.zero_grad(self._optimizer, set_to_none=set_to_none)

    def __getattr__(self, name: str) -> Any:
        if name == "_optimizer":  # not set yet (while unpickling): looking it up here would recurse
            raise AttributeError(name)
        return getattr(self._optimizer, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._optimizer, name, value)

    def __repr__(self) -> str:
        return f"LightningOptimizer({self._optimizer!r})"
