"""Plugin discovery through entry points, and lit's pluggy plugin manager.

Discovery is lazy: listing what is installed reads package metadata only; a plugin's module is
imported when it is selected. One entry-point group per kind of plugin; the entry name is the
name users type.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
import os
import sys
import types
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pluggy
from pluggy import HookImpl

from . import first_party, hookspecs, namespace
from .builtins.adapters import EVENT_HOOKS, AdapterPlugin
from .exceptions import ExitStage, PluginError, UnknownPluginError
from .markers import PROJECT
from .rank_zero import rank_zero_warn

#: kind -> entry-point group.
GROUPS: dict[str, str] = {
    "accelerator": "lit.accelerators",
    "strategy": "lit.strategies",
    "precision": "lit.precision",
    "logger": "lit.loggers",
    "callback": "lit.callbacks",
    "profiler": "lit.profilers",
}

#: The group where distributions declare the roles they fill by default (``lit_core.roles``).
ROLES_GROUP = "lit.roles"

DISABLE_AUTOLOAD_ENV = "LIT_DISABLE_PLUGIN_AUTOLOAD"
TRACE_ENV = "LIT_TRACE_HOOKS"


@dataclass(frozen=True)
class PluginEntry:
    """One installed plugin, known from metadata only until ``load()``.

    ``rivals``: the entries of other distributions that register the same name for the same
    kind. Such a name is ambiguous: ``load()`` refuses it rather than let one shadow the other.
    """

    kind: str
    name: str
    value: str
    distribution: str
    version: str
    entry_point: metadata.EntryPoint
    rivals: tuple[PluginEntry, ...] = ()

    @property
    def label(self) -> str:
        """``distribution version (module:object)``, for messages."""
        return f"{self.distribution} {self.version} ({self.value})"

    def load(self) -> Any:
        """Import the plugin's module and return the object the entry point names.

        Raises ``PluginError`` naming every distribution when several register this name, and
        naming the distribution, chained to the original error, when its module fails to import.
        """
        if self.rivals:
            labels = sorted(entry.label for entry in (self, *self.rivals))
            raise PluginError(
                f"The {self.kind} name {self.name!r} is registered by {len(labels)} distributions: "
                f"{' and '.join(labels)}. lit does not pick one silently. Uninstall all but one of them "
                f"(`pip uninstall <distribution>`), or pass the class or an instance instead of the name "
                f"(e.g. {self.kind}=<module>.<Class>())."
            )
        return self.import_object()

    def import_object(self) -> Any:
        """Import and return the object, even when the name is ambiguous (``lit plugins`` lists each)."""
        try:
            return self.entry_point.load()
        except Exception as exc:
            raise PluginError(
                f"The {self.kind} plugin {self.name!r} ({self.value}) from distribution "
                f"{self.distribution} {self.version} failed to import: {type(exc).__name__}: {exc}. "
                f"Reinstall or upgrade {self.distribution}, or uninstall it "
                f"(`pip uninstall {self.distribution}`) to stop lit from loading it."
            ) from exc


@functools.cache
def installed(kind: str) -> dict[str, PluginEntry]:
    """The plugins of ``kind`` installed in this environment, by name (metadata only).

    A name that several distributions register maps to the first one's entry, holding the
    others as ``rivals``. One distribution found twice (the same folder twice on ``sys.path``,
    or a copy in another) counts once: ``importlib.metadata`` keeps the first of each name.
    The scan is ``namespace.claims``, the one reader of entry points.
    """
    found = {}
    for name, claims in namespace.claims(GROUPS[kind]).items():
        first, *others = (PluginEntry(kind, name, c.entry_point.value, c.distribution,
                                      c.entry_point.dist.version if c.entry_point.dist else "?", c.entry_point)
                          for c in claims)
        found[name] = dataclasses.replace(first, rivals=tuple(others)) if others else first
    return found


@dataclass(frozen=True)
class RoleClaim:
    """A distribution's declaration (``lit.roles`` entry ``role = "name"``) that its plugin ``name`` fills ``role``."""

    role: str
    name: str
    distribution: str


