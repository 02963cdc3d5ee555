"""``lit plugins --check``: what would go wrong with each installed plugin, found before a ``Trainer`` runs.

Each plugin of every entry-point group (``registry.GROUPS``) is loaded and built the way
``Trainer(<kind>="<name>")`` builds it, then registered in a fresh ``PluginManager``: the
registry's own validation (argument names, wrappers) runs as it does in a ``Trainer``. On top of
that the check finds the mistakes that fail *silently* at run time:

- a ``lit_*`` method without ``@lit.hookimpl`` (pluggy ignores it), or marked with another
  pluggy project's ``HookimplMarker`` (``pytest``'s, say: lit ignores that marker too);
- a hook implementation whose name, or ``specname``, is no lit hook;
- ``trylast`` on a firstresult hook that the kernel's default always answers (never asked);
- an implementation of a deprecated hook (``warn_on_impl``: it goes in the next major plugin API);
- a callback method ``on_*`` that is not one of ``Callback``'s hooks (``on_train_epoch_ends``);
- ``unavailable_reason`` that cannot be asked on the class (``lit plugins`` and
  ``accelerator="auto"`` ask before any instance exists), or that raises;
- an entry point whose object cannot be imported, built by name, or is not of its kind;
- a name that several distributions register for one kind, or two callbacks that save their
  state under one ``state_key`` (a ``Trainer`` refuses them together: ``lit_core.unique_plugins``).

Every problem names the distribution, the plugin and the fix.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import tempfile
import warnings
from dataclasses import asdict, dataclass
from typing import Any

from . import hookspecs, registry, selection
from .builtins.defaults import KernelDefaults
from .callback import Callback
from .exceptions import PluginError
from .markers import PROJECT
from .unique_plugins import check_state_keys


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one installed plugin: who ships it, what it is, what is wrong and the fix."""

    distribution: str
    version: str
    kind: str
    name: str
    #: The entry point's object reference, ``module:attribute``.
    plugin: str
    message: str

    def as_dict(self) -> dict[str, str]:
        """The problem as JSON-ready data (``lit plugins --check --json``)."""
        return asdict(self)


def check_installed() -> list[Problem]:
    """Check every installed plugin (every claimant of a shared name too); the problems found, in listing order."""
    problems: list[Problem] = []
    callbacks: list[tuple[registry.PluginEntry, Callback]] = []
    with tempfile.TemporaryDirectory(prefix="lit-plugins-check-") as save_dir:
        for kind in registry.GROUPS:
            for _, first in sorted(registry.installed(kind).items()):
                if first.rivals:
                    problems.append(_duplicated(first))
                for entry in (first, *first.rivals):
                    problems += check_entry(entry, save_dir, callbacks)
    return problems + _shared_state_keys(callbacks)


def _shared_state_keys(callbacks: list[tuple[registry.PluginEntry, Callback]]) -> list[Problem]:
    """Callbacks of different names that save their state under one ``state_key``: a Trainer refuses the two
    together (``unique_plugins.check_state_keys``, whose error is reported)."""
    problems, kept = [], []
    for entry, callback in callbacks:
        try:
            check_state_keys([cb for _, cb in kept] + [callback])
        except RuntimeError as exc:
            other = next(e for e, cb in kept if cb.state_key == callback.state_key)
            problems.append(Problem(entry.distribution, entry.version, entry.kind, entry.name, entry.value,
                                    f"callback={entry.name!r} and callback={other.name!r} ({other.distribution}) cannot be "
                                    f"used together: {exc}"))
        else:
            kept.append((entry, callback))
    return problems


def _duplicated(first: registry.PluginEntry) -> Problem:
    claimants = sorted((first, *first.rivals), key=lambda entry: entry.distribution)
    dists = " and ".join(entry.distribution for entry in claimants)
    try:
        first.load()
    except PluginError as exc:  # the error a Trainer raises for the name: the same words here
        return Problem(dists, "", first.kind, first.name, ", ".join(entry.value for entry in claimants), str(exc))
    raise AssertionError("PluginEntry.load() accepted a name with rivals")


