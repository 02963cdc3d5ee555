"""An isolated plugin registry for one test: entry points without installing a distribution.

lit reads plugin metadata in one place (``lit_core.namespace.entry_points``). ``PluginRegistry``
replaces that reader for the duration of a ``with`` block (or of a test, through the
``lit_plugins`` fixture): the entry points it returns are those of the installed distributions
(all of them, or only lit-core's with ``hide_installed()``) plus the ones the test registers.
What a test registers belongs to a distribution that exists only in memory (a real
``importlib.metadata.Distribution``, so messages name it and ``lit plugins`` lists it), and is
forgotten when the block ends: nothing leaks into the next test.
"""

from __future__ import annotations

import importlib
import itertools
import sys
import types
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from .. import namespace, registry

#: The distribution that owns the kernel's built-ins; never hidden.
CORE_DISTRIBUTION = "lit-core"

_modules = itertools.count()


class MemoryDistribution(metadata.Distribution):
    """A distribution that exists only in memory: a name, a version and an ``entry_points.txt``."""

    def __init__(self, name: str, version: str) -> None:
        self._name, self._version = name, version
        self._groups: dict[str, dict[str, str]] = {}

    def add(self, group: str, name: str, value: str) -> None:
        """Declare ``name = value`` in the entry-point ``group``."""
        self._groups.setdefault(group, {})[name] = value

    def read_text(self, filename: str) -> str | None:
        """The distribution's metadata files, written from what was declared."""
        if filename == "METADATA":
            return f"Metadata-Version: 2.1\nName: {self._name}\nVersion: {self._version}\n"
        if filename == "entry_points.txt":
            return "".join(f"[{group}]\n" + "".join(f"{name} = {value}\n" for name, value in entries.items())
                           for group, entries in self._groups.items())
        return None

    def locate_file(self, path: str | Path) -> Path:
        """No files: the objects live in modules already imported."""
        return Path(path)


class PluginRegistry:
    """The plugins lit discovers while it is active: the installed ones (or only lit-core's) plus registered ones.

    ``register(kind, name, obj)`` makes ``Trainer(<kind>=name)`` (and ``plugins=[name]``,
    ``callbacks=[name]``) find ``obj`` exactly as if a distribution declared it in the kind's
    entry-point group. ``obj`` is the class (or factory, or instance) the entry point names, or
    a ``"module:attribute"`` string imported only when the plugin is selected, as a real entry
    point is. Use it as a context manager, or through the ``lit_plugins`` fixture.

    ``hide_installed``: discover only lit-core's built-ins (and the distributions in ``keep``)
    besides what is registered, so no third-party plugin installed here interferes.
    """

    def __init__(self, *, hide_installed: bool = False, keep: Iterable[str] = (),
                 distribution: str = "lit-test-plugins", version: str = "0.0.0") -> None:
        self.distribution = MemoryDistribution(distribution, version)
        # distributions hidden; None: every one but lit-core and those kept
        self._hidden: set[str] | None = None if hide_installed else set()
        self._kept: set[str] = set(keep)
        self._modules: list[str] = []
        self._saved_reader: Any = None

    # -- what a test declares --------------------------------------------------------------

    def register(self, kind: str, name: str, obj: Any) -> None:
        """Register ``obj`` as the ``kind`` plugin ``name`` (kinds: ``lit_core.registry.GROUPS``)."""
        if kind not in registry.GROUPS:
            raise ValueError(f"Unknown plugin kind {kind!r}: use one of {', '.join(sorted(registry.GROUPS))}.")
        self.declare(registry.GROUPS[kind], name, obj)

    def register_role(self, role: str, name: str) -> None:
        """Declare that the registered plugin ``name`` fills ``role`` by default (``lit.roles``, e.g. ``default_logger``)."""
        self.declare(registry.ROLES_GROUP, role, name, literal=True)

    def declare(self, group: str, name: str, obj: Any, *, literal: bool = False) -> None:
        """Declare an entry point ``name`` in any ``group`` (a namespace such as ``lit_core.loggers`` too).

        ``literal``: ``obj`` is the entry point's value as it is (role claims name a plugin, not an object).
        """
        value = obj if literal or isinstance(obj, str) else self._importable(obj)
        self.distribution.add(group, name, value)
        registry.refresh()

    def hide(self, *distributions: str) -> None:
        """Discover as if ``distributions`` were not installed."""
        if self._hidden is not None:
            self._hidden.update(distributions)
        else:
            self._kept.difference_update(distributions)
        registry.refresh()

    def hide_installed(self, keep: Iterable[str] = ()) -> None:
        """Hide every installed distribution but lit-core (its built-ins) and ``keep``: no third-party plugin interferes."""
        self._hidden, self._kept = None, set(keep)
        registry.refresh()

    # -- the seam --------------------------------------------------------------------------

    def entry_points(self, group: str) -> list[metadata.EntryPoint]:
        """What ``lit_core.namespace.entry_points`` returns while this registry is active."""
        installed = [ep for ep in self._saved_reader(group) if self._visible(ep)]
        return [*installed, *self.distribution.entry_points.select(group=group)]

    def _visible(self, ep: metadata.EntryPoint) -> bool:
        dist = ep.dist.metadata["Name"] if ep.dist is not None else None
        if self._hidden is None:
            return dist == CORE_DISTRIBUTION or dist in self._kept
        return dist not in self._hidden

    def __enter__(self) -> PluginRegistry:
        if self._saved_reader is not None:
            raise RuntimeError("This PluginRegistry is active already: use one `with` block (or fixture) at a time.")
        self._saved_reader = namespace.entry_points
        namespace.entry_points = self.entry_points
        registry.refresh()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        namespace.entry_points = self._saved_reader
        self._saved_reader = None
        for module in self._modules:
            sys.modules.pop(module, None)
        self._modules.clear()
        registry.refresh()

    def _importable(self, obj: Any) -> str:
        """``module:qualname`` when that imports ``obj``; else a stand-in module holding it for this registry's life."""
        module_name, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
        if module_name and qualname and "<locals>" not in qualname:
            try:
                found: Any = importlib.import_module(module_name)
                for part in qualname.split("."):
                    found = getattr(found, part)
            except (ImportError, AttributeError):
                found = None
            if found is obj:
                return f"{module_name}:{qualname}"
        stand_in = f"_lit_testing_plugins_{next(_modules)}"
        module = types.ModuleType(stand_in, f"Plugins registered by a test (lit_core.testing): {obj!r}.")
        module.plugin = obj  # type: ignore[attr-defined]
        sys.modules[stand_in] = module
        self._modules.append(stand_in)
        return f"{stand_in}:plugin"