def role_claims() -> tuple[RoleClaim, ...]:
    """Every role claim of the installed distributions (metadata only; ``lit_core.roles`` decides)."""
    return tuple(RoleClaim(role, c.entry_point.value, c.distribution)
                 for role, claims in namespace.claims(ROLES_GROUP).items() for c in claims)


def refresh() -> None:
    """Forget what was discovered (after installing a distribution at run time, in tests)."""
    installed.cache_clear()
    _WARNED.clear()
    namespace.refresh()


#: Plugins ``usable_for_auto`` has warned about once already (forgotten by ``refresh``).
_WARNED: set[tuple[str, str]] = set()


def usable_for_auto(kind: str, name: str) -> Any | None:
    """The object for ``name`` when it loads and can run here, else ``None``: for automatic selection.

    ``accelerator="auto"`` looks at every installed accelerator; one whose module fails to
    import, whose ``unavailable_reason()`` raises, or whose name two distributions register must
    not break every default ``Trainer``. It is skipped with one warning per process naming the
    distribution and the error; selecting it by name still raises that error.
    """
    try:
        obj = load(kind, name)
        reason = obj.unavailable_reason() if hasattr(obj, "unavailable_reason") else None
    except Exception as exc:
        if (kind, name) not in _WARNED:
            _WARNED.add((kind, name))
            problem = str(exc) if isinstance(exc, PluginError) else (
                f"The {kind} plugin {name!r} from {installed(kind)[name].label} failed to say whether it can run "
                f"here: unavailable_reason() raised {type(exc).__name__}: {exc}. Report it to its authors."
            )
            rank_zero_warn(f"{problem} ({kind}='auto' skips it.)", stacklevel=4)
        return None
    return obj if reason is None else None


def autoload_disabled() -> bool:
    """``LIT_DISABLE_PLUGIN_AUTOLOAD=1``: only plugins named explicitly are used."""
    return os.environ.get(DISABLE_AUTOLOAD_ENV, "").lower() not in ("", "0", "false", "no")


_ARTICLE = {"accelerator": "an accelerator", "strategy": "a strategy", "precision": "a precision plugin",
            "logger": "a logger", "callback": "a callback", "profiler": "a profiler"}


def install_hint(kind: str | None, name: str) -> str:
    """What to do about plugin ``name`` (of ``kind``, or of any kind) that is not installed.

    Never invents a distribution (``lit-<typo>`` would invite typosquatting): a name installed
    as another kind says so; a first-party name says which distribution to install; otherwise
    close matches among every installed name (and first-party names), with their kind.
    """
    elsewhere = [k for k in GROUPS if k != kind and name in installed(k)]
    if kind and elsewhere:
        what = " and ".join(_ARTICLE[k] for k in elsewhere)
        return f"{name!r} is {what}, not {_ARTICLE[kind]}: pass {elsewhere[0]}={name!r}."
    dist = next(filter(None, (first_party.provider(GROUPS[k], name) for k in ([kind] if kind else GROUPS))), None)
    if dist is not None:
        return f"{name!r} is provided by {dist}: `pip install {dist}`."
    known: dict[str, str] = {}
    for k in GROUPS:
        for candidate in installed(k):
            known.setdefault(candidate, _ARTICLE[k])
        for candidate, provider in first_party.names(GROUPS[k]):
            known.setdefault(candidate, f"{_ARTICLE[k]} from {provider}")
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.75)
    if close:
        return "Did you mean " + " or ".join(f"{c!r} ({known[c]})" for c in close) + "?"
    return "If it is a third-party plugin, install the distribution that provides it."


def unknown_name_error(kind: str, name: str, extra: Iterable[str] = ()) -> UnknownPluginError:
    """The error for a name no installed plugin of ``kind`` provides."""
    names = sorted({*installed(kind), *extra})
    listing = ", ".join(repr(n) for n in names) if names else "none"
    return UnknownPluginError(f"Unknown {kind} {name!r}. Installed {kind} plugins: {listing}. {install_hint(kind, name)}")


def load(kind: str, name: str) -> Any:
    """Import and return the object registered as ``name`` for ``kind``."""
    entry = installed(kind).get(name)
    if entry is None:
        raise unknown_name_error(kind, name)
    return entry.load()


def find_kinds(name: str) -> list[str]:
    """Every kind that has an installed plugin called ``name``."""
    return [kind for kind in GROUPS if name in installed(kind)]


