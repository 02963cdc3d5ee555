"""``Trainer(profiler=...)``: which profiler a run gets, and the one it has when none is asked for.

The profilers (Lightning's ``SimpleProfiler``, ``AdvancedProfiler``, ``PyTorchProfiler``...)
are plugins of the ``profiler`` kind (entry-point group ``lit.profilers``): a name resolves
through the registry like a logger's, an instance is used as it is. A profiler is a pluggy
plugin like any other: it registers with the Trainer and watches the stage through hooks, so the
kernel calls nothing of it and adds nothing to the loop.

``trainer.profiler`` always exists, as in Lightning: with no profiler it is ``NoProfiler``,
whose ``profile(name)`` is a context manager that does nothing, so user code written
``with self.trainer.profiler.profile("x"):`` runs with lit-core alone (Lightning's
``PassThroughProfiler`` role, kept here because it is four lines; docs/decisions.rst).
"""

from __future__ import annotations

import contextlib
import inspect
from typing import Any

from . import first_party, lightning_names, registry
from .exceptions import MisconfigurationException, MisconfigurationTypeError, UnknownPluginError

#: The plugin kind (``registry.GROUPS``) of the objects ``profiler=`` takes by name.
KIND = "profiler"

#: Lightning's namespace of the profiler classes (``lit_core.lightning_names`` knows the absent ones).
NAMESPACE = "lit_core.profilers"

#: What a profiler object offers the user and the Trainer (Lightning's ``Profiler`` interface).
INTERFACE = ("start", "stop", "profile", "describe", "setup", "teardown")


class NoProfiler:
    """``trainer.profiler`` when no profiler is set: every method does nothing."""

    def profile(self, action_name: str) -> contextlib.AbstractContextManager[str]:
        """A context manager that records nothing; entering it gives ``action_name``."""
        return contextlib.nullcontext(action_name)

    def start(self, action_name: str) -> None:
        """Record nothing."""

    def stop(self, action_name: str) -> None:
        """Record nothing."""

    def describe(self) -> None:
        """Report nothing."""

    def summary(self) -> str:
        """An empty report."""
        return ""

    def setup(self, stage: str, local_rank: int | None = None, log_dir: str | None = None) -> None:
        """Nothing to prepare."""

    def teardown(self, stage: str | None) -> None:
        """Nothing to close."""


def check_flag(name: str, value: Any) -> None:
    """The rule for ``profiler=`` (``lit_core.flag_checks``): ``None``, a name, or a profiler instance."""
    if value is None or isinstance(value, str):
        return
    if inspect.isclass(value):
        raise MisconfigurationTypeError(
            f"{name}={value.__qualname__} is a class: pass an instance, {name}={value.__qualname__}(), "
            f"or a name such as {name}='simple'."
        )
    missing = [method for method in INTERFACE if not callable(getattr(value, method, None))]
    if missing:
        # The install hint comes from the first-party table, like every other (the kernel names no distribution).
        dist = next((d for d, groups in first_party.DISTRIBUTIONS.items() if registry.GROUPS[KIND] in groups), None)
        raise MisconfigurationTypeError(
            f"{name}={value!r} is not a profiler (no {', '.join(missing)}): pass a name such as {name}='simple' or "
            f"an instance of a lit_core.profilers.Profiler subclass{f' (pip install {dist})' if dist else ''}."
        )


def choose(value: Any, disabled: set[str], barebones: bool) -> Any:
    """The profiler ``profiler=value`` gives: ``NoProfiler()`` for ``None``, the named plugin's instance, or ``value``."""
    if value is None:
        return NoProfiler()
    if barebones:
        raise MisconfigurationException(
            f"Trainer(barebones=True) turns profiling off, but profiler={value!r} was passed: drop one of them."
        )
    if not isinstance(value, str):
        return value
    name = value.lower()
    if name in disabled:
        raise MisconfigurationException(f"The profiler {name!r} is blocked by disable_plugins={sorted(disabled)}.")
    lightning_class = f"{name.upper()}Profiler"  # Lightning's names: "xla" -> XLAProfiler
    if name not in registry.installed(KIND) and lightning_class in lightning_names.ABSENT.get(NAMESPACE, ()):
        installed = ", ".join(repr(n) for n in sorted(registry.installed(KIND))) or "none"
        raise UnknownPluginError(
            f"profiler={value!r} is Lightning's {lightning_class}, which lit deliberately lacks: docs/decisions.rst says "
            f"why and what to use instead. Installed profiler plugins: {installed}."
        )
    return registry.instantiate(registry.load(KIND, name), f"profiler={value!r}")


def register(plugin_manager: registry.PluginManager, profiler: Any) -> None:
    """Register ``profiler`` as a plugin when it implements hooks (lit-profilers' do: that is how they watch)."""
    if not isinstance(profiler, NoProfiler) and any(name.startswith("lit_") for name in dir(profiler)):
        plugin_manager.register(profiler, f"lit.profiler:{type(profiler).__name__}")