def check_entry(entry: registry.PluginEntry, save_dir: str, callbacks: list[Any] | None = None) -> list[Problem]:
    """The problems of one installed plugin (``save_dir``: where a logger built by name may write).

    A callback built by name is added to ``callbacks`` as ``(entry, callback)``, when given.
    """
    found: list[str] = []
    try:
        obj = entry.import_object()
    except PluginError as exc:
        found.append(str(exc))
        return _problems(entry, found)
    found += _availability(entry, obj)
    target = obj
    try:
        target = registry.instantiate(obj, f"{entry.kind}={entry.name!r}",
                                      selection.PluginSelection((), save_dir).constructor_defaults(entry.kind))
    except Exception as exc:
        found.append(
            f"{entry.kind}={entry.name!r} cannot build {_qualname(obj)}: {type(exc).__name__}: {exc} "
            f"Fix: give every argument of {_qualname(obj)}.__init__ a default (a name carries no arguments), "
            "or make it build without raising."
        )
    else:
        base = selection.BASES.get(entry.kind)  # profilers have no base class in lit-core
        if base is not None and not isinstance(target, base):
            found.append(
                f"{entry.kind}={entry.name!r} gives a {type(target).__name__}, which is not a {base.__name__}: a "
                f"Trainer refuses it. Fix: subclass lit_core.plugin_api.{base.__name__} (or point the entry point "
                "at such a class)."
            )
    if callbacks is not None and isinstance(target, Callback):
        callbacks.append((entry, target))
    found += _hook_problems(target)
    if isinstance(target, Callback) or (inspect.isclass(target) and issubclass(target, Callback)):
        found += _callback_method_problems(target)
    return _problems(entry, found)


def _problems(entry: registry.PluginEntry, messages: list[str]) -> list[Problem]:
    return [Problem(entry.distribution, entry.version, entry.kind, entry.name, entry.value, m) for m in messages]


def _qualname(obj: Any) -> str:
    return getattr(obj, "__qualname__", type(obj).__qualname__)


def _availability(entry: registry.PluginEntry, obj: Any) -> list[str]:
    """``unavailable_reason`` must answer on the class: ``lit plugins`` and ``accelerator="auto"`` have no instance."""
    cls = obj if inspect.isclass(obj) else type(obj)
    static = inspect.getattr_static(cls, "unavailable_reason", None)
    if static is None:
        return []
    if not isinstance(static, (classmethod, staticmethod)):
        return [f"{cls.__qualname__}.unavailable_reason is an instance method, but lit asks the class (lit plugins, "
                f"{entry.kind}='auto') before any instance exists: calling it raises TypeError. "
                "Fix: decorate it with @classmethod."]
    try:
        reason = cls.unavailable_reason()
    except Exception as exc:
        return [f"{cls.__qualname__}.unavailable_reason() raised {type(exc).__name__}: {exc}. "
                "Fix: return a sentence saying what is missing instead of raising."]
    if reason is not None and not isinstance(reason, str):
        return [f"{cls.__qualname__}.unavailable_reason() returned {reason!r}. Fix: return None when it can run "
                "here, else a sentence saying why not."]
    return []


