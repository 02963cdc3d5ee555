"""Plugin selection: which accelerator, strategy, precision, loggers and callbacks a ``Trainer`` gets.

``Trainer.__init__`` asks ``PluginSelection`` for each kind, in this order: the dedicated
argument (``accelerator=``, ``logger=``...), a plugin of that kind in ``plugins=[...]``, then the
default: the best installed accelerator that can run here (its ``priority``), the accelerator's
multi-device strategy or the ``multi_device_strategy`` role for several devices, and for
loggers, the progress bar and checkpointing the distribution that fills the role
(``lit_core.roles``). A value is a name (found through entry points, ``lit_core.registry``), a
class or an instance; ``disable_plugins=`` blocks names. The functions below the class register
what was chosen (``configure_callbacks()``'s callbacks too).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from . import first_party, registry, roles
from .accelerators.accelerator import Accelerator
from .builtins.adapters import callback_plugin
from .callback import Callback
from .exceptions import MisconfigurationException, PluginError, UnknownPluginError
from .logger import Logger
from .plugins.environments.cluster_environment import ClusterEnvironment
from .plugins.precision.precision import Precision
from .strategies.single_device import SingleDeviceStrategy
from .strategies.strategy import Strategy
from .unique_plugins import check_each_once

if TYPE_CHECKING:
    from .module import LightningModule
    from .registry import PluginManager
    from .trainer import Trainer

#: Lightning's ``precision=`` spellings of lit-core's own precision plugins. The spellings of other
#: distributions' precisions (``16``, ``"bf16"``) are roles those distributions declare
#: (``precision_16``... in ``lit_core.roles``); ``precision_name`` asks both.
CORE_PRECISION_SPELLINGS: dict[Any, str] = {32: "32-true", "32": "32-true", 64: "64-true", "64": "64-true"}

#: The prefix of the roles that give a ``precision=`` spelling its plugin name.
_SPELLING_ROLE = "precision_"


def precision_name(value: Any, disabled: Iterable[str] = ()) -> Any:
    """The precision plugin name a ``precision=`` value means (``16`` -> the ``precision_16`` role's plugin).

    A name of the ``lit.precision`` group, a class or an instance comes back unchanged, and so
    does a spelling that no installed distribution declares (its error then names what to install).
    A claim ``disabled`` blocks is passed over; when it is the only one, its name comes back, so
    that loading it says that ``disable_plugins`` blocks it.
    """
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return value
    if value in CORE_PRECISION_SPELLINGS:
        return CORE_PRECISION_SPELLINGS[value]
    role = f"{_SPELLING_ROLE}{value}"
    if role not in roles.ROLES:
        return value
    return roles.fill(role, disabled, explicit=True) or roles.fill(role, explicit=True) or value


def precision_spellings() -> list[str]:
    """The ``precision=`` spellings usable here: lit-core's and those whose role an installed distribution fills."""
    spellings = {str(v) for v in CORE_PRECISION_SPELLINGS} | {
        role.removeprefix(_SPELLING_ROLE) for role in roles.ROLES
        if role.startswith(_SPELLING_ROLE) and roles.fill(role, explicit=True)}
    return sorted(spellings, key=lambda s: (not s.isdigit(), int(s) if s.isdigit() else 0, s))


#: kind -> the base class of its plugins; an object in ``plugins=[...]`` is of the first kind it fits.
BASES: dict[str, type] = {"accelerator": Accelerator, "strategy": Strategy, "precision": Precision, "logger": Logger,
                          "callback": Callback, "environment": ClusterEnvironment}

#: The kinds of which a Trainer takes one, with the value that means "not given".
_NOT_GIVEN: dict[str, Any] = {"accelerator": "auto", "strategy": "auto", "precision": "32-true", "environment": None}


class PluginSelection:
    """Turns the Trainer's plugin arguments into plugin instances (names, classes or instances).

    ``disabled``: the names ``disable_plugins=`` blocks. ``default_root_dir``: what a logger
    built from its name or class saves under.
    """

    def __init__(self, disabled: Iterable[str], default_root_dir: str) -> None:
        self.disabled = set(disabled)
        self.default_root_dir = default_root_dir

    def sort_plugins(self, plugins: Any, **flags: Any) -> dict[str, Any]:
        """Merge ``plugins=[...]`` into the per-kind choices; names, classes or instances."""
        chosen: dict[str, Any] = {**_NOT_GIVEN, **flags, "logger": [], "callback": [], "other": []}
        items = plugins if isinstance(plugins, (list, tuple)) else ([] if plugins is None else [plugins])
        for item in items:
            kind, obj = self.classify(item)
            if kind not in _NOT_GIVEN:
                chosen[kind].append(obj)
                continue
            if chosen[kind] not in (_NOT_GIVEN[kind], None) and chosen[kind] is not obj:
                raise MisconfigurationException(
                    f"Two {kind}s were given: {kind}={chosen[kind]!r} and {obj!r} in plugins=[...]. Give one."
                )
            chosen[kind] = obj
        return chosen

    def classify(self, item: Any) -> tuple[str, Any]:
        if isinstance(item, str):
            name = precision_name(item, self.disabled)
            kinds = registry.find_kinds(name)
            if not kinds:
                raise PluginError(
                    f"Unknown plugin {item!r} in plugins=[...]. Installed: "
                    + "; ".join(f"{k}: {', '.join(sorted(registry.installed(k))) or 'none'}" for k in registry.GROUPS)
                    + f". {registry.install_hint(None, name)}"
                )
            if len(kinds) > 1:
                raise PluginError(
                    f"plugins=[{item!r}] is ambiguous: it names a {' and a '.join(kinds)}. "
                    f"Pass it through the dedicated argument instead ({kinds[0]}={item!r})."
                )
            kind = kinds[0]
            if kind not in BASES:  # a profiler: one per Trainer, given through its own flag
                raise PluginError(f"plugins=[{item!r}] names a {kind}: pass {kind}={item!r} instead.")
            return kind, (self.load_named(kind, name) if kind in ("logger", "callback") else name)
        defaults = self.constructor_defaults("logger") if inspect.isclass(item) and issubclass(item, Logger) else None
        obj = registry.instantiate(item, "plugins=[...]", defaults)
        for kind, base in BASES.items():
            if isinstance(obj, base):
                return kind, obj
        if not any(name.startswith("lit_") for name in dir(obj)):
            raise PluginError(
                f"plugins=[{item!r}]: {type(obj).__name__} is not a lit plugin. Give an Accelerator, Strategy, "
                "Precision, Logger, Callback or ClusterEnvironment, or an object with @lit.hookimpl methods named after lit's hooks."
            )
        return "other", obj

    def load_named(self, kind: str, name: str) -> Any:
        """Import plugin ``name`` of ``kind`` and return an instance."""
        if name in self.disabled:
            raise PluginError(f"The {kind} {name!r} is blocked by disable_plugins={sorted(self.disabled)}.")
        return registry.instantiate(registry.load(kind, name), f"{kind}={name!r}", self.constructor_defaults(kind))

    def constructor_defaults(self, kind: str) -> dict[str, Any]:
        """What a plugin built from its name or class gets from the Trainer (loggers: the root dir)."""
        return {"save_dir": self.default_root_dir} if kind == "logger" else {}

    def resolve(self, kind: str, value: Any) -> Any:
        """The plugin of ``kind`` that ``value`` (a name, a class or an instance) gives, checked to run here."""
        base = BASES[kind]
        if isinstance(value, str):
            obj = self.load_named(kind, value)
        else:
            obj = registry.instantiate(value, f"{kind}=", self.constructor_defaults(kind))
        if not isinstance(obj, base):
            raise PluginError(f"{kind}={value!r} is not a {base.__name__}: give a name, a {base.__name__} subclass or an instance of one.")
        reason = obj.unavailable_reason() if hasattr(obj, "unavailable_reason") else None  # optional on loggers and callbacks
        if reason:
            raise MisconfigurationException(f"{kind}={getattr(obj, 'name', value)!r} cannot run on this machine: {reason}")
        return obj

    def choose_accelerator(self, value: Any) -> Accelerator:
        if value not in ("auto", None):
            missing = isinstance(value, str) and value not in registry.installed("accelerator")
            dist = first_party.provider(registry.GROUPS["accelerator"], value) if missing else None
            if dist is not None:  # a device plugin lit knows: say which distribution to install
                raise PluginError(
                    f"accelerator={value!r} needs the {dist} plugin, which is not installed: "
                    f"`pip install {dist}`. Installed accelerators: {', '.join(sorted(registry.installed('accelerator')))}."
                )
            return self.resolve("accelerator", value)
        names = ["cpu"] if registry.autoload_disabled() else list(registry.installed("accelerator"))
        # A broken third-party accelerator is skipped, with a warning (``usable_for_auto``).
        usable = {name: registry.usable_for_auto("accelerator", name) for name in names if name not in self.disabled}
        candidates = [(cls.priority, name == "cpu", name) for name, cls in usable.items() if cls is not None]
        if not candidates and "cpu" not in self.disabled:
            return self.resolve("accelerator", "cpu")  # raises what keeps lit-core's cpu from running
        if not candidates:
            raise MisconfigurationException(
                f"No accelerator can run here: the available ones are blocked by disable_plugins={sorted(self.disabled)} "
                "or not installed (lit-core provides 'cpu'). Remove them from disable_plugins or pass accelerator=."
            )
        _, _, best = max(candidates)
        return self.resolve("accelerator", best)

    def choose_strategy(self, value: Any, accelerator: Accelerator, num_devices: int, num_nodes: int) -> Strategy:
        if value in ("auto", None) and num_devices * num_nodes == 1:
            return SingleDeviceStrategy()
        if value in ("auto", None):
            value = accelerator.multi_device_strategy or roles.require(
                "multi_device_strategy", f"devices={num_devices}, num_nodes={num_nodes}", self.disabled)
            if value not in registry.installed("strategy"):
                raise PluginError(
                    f"devices={num_devices}, num_nodes={num_nodes} needs the multi-process strategy {value!r} "
                    f"of accelerator={accelerator.name!r}, and it is not installed. "
                    + registry.install_hint("strategy", value)
                    + f" Then strategy={value!r} is picked automatically."
                )
        return self.resolve("strategy", value)

    def choose_precision(self, value: Any) -> Precision:
        if isinstance(value, (str, int)):
            name = precision_name(value, self.disabled)
            if not isinstance(name, str) or name not in registry.installed("precision"):
                group = registry.GROUPS["precision"]
                known = sorted({*registry.installed("precision"), *(n for n, _ in first_party.names(group))})
                aliases = ", ".join(s if s.isdigit() else repr(s) for s in precision_spellings())
                hint = first_party.provider(group, name) if isinstance(name, str) else None
                hint = hint or first_party.provider(roles.GROUP, f"{_SPELLING_ROLE}{value}")
                raise UnknownPluginError(
                    f"precision={value!r} is not available. Valid values: {', '.join(known)} (and the aliases {aliases})."
                    + (f" {name!r} is provided by {hint}: `pip install {hint}`." if hint else "")
                )
            value = name
        return self.resolve("precision", value)

    def choose_loggers(self, value: Any, extra: list[Logger]) -> list[Logger]:
        if value is False:
            return list(extra)
        if value is None or value is True:
            if extra:
                return list(extra)
            name = roles.fill("default_logger", self.disabled)  # lit-core's csv unless a distribution claims the role
            return [] if name is None else [self.load_named("logger", name)]
        values = value if isinstance(value, (list, tuple)) else [value]
        return [self.resolve("logger", v) for v in values] + list(extra)

    def choose_callbacks(self, value: Any, extra: list[Callback], progress_bar: bool | None, checkpointing: bool | None, quiet: bool,
                         barebones: bool) -> list[Callback]:
        given = value if isinstance(value, (list, tuple)) else ([] if value is None else [value])
        callbacks = [self.resolve("callback", cb) for cb in given] + list(extra)
        present = {getattr(cb, "name", None) for cb in callbacks} | {type(cb).__name__ for cb in callbacks}
        wanted = []
        # A bar the user chose (by name, class or instance) keeps the default one out.
        if progress_bar is not False and not barebones and not any(getattr(cb, "is_progress_bar", False) for cb in callbacks):
            wanted.append("default_progress_bar")
        if checkpointing is not False and not quiet:
            wanted.append("default_checkpointing")
        for role in wanted:
            name = roles.fill(role, self.disabled)
            if name is not None and name not in present:
                callbacks.append(self.load_named("callback", name))
        return callbacks


def give_cluster_environment(strategy: Strategy, env: ClusterEnvironment | None) -> None:
    """A ``ClusterEnvironment`` from ``plugins=[...]`` goes to the strategy, as in Lightning.

    One-process strategies keep it too (unused): plugins read it, e.g. ``SLURMEnvironment(auto_requeue=False)``.
    """
    if env is None:
        return
    own = strategy.cluster_environment
    if own is not None and own is not env:
        raise MisconfigurationException(
            f"Two cluster environments were given: {type(own).__name__} in the strategy and {type(env).__name__} "
            "in plugins=[...]. Give one."
        )
    strategy.cluster_environment = env


def check_barebones(barebones: bool, *flags: bool | None) -> None:
    """``barebones=True`` with a feature it turns off asked for: an error that names both."""
    if barebones and any(flag is not None and bool(flag) for flag in flags):
        raise MisconfigurationException(
            "Trainer(barebones=True) turns off checkpointing, the progress bar and the model summary: "
            "drop enable_checkpointing / enable_progress_bar / enable_model_summary=True, or barebones=True."
        )


def plugin_name(plugin_manager: PluginManager, kind: str, obj: Any) -> str:
    """A readable, unique name for ``LIT_TRACE_HOOKS`` and ``plugin_manager.get_plugin``."""
    name = f"{kind}:{type(obj).__name__}"
    suffix = 1
    while plugin_manager.has_plugin(name if suffix == 1 else f"{name}#{suffix}"):
        suffix += 1
    return name if suffix == 1 else f"{name}#{suffix}"


def register_callbacks(plugin_manager: PluginManager, callbacks: list[Callback]) -> None:
    """Register each callback and its adapter (the module-style hooks, ``lit_core.builtins.adapters``)."""
    # pluggy calls later registrations first: register in reverse to call in list order.
    for cb in reversed(callbacks):
        plugin_manager.register(cb, plugin_name(plugin_manager, "callback", cb))
        plugin_manager.register(callback_plugin(cb), f"lit.callback-adapter:{id(cb)}")


def attach_model_callbacks(trainer: Trainer, module: LightningModule, selection: PluginSelection) -> None:
    """Add ``configure_callbacks()``'s callbacks; they replace trainer callbacks of the same type."""
    returned = module.configure_callbacks()
    extra = list(returned) if isinstance(returned, (list, tuple)) else ([returned] if returned else [])
    if not extra:
        return
    replaced = {type(cb) for cb in extra}
    callbacks = [cb for cb in trainer.callbacks if type(cb) not in replaced] + [selection.resolve("callback", cb) for cb in extra]
    check_each_once((), callbacks, ())
    for cb in trainer.callbacks:
        trainer.plugin_manager.unregister(cb)
        trainer.plugin_manager.unregister(name=f"lit.callback-adapter:{id(cb)}")
    trainer.callbacks = callbacks
    register_callbacks(trainer.plugin_manager, trainer.callbacks)
    trainer.plugin_manager.check_pending()
