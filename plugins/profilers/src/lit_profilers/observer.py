"""``HookObserver``: times a stage's hooks, each attributed to the plugin that ran it, and the step's internals.

lit's loop phases are pluggy hooks, so a profiler sees every phase without the kernel calling
it. For one stage (from the profiler's ``lit_setup`` to its ``lit_teardown``) the observer:

- wraps every hook implementation registered then (``HookImpl.function``, pluggy's own record of
  what it calls; the kernel's fast callers are built afterwards, when the stage binds its hot
  path, so they call the wrappers too). Each is an action named after who runs it:
  ``[Callback]EarlyStopping.on_validation_end`` (a callback's hook, as in Lightning),
  ``[LightningModule]Net.on_train_epoch_end``, ``[Logger]CSVLogger.lit_log_metrics``,
  ``[plugin:MyPlugin]lit_train_batch_end`` (any other plugin: its registered name). The
  kernel's two own plugins (the loops and the defaults) are left alone: their work is the step
  actions below, and wrapping them would take the loop off its fast path;
- wraps, for the stage, the module's step methods and ``backward``
  (``[LightningModule]Net.training_step``, ``...backward``) and each optimizer's ``step`` and
  ``zero_grad`` (``[Optimizer]SGD.step``, ``[Optimizer]SGD.zero_grad``): instance attributes,
  removed at the end, so the loop calls them whichever path it takes;
- times each training epoch (``run_training_epoch``, as Lightning: from ``on_train_epoch_start``
  to ``on_train_epoch_end``) through the two epoch hooks, once per epoch;
- times fetching each batch (``[FitLoop].train_dataloader_next``,
  ``[EvaluationLoop].validate_dataloader_next``...) by wrapping what ``lit_process_dataloader``
  returns.

Implementations registered after the stage has set up (a plugin a callback registers in its
own hooks) are not timed. Without a profiler none of this exists: nothing is registered,
nothing is wrapped.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import TYPE_CHECKING, Any

import lit_core as lit
from lit_core.plugin_api import Logger

if TYPE_CHECKING:
    from .profiler import Profiler

#: The kernel's own plugins (their registered names): they run the loop; what they do is timed as the step actions.
KERNEL_PLUGINS = frozenset({"lit.defaults", "lit.loops"})

#: The module's methods timed for a stage, when the module defines them.
STEP_METHODS = ("training_step", "validation_step", "test_step", "predict_step")

#: The action from each training epoch's start to its end hooks (Lightning's name).
EPOCH = "run_training_epoch"

#: The name of this observer in the plugin manager.
NAME = "lit.profiler-observer"

_MISSING = object()


def action_name(impl: Any, hook: str) -> str:
    """The action a hook implementation is reported as (see the module docstring)."""
    plugin = impl.plugin
    owner = getattr(plugin, "owner", None)  # the kernel's adapter plugin of a callback or a LightningModule
    if isinstance(owner, (lit.Callback, lit.LightningModule)):
        kind = "Callback" if isinstance(owner, lit.Callback) else "LightningModule"
        return f"[{kind}]{type(owner).__name__}.{_adapted_method(impl.function, owner) or hook}"
    for kind, base in (("Callback", lit.Callback), ("Logger", Logger)):
        if isinstance(plugin, base):
            return f"[{kind}]{type(plugin).__name__}.{hook}"
    return f"[{impl.plugin_name}]{hook}"


def _adapted_method(function: Any, owner: Any) -> str | None:
    """The name of ``owner``'s method that an adapter's trampoline calls (it closes over the bound method)."""
    for cell in getattr(function, "__closure__", None) or ():
        try:
            target = cell.cell_contents
        except ValueError:
            continue
        if getattr(target, "__self__", None) is owner:
            return getattr(target, "__name__", None)
    return None


class TimedBatches:
    """A processed dataloader whose batches are fetched under ``action``; everything else is the loader's."""

    def __init__(self, iterable: Any, record: Callable[[str, Callable[..., Any]], Callable[..., Any]], action: str) -> None:
        self.iterable = iterable
        self._next = record(action, next)

    def __iter__(self) -> Iterator[Any]:
        iterator, fetch = iter(self.iterable), self._next
        while True:
            try:
                batch = fetch(iterator)
            except StopIteration:
                return
            yield batch

    def __len__(self) -> int:
        return len(self.iterable)

    def __getattr__(self, name: str) -> Any:  # sampler, batch_sampler, dataset...
        if name == "iterable":
            raise AttributeError(name)
        return getattr(self.iterable, name)