def _hook_problems(plugin: Any) -> list[str]:
    """Hook implementations lit would ignore or never ask, and what pluggy refuses."""
    pm = registry.PluginManager()
    label = _qualname(plugin)
    found = []
    for attr in sorted(dir(plugin)):
        if not attr.startswith("lit_") or pm.parse_hookimpl_opts(plugin, attr) is not None:
            continue
        function = _function(inspect.getattr_static(plugin, attr, None))
        if function is None:
            continue  # a constant or property named lit_*: not a hook
        foreign = _foreign_marker(function)
        if foreign:
            found.append(f"{label}.{attr} is marked with the {foreign!r} project's hookimpl marker, so lit never "
                         "calls it. Fix: use lit's marker, @lit.hookimpl (import lit_core as lit).")
        else:
            found.append(f"{label}.{attr} has no @lit.hookimpl marker, so lit never calls it. Fix: decorate it with "
                         "@lit.hookimpl (import lit_core as lit), or rename it if it is not meant as a hook.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # a deprecated hook warns at every Trainer already
        try:
            pm.register(plugin)
        except PluginError as exc:  # the registry's own validation: argument names, wrappers
            return [*found, f"{exc} Fix: rename the arguments after the hookspec's."]
    for caller in pm.get_hookcallers(plugin) or []:
        for impl in caller.get_hookimpls():
            if impl.plugin is not plugin:
                continue
            where = f"{label}.{impl.function.__name__}"
            if caller.spec is None and not impl.optionalhook:  # optionalhook: for a hook a later lit-core may add
                found.append(_unknown_hook(where, caller.name, impl.opts.get("specname")))
            elif caller.spec is not None and caller.spec.warn_on_impl is not None:
                found.append(f"{where} implements a deprecated hook, which a later lit-core removes: "
                             f"{caller.spec.warn_on_impl} (Until then lit still calls it, and warns at every Trainer.)")
            elif impl.trylast and not (impl.wrapper or impl.hookwrapper) and caller.name in kernel_answers():
                found.append(
                    f"{where} is trylast on {caller.name}, a firstresult hook that the kernel's default (itself "
                    "trylast, registered first) always answers: pluggy never gets to it. Fix: drop trylast (a plain "
                    "implementation is asked before the default), or make it a wrapper (@lit.hookimpl(wrapper=True))."
                )
    return found


def _function(static: Any) -> Any:
    if isinstance(static, (classmethod, staticmethod)):
        static = static.__func__
    return static if inspect.isroutine(static) else None


def _foreign_marker(function: Any) -> str | None:
    """The project of a pluggy ``HookimplMarker`` other than lit's on ``function`` (it sets ``<project>_impl``)."""
    for attr, value in vars(function).items() if hasattr(function, "__dict__") else ():
        if attr.endswith("_impl") and attr != f"{PROJECT}_impl" and isinstance(value, dict) and "tryfirst" in value:
            return attr.removesuffix("_impl")
    return None


def _unknown_hook(where: str, hook: str, specname: str | None) -> str:
    names = [name for name in vars(hookspecs) if name.startswith("lit_")]
    close = difflib.get_close_matches(hook, names, n=1, cutoff=0.7)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    if specname:
        return (f"{where} names the hook {specname!r} in specname=, and lit has no such hook, so nothing calls it."
                f"{hint} Fix: name one of lit_core.hookspecs in specname= (see docs/hooks.rst).")
    return (f"{where} implements {hook!r}, and lit has no such hook, so nothing calls it (a Trainer refuses the "
            f"plugin).{hint} Fix: use a hook name of lit_core.hookspecs (see docs/hooks.rst).")


@functools.cache
def kernel_answers() -> frozenset[str]:
    """The firstresult hooks whose kernel default always returns a result: ``KernelDefaults``' plain
    implementations annotated with a return type that excludes ``None`` (``lit_print_model_summary``'s
    may return ``None``; ``lit_print_results``' default is a wrapper)."""
    pm = registry.PluginManager()
    defaults = KernelDefaults()
    pm.register(defaults)
    answered = set()
    for caller in pm.get_hookcallers(defaults) or []:
        returns = [str(inspect.signature(impl.function).return_annotation) for impl in caller.get_hookimpls()
                   if impl.plugin is defaults and not (impl.wrapper or impl.hookwrapper)]
        if caller.spec and caller.spec.opts.get("firstresult") and returns and all(
                r != str(inspect.Signature.empty) and "None" not in r for r in returns):
            answered.add(caller.name)
    return frozenset(answered)


def _callback_method_problems(callback: Any) -> list[str]:
    """``on_*`` methods that are not ``Callback`` hooks: a typo, so the method is never called."""
    hooks = sorted(name for name in vars(Callback) if name.startswith("on_"))
    cls = callback if inspect.isclass(callback) else type(callback)
    found = []
    for attr in sorted(dir(cls)):
        if not attr.startswith("on_") or attr in hooks or _function(inspect.getattr_static(cls, attr)) is None:
            continue
        close = difflib.get_close_matches(attr, hooks, n=1, cutoff=0.8)
        hint = f"did you mean {close[0]!r}? " if close else ""
        found.append(f"{cls.__qualname__}.{attr} is not a Callback hook, so lit never calls it: {hint}"
                     "Fix: use one of lit.Callback's hook names (Lightning's), or rename a helper so it does not "
                     "start with on_.")
    return found