def instantiate(obj: Any, what: str, defaults: dict[str, Any] | None = None) -> Any:
    """Return ``obj``, or an instance when ``obj`` is a class that needs no other arguments.

    ``defaults`` are passed to the constructor when it takes them (a logger's ``save_dir``).
    A class whose constructor requires other arguments gets an error asking for an instance.
    """
    if not inspect.isclass(obj):
        return obj
    params = _constructor_parameters(obj)
    given = {k: v for k, v in (defaults or {}).items() if k in params}
    required = [
        p.name
        for p in params.values()
        if p.default is p.empty and p.name not in given
        and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    if required:
        raise PluginError(
            f"{what} got the class {obj.__qualname__}, which needs arguments ({', '.join(required)}). "
            f"Pass an instance instead: {obj.__qualname__}(...) — did you forget the ()?"
        )
    return obj(**given)


@functools.lru_cache(maxsize=256)
def _constructor_parameters(cls: type) -> Any:
    """``inspect.signature(cls).parameters`` (empty when it has none): asked for each plugin of each ``Trainer``.

    Remembered because reading a class's signature is slow: ``Trainer(barebones=True)`` took
    1.1 ms without this, 0.85 ms with it (CPU time, this machine).
    """
    try:
        return inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return {}


def distribution_of(obj: Any) -> str:
    """The distribution that ships ``obj``'s module, for error messages.

    From the installed files, else from the plugins' entry points: an editable install's files
    are a ``.pth`` file, and a plugin's distribution is the one whose entry points name its package.
    """
    module = obj.__name__ if inspect.ismodule(obj) else obj.__module__ if inspect.isclass(obj) else type(obj).__module__
    top = module.split(".")[0]
    dists = metadata.packages_distributions().get(top)
    if dists:
        return dists[0]
    for kind in GROUPS:
        for entry in installed(kind).values():
            if entry.value.split(":")[0].split(".")[0] == top:
                return entry.distribution
    return f"the module {module!r}"


class PluginManager(pluggy.PluginManager):
    """pluggy's manager with lit's specs, friendlier errors and ``LIT_TRACE_HOOKS``."""

    def __init__(self) -> None:
        super().__init__(PROJECT)
        self.add_hookspecs(hookspecs)
        self._tracing = os.environ.get(TRACE_ENV, "").lower() not in ("", "0", "false", "no")
        if self._tracing:
            self.add_hookcall_monitoring(_trace_before, _trace_after)

    def fast_caller(self, name: str) -> Callable[..., Any] | None:
        """A callable equivalent to ``self.hook.<name>(**kwargs)`` for the hot path.

        ``None`` when nobody implements the hook. Plain implementations (no wrappers) are called
        directly, skipping pluggy's dispatch: one that takes every argument of a ``firstresult``
        hook as it is, else a loop that calls each in pluggy's order with the arguments it takes
        and returns pluggy's result (the first non-``None`` value for ``firstresult`` hooks, the
        list of non-``None`` values otherwise). With a wrapper, or ``LIT_TRACE_HOOKS``, it is
        pluggy's own caller. Build it after registration: it does not follow later ``register`` /
        ``unregister`` calls.

        Why not pluggy's caller for every hook (``benchmarks/loop_cost.py``: null model, CPU time
        per step over a raw loop, min of 9 rounds, two runs on a shared 2-core machine): it measured
        +14.9 / +16.3 us/step default and +10.7 / +10.8 barebones; this, +7.6 / +8.0 and
        +4.7 / +4.7. Inside the goals (<= 50 / <= 20) either way, but ``benchmarks/overhead.py``'s
        ratio goal on a real model (<= 1.03x, last 1.011x / 1.014x) has less room than 8 us.
        The compiled trampoline per hook (``exec``) that this loop replaced measured +6.8 / +7.3
        and +4.3 / +5.0: not worth its code generation.
        """
        caller = getattr(self.hook, name)
        impls = caller.get_hookimpls()
        if not impls:
            return None
        if self._tracing or any(impl.wrapper or impl.hookwrapper for impl in impls):
            return caller
        firstresult = bool(caller.spec and caller.spec.opts.get("firstresult"))
        spec_args = caller.spec.argnames if caller.spec else impls[0].argnames
        if len(impls) == 1 and firstresult and set(impls[0].argnames) == set(spec_args) and impls[0].plugin_name in KERNEL_PLUGINS:
            return impls[0].function  # it takes every argument by name already, and its errors get no note: call it as it is
        # pluggy calls the implementations last-registered first (tryfirst / trylast already sorted).
        ordered = [(impl.function, impl.argnames) for impl in reversed(impls)]
        by_function = {id(impl.function): impl for impl in impls}

        def call(**kwargs: Any) -> Any:
            results = []
            try:  # free until something raises (CPython 3.11's exception tables)
                for function, argnames in ordered:
                    result = function(*[kwargs[arg] for arg in argnames])
                    if result is not None:
                        if firstresult:
                            return result
                        results.append(result)
            except Exception as exc:
                note_hook_error(exc, name, by_function[id(function)])
                raise
            return None if firstresult else results

        return call

    def _hookexec(self, hook_name: str, methods: Sequence[HookImpl], kwargs: Mapping[str, object], firstresult: bool) -> Any:
        """pluggy's dispatch (every hook call but the fast callers'), with ``note_hook_error`` on the way out."""
        try:  # free until something raises (CPython 3.11's exception tables)
            return self._inner_hookexec(hook_name, methods, kwargs, firstresult)
        except Exception as exc:
            note_hook_error(exc, hook_name, _raising_impl(exc, methods))
            raise

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> Any:
        """pluggy's answer, remembered per class for attributes the class defines.

        pluggy looks every name of ``dir(plugin)`` up with ``inspect.getattr_static``; for a
        ``LightningModule`` or a callback that is several hundred lookups per registration, and a
        ``Trainer`` registers a dozen plugins. What a class attribute is does not change between
        instances, so only instance attributes (and modules and classes) are looked up each time.
        """
        if name[:2] == "__":
            return None  # ``dir()`` lists a few dozen dunders per object; pluggy would look each one up
        if isinstance(plugin, (type, types.ModuleType)):
            return super().parse_hookimpl_opts(plugin, name)
        own = _instance_dict(plugin)
        if name in own:  # pluggy takes only functions and bound methods from an instance
            return super().parse_hookimpl_opts(plugin, name) if callable(own[name]) else None
        per_class = _IMPL_OPTS.get(type(plugin))
        if per_class is None:
            per_class = _IMPL_OPTS[type(plugin)] = {}
        try:
            return per_class[name]
        except KeyError:
            opts = per_class[name] = super().parse_hookimpl_opts(plugin, name)
            return opts

    def register(self, plugin: Any, name: str | None = None) -> str | None:
        """Register ``plugin``; a hook implementation that does not fit a spec is a ``PluginError``."""
        try:
            return super().register(plugin, name)
        except pluggy.PluginValidationError as exc:
            raise _misfit(exc, name or type(plugin).__name__, "does not fit lit's hooks", "each hook's argument names") from exc

    def get_plugins(self) -> list[Any]:  # type: ignore[override]
        """Every registered plugin, in registration order (a list: adapter plugins are not hashable)."""
        return [plugin for _, plugin in self.list_name_plugin() if plugin is not None]

    def check_pending(self) -> None:
        """Reject ``@hookimpl`` methods whose name matches no hookspec (usually a typo)."""
        try:
            super().check_pending()
        except pluggy.PluginValidationError as exc:
            raise _misfit(exc, type(exc.plugin).__name__, "implements a hook lit does not have", "the hook names") from exc


def _misfit(exc: pluggy.PluginValidationError, label: str, problem: str, see: str) -> PluginError:
    """pluggy's validation error as lit's: which plugin, from which distribution, what is wrong, where to look."""
    detail = " ".join(str(exc).split())
    return PluginError(f"Plugin {label!r} from {distribution_of(exc.plugin)} {problem}: {detail}. See lit_core.hookspecs for {see}.")


#: ``parse_hookimpl_opts`` per class: attribute name -> pluggy's options (``None``: not a hook).
_IMPL_OPTS: weakref.WeakKeyDictionary[type, dict[str, Any]] = weakref.WeakKeyDictionary()


def _instance_dict(plugin: Any) -> Any:
    try:
        found = object.__getattribute__(plugin, "__dict__")
    except AttributeError:
        return ()
    return found if isinstance(found, dict) else ()


#: The names of the kernel's own plugins, which run the loop and the user's closures, so an error raised
#: through them is someone else's (they get no note, and ``fast_caller`` calls a lone one of them directly).
KERNEL_PLUGINS = frozenset({"lit.defaults", "lit.loops"})

#: How ``note_hook_error``'s notes begin (one per exception: the innermost hook call names the plugin).
NOTE_PREFIX = "lit: "


def plugin_label(impl: HookImpl, hook: str) -> str:
    """A readable name for ``impl`` in traces and notes: ``MyCallback.on_train_epoch_end`` for the hooks
    of a callback or a LightningModule (the adapter's, ``lit_core.builtins.adapters``), else the name the
    plugin was registered under (``callback:TQDMProgressBar``, ``lit.precision:16-mixed``)."""
    owner = _adapted(impl.plugin)
    if owner is None:
        return impl.plugin_name
    method = EVENT_HOOKS.get(hook, "transfer_batch_to_device" if hook == "lit_batch_to_device" else hook)
    return f"{type(owner).__name__}.{method}"


def _adapted(plugin: Any) -> Any:
    """The callback or LightningModule an adapter plugin calls, else ``None``."""
    return plugin.owner if isinstance(plugin, AdapterPlugin) else None


def note_hook_error(exc: Exception, hook: str, impl: HookImpl | None) -> None:
    """Add a note to ``exc`` naming the plugin whose implementation of ``hook`` raised it, and its distribution.

    Once per exception: the innermost hook call that sees it knows the plugin; calls further out
    (``lit_run_stage``...) leave it. Nothing for the kernel's own plugins (``KERNEL_PLUGINS``) or a
    stage's planned exit (``ExitStage``).
    """
    if impl is None or impl.plugin_name in KERNEL_PLUGINS or isinstance(exc, ExitStage) or not hasattr(exc, "add_note"):
        return
    if any(isinstance(note, str) and note.startswith(NOTE_PREFIX) for note in getattr(exc, "__notes__", ())):
        return
    owner = _adapted(impl.plugin)
    exc.add_note(f"{NOTE_PREFIX}raised in hook {hook} by {plugin_label(impl, hook)}, from {_origin(impl.plugin if owner is None else owner)}")


def _origin(obj: Any) -> str:
    dist = distribution_of(obj)
    if dist.startswith("the module "):
        return f"{dist} (no installed distribution)"
    try:
        return f"distribution {dist} {metadata.version(dist)}"
    except metadata.PackageNotFoundError:
        return f"distribution {dist}"


def _raising_impl(exc: BaseException, impls: Sequence[HookImpl]) -> HookImpl | None:
    """The implementation ``exc`` came out of: the one running in the deepest frame of its traceback.

    Implementations can share code (one class's method on two instances; the adapters' compiled
    trampolines): the frame's ``self`` and closure tell them apart.
    """
    found = None
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        for impl in impls:
            function = getattr(impl.function, "__func__", impl.function)
            if getattr(function, "__code__", None) is frame.f_code and _runs_in(impl.function, frame):
                found = impl
        tb = tb.tb_next
    return found


def _runs_in(function: Any, frame: types.FrameType) -> bool:
    local = frame.f_locals
    if inspect.ismethod(function):
        code = function.__func__.__code__
        return bool(code.co_varnames) and local.get(code.co_varnames[0]) is function.__self__
    cells = zip(function.__code__.co_freevars, function.__closure__ or ())
    return all(local.get(name) is cell.cell_contents for name, cell in cells)


def _trace_before(hook_name: str, hook_impls: list[Any], kwargs: dict[str, Any]) -> None:
    names = ", ".join(plugin_label(impl, hook_name) for impl in hook_impls)
    print(f"lit hook {hook_name} -> [{names}]", file=sys.stderr)


def _trace_after(outcome: Any, hook_name: str, hook_impls: list[Any], kwargs: dict[str, Any]) -> None:
    if outcome.exception is not None:
        print(f"lit hook {hook_name} raised {outcome.exception!r}", file=sys.stderr)