class HookObserver:
    """One stage's timing of hooks and step actions for ``profiler`` (made by ``Profiler.lit_setup``)."""

    def __init__(self, profiler: Profiler, trainer: lit.Trainer, module: lit.LightningModule) -> None:
        self.profiler = profiler
        self.trainer = trainer
        self.module = module
        #: What was wrapped, to put back: (hook implementation, its function).
        self._impls: list[tuple[Any, Callable[..., Any]]] = []
        #: (object, attribute, what its instance dict held, or _MISSING).
        self._attributes: list[tuple[Any, str, Any]] = []
        #: Whether ``run_training_epoch`` is open (a failed epoch leaves it open: ``detach`` closes it).
        self._epoch_running = False

    # ---- attach / detach ----------------------------------------------------------------

    def attach(self) -> None:
        """Wrap the registered hook implementations and the module's methods, then register the observer."""
        pm = self.trainer.plugin_manager
        timed = self.profiler.timed
        for hook, caller in vars(pm.hook).items():
            for impl in caller.get_hookimpls():
                if impl.plugin is self.profiler or impl.plugin_name in KERNEL_PLUGINS or impl.wrapper or impl.hookwrapper:
                    continue
                self._impls.append((impl, impl.function))
                impl.function = timed(action_name(impl, hook), impl.function)
        module = self.module
        cls = type(module).__name__
        for name in STEP_METHODS:
            if _defined(module, name):
                self._wrap(module, name, f"[LightningModule]{cls}.{name}")
        self._wrap(module, "backward", f"[LightningModule]{cls}.backward")
        pm.register(self, NAME)

    def detach(self) -> None:
        """Put back everything ``attach`` and the stage wrapped, and unregister the observer."""
        pm = self.trainer.plugin_manager
        if self._epoch_running:
            self._epoch_running = False
            self.profiler.stop(EPOCH)
        if pm.has_plugin(NAME):
            pm.unregister(name=NAME)
        for impl, function in reversed(self._impls):
            impl.function = function
        for obj, name, before in reversed(self._attributes):
            if before is _MISSING:
                obj.__dict__.pop(name, None)
            else:
                obj.__dict__[name] = before
        self._impls.clear()
        self._attributes.clear()

    def _wrap(self, obj: Any, name: str, action: str) -> None:
        """Set ``obj.name`` to a timed version of it for the stage (an instance attribute; ``detach`` removes it)."""
        self._attributes.append((obj, name, obj.__dict__.get(name, _MISSING)))
        obj.__dict__[name] = self.profiler.timed(action, getattr(obj, name))

    # ---- hooks: once per stage or per epoch, never per step ---------------------------------

    @lit.hookimpl(wrapper=True)
    def lit_setup_optimizers(self, optimizers: list[Any]) -> Generator[None, list[Any], list[Any]]:
        """Time each optimizer's ``step`` and ``zero_grad`` for the stage."""
        result = yield
        for optimizer in result:
            cls = type(optimizer).__name__
            self._wrap(optimizer, "step", f"[Optimizer]{cls}.step")
            self._wrap(optimizer, "zero_grad", f"[Optimizer]{cls}.zero_grad")
        return result

    @lit.hookimpl
    def lit_train_epoch_start(self) -> None:
        """Start ``run_training_epoch`` (Lightning's name): the epoch's batches, up to ``on_train_epoch_end``."""
        self.profiler.start(EPOCH)
        self._epoch_running = True

    @lit.hookimpl(tryfirst=True)
    def lit_train_epoch_end(self) -> None:
        """Stop ``run_training_epoch`` (before the epoch-end hooks, which are actions of their own)."""
        if self._epoch_running:
            self._epoch_running = False
            self.profiler.stop(EPOCH)

    @lit.hookimpl(wrapper=True)
    def lit_process_dataloader(self, stage: str) -> Generator[None, Any, Any]:
        """Time fetching each batch of the loader the stage iterates."""
        iterable = yield
        loop = "[FitLoop]" if stage == "train" else "[EvaluationLoop]"
        return TimedBatches(iterable, self.profiler.timed, f"{loop}.{stage}_dataloader_next")


def _defined(module: lit.LightningModule, name: str) -> bool:
    """Whether ``module`` has its own ``name`` (not the base class's, not set to ``None``)."""
    own = module.__dict__.get(name, _MISSING)
    if own is not _MISSING:
        return own is not None
    method = getattr(type(module), name, None)
    return method is not None and method is not getattr(lit.LightningModule, name, None)

