"""The adapter plugin: calls a ``LightningModule``'s and each ``Callback``'s hooks Lightning's way.

User hooks are not pluggy implementations: Lightning calls them positionally, and a user may
name the arguments anything (``setup(self, step)``) or leave trailing ones out. For every hook a
user object *overrides*, the adapter compiles a small trampoline function with the hookspec's
argument names that calls the user's method positionally, with as many arguments as it takes.
Hooks left as the base class's no-op get no trampoline, so pluggy never calls them.
"""

from __future__ import annotations

import inspect
import types
import warnings
from collections.abc import Callable
from typing import Any

from .. import hookspecs
from ..callback import Callback
from ..data_hooks import DataHooks
from ..markers import function_factory, hookimpl
from ..module import LightningModule

#: lit hook -> the Lightning method it calls: ``on_<event>`` for each event below, and four renamed.
EVENT_HOOKS: dict[str, str] = {
    "lit_setup": "setup",
    "lit_teardown": "teardown",
    "lit_save_checkpoint_state": "on_save_checkpoint",
    "lit_load_checkpoint_state": "on_load_checkpoint",
    **{f"lit_{event}": f"on_{event}" for event in (
        "init_start", "init_end", "fit_start", "fit_end", "sanity_check_start", "sanity_check_end", "train_start",
        "train_end", "train_epoch_start", "train_epoch_end", "train_batch_start", "train_batch_end", "before_backward",
        "after_backward", "before_optimizer_step", "before_zero_grad", "exception",
        *(f"{stage}_{when}" for stage in ("validation", "test", "predict")
          for when in ("start", "end", "epoch_start", "epoch_end", "batch_start", "batch_end")))},
}

#: lit hook -> its hookspec's arguments, which are Lightning's in Lightning's order: a callback's
#: method gets them all (``trainer, pl_module, ...``), a module's those after ``trainer, module``
#: (``on_init_start`` / ``on_init_end`` take only the trainer: callbacks only).
ARGUMENTS: dict[str, tuple[str, ...]] = {hook: tuple(inspect.signature(getattr(hookspecs, hook)).parameters) for hook in EVENT_HOOKS}


def positional_arity(fn: Callable[..., Any]) -> int | None:
    """How many positional arguments a bound method accepts (``None``: any number)."""
    count = 0
    for p in inspect.signature(fn).parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            return None
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            count += 1
    return count


def overrides(obj: object, base: type, name: str) -> bool:
    """Whether ``obj`` provides method ``name`` other than ``base``'s: its class defines it, or it
    was set on the instance (``model.train_dataloader = make_loader``).

    Set to ``None`` on the instance (``model.validation_step = None``), it is absent, as in
    Lightning. Asked once per stage, never per step.
    """
    instance_attrs = getattr(obj, "__dict__", None)
    if instance_attrs and name in instance_attrs:
        return instance_attrs[name] is not None
    impl = getattr(type(obj), name, None)
    return impl is not None and impl is not getattr(base, name, None)


def trampoline(hook: str, method: Callable[..., Any], args: tuple[str, ...]) -> Callable[..., Any]:
    """Compile ``def <hook>(<names>): return method(<names>)`` with a hookimpl marker.

    pluggy passes hook arguments by the implementation's parameter names; ``method`` gets them
    positionally. Arguments beyond what ``method`` accepts are dropped.
    """
    arity = positional_arity(method)
    passed = ", ".join(args if arity is None else args[:arity])
    make = function_factory(f"lit adapter {hook}", hook, passed, "_method", f"        return _method({passed})\n")
    return hookimpl(make(method))


class AdapterPlugin(types.SimpleNamespace):
    """The trampolines of one user object, its ``owner`` (traces and error notes name the owner's class).
    Compared by identity: two adapters with no hooks are still two plugins."""

    def __init__(self, owner: Any = None) -> None:
        super().__init__(owner=owner)

    __eq__ = object.__eq__
    __hash__ = object.__hash__


def callback_plugin(callback: Callback) -> types.SimpleNamespace:
    """A plugin object carrying a trampoline for every hook ``callback`` overrides."""
    plugin = AdapterPlugin(callback)
    for hook, name in EVENT_HOOKS.items():
        if overrides(callback, Callback, name):  # an instance attribute gives a hook too (LambdaCallback)
            setattr(plugin, hook, trampoline(hook, getattr(callback, name), ARGUMENTS[hook]))
    return plugin


def data_hook(module: LightningModule, datamodule: Any, name: str) -> Callable[..., Any] | None:
    """The data module's override of batch-transfer hook ``name``, else the module's, else ``None``.

    As Lightning's ``_DataHookSelector``: the data module's wins, with a warning when both override it.
    """
    in_datamodule = datamodule is not None and overrides(datamodule, DataHooks, name)
    in_module = overrides(module, DataHooks, name)
    if in_datamodule and in_module:
        warnings.warn(f"`{name}` is overridden in both {type(module).__name__} (LightningModule) and {type(datamodule).__name__} "
                      "(LightningDataModule): the LightningDataModule's runs. Remove one of them.", UserWarning, stacklevel=2)
    return getattr(datamodule, name) if in_datamodule else getattr(module, name) if in_module else None


def module_plugin(module: LightningModule, datamodule: Any = None) -> types.SimpleNamespace:
    """A plugin object carrying a trampoline for every hook ``module`` overrides.

    The trampolines are ``trylast``: callbacks (and other plugins) are called before the
    module, as in Lightning. The adapter is registered when the stage starts, after every plugin
    the Trainer registered, so those plugins' ``trylast`` implementations run before the module's
    too (pluggy calls ``trylast`` ones first registered first); loggers finalize in wrappers, after it.
    """
    plugin = AdapterPlugin(module)
    for hook, name in EVENT_HOOKS.items():
        if ARGUMENTS[hook][:2] == ("trainer", "module") and overrides(module, LightningModule, name):
            setattr(plugin, hook, hookimpl(trylast=True)(trampoline(hook, getattr(module, name), ARGUMENTS[hook][2:])))
    method = data_hook(module, datamodule, "transfer_batch_to_device")
    if method is not None:
        transfer = trampoline("lit_batch_to_device", method, ("batch", "device", "dataloader_idx"))
        plugin.lit_batch_to_device = hookimpl(tryfirst=True)(transfer)
    return plugin
