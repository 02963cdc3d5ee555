"""Lightning's module layout with names that plugin distributions provide, found lazily.

A namespace module (``lit_core.callbacks``, ``lit_core.loggers``, ...) defines the kernel's
names as plain attributes and ends with ``install(globals())``. Every other name is looked up
when it is first accessed, in the entry-point group named after the module: a distribution adds
``EarlyStopping`` to ``lit_core.callbacks`` with ::

    [project.entry-points."lit_core.callbacks"]
    EarlyStopping = "lit_callbacks.early_stopping:EarlyStopping"

Importing a namespace reads no metadata and imports no plugin; ``from lit_core.callbacks import
EarlyStopping`` imports lit-callbacks then. A Lightning name nobody installed raises
``ImportError`` naming the distribution to install, or saying that lit lacks it on purpose (see
``docs/decisions.rst``) or which issue brings it; the table behind those messages is
``lit_core.lightning_names`` (hints only: what resolves is decided by installed metadata).

Why ``ImportError`` and not ``AttributeError`` for those names: ``from X import Name`` turns an
``AttributeError`` from a module's ``__getattr__`` into its own "cannot import name" and drops
ours, and programs guard optional loggers with ``except ImportError``. Names no table knows raise
``AttributeError``, so ``hasattr``, ``from X import submodule`` and introspection keep working.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from . import lightning_names
from .exceptions import PluginError

DOCS = "docs/decisions.rst"


class NameNotInstalledError(ImportError):
    """A Lightning name whose providing distribution is not installed, or that lit lacks."""


class NameConflictError(PluginError, ImportError):
    """Two distributions (or a distribution and lit-core) claim the same name in a namespace."""


@dataclass(frozen=True)
class Claim:
    """One distribution's entry point for a name in a namespace's group (metadata only)."""

    name: str
    group: str
    distribution: str
    entry_point: metadata.EntryPoint

    def load(self) -> Any:
        """Import the distribution's module and return the named object."""
        try:
            return self.entry_point.load()
        except Exception as exc:
            raise PluginError(
                f"{self.name} in {self.group} ({self.entry_point.value}) from {self.distribution} failed to import: "
                f"{type(exc).__name__}: {exc}. Reinstall or upgrade {self.distribution}."
            ) from exc


def entry_points(group: str) -> Iterable[metadata.EntryPoint]:
    """The installed entry points of ``group``: lit reads plugin metadata only through here.

    The one seam where ``lit_core.testing`` gives a test its own plugins (``lit_plugins``).
    """
    return metadata.entry_points(group=group)


@functools.cache
def claims(group: str) -> dict[str, tuple[Claim, ...]]:
    """Every name the installed distributions declare in ``group``, with who declares it."""
    found: dict[str, dict[str, Claim]] = {}
    for ep in entry_points(group):
        dist = ep.dist.metadata["Name"] if ep.dist is not None else f"the entry point {ep.value!r}"
        found.setdefault(ep.name, {}).setdefault(dist, Claim(ep.name, group, dist, ep))
    return {name: tuple(by_dist.values()) for name, by_dist in found.items()}


#: Namespace module name -> names resolved lazily and stored in its globals (forgotten by ``refresh``).
_RESOLVED: dict[str, set[str]] = {}


def refresh() -> None:
    """Forget what was read from metadata and what was resolved (after installing at run time, in tests)."""
    claims.cache_clear()
    for module_name, names in _RESOLVED.items():
        module = sys.modules.get(module_name)
        for name in names:
            if module is not None:
                module.__dict__.pop(name, None)
        names.clear()


def install(namespace: dict[str, Any], *, groups: Iterable[str] = (), only: Iterable[str] | None = None) -> None:
    """Make the module whose ``globals()`` is ``namespace`` resolve missing names from entry points.

    ``groups``: the entry-point groups to read (default: the module's own name). ``only``: the
    names this module offers from them, for submodules such as ``lit_core.callbacks.early_stopping``.
    """
    module_name = namespace["__name__"]
    group_names = tuple(groups) or (module_name,)
    offered = frozenset(only) if only is not None else None
    kernel = {n for n in namespace if not n.startswith("_")}

    def provided() -> dict[str, tuple[Claim, ...]]:
        merged: dict[str, dict[str, Claim]] = {}
        for group in group_names:
            for name, found in claims(group).items():
                if offered is None or name in offered:
                    for claim in found:
                        merged.setdefault(name, {}).setdefault(claim.distribution, claim)
        return {name: tuple(by_dist.values()) for name, by_dist in merged.items()}

    def checked() -> dict[str, tuple[Claim, ...]]:
        found = provided()
        clash = sorted(kernel & found.keys())
        if clash:  # lit-core's own names never reach __getattr__: report them at the first lazy lookup
            raise _conflict(module_name, clash[0], [c.distribution for c in found[clash[0]]] + ["lit-core"])
        return found

    def __getattr__(name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        found = checked().get(name)
        if found:
            if len(found) > 1:
                raise _conflict(module_name, name, [c.distribution for c in found])
            obj = found[0].load()
            namespace[name] = obj
            _RESOLVED.setdefault(module_name, set()).add(name)
            return obj
        if offered is None or name in offered:
            message = lightning_names.missing_message(module_name, group_names, name)
            if message is not None:
                raise NameNotInstalledError(message, name=module_name)
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        """What can be imported from here now: the kernel's names and those installed distributions declare."""
        return sorted(set(namespace) | set(checked()))

    namespace["__getattr__"] = __getattr__
    namespace["__dir__"] = __dir__


def _conflict(module_name: str, name: str, owners: list[str]) -> NameConflictError:
    return NameConflictError(
        f"{module_name}.{name} is claimed by {' and by '.join(owners)}: one name, one provider. "
        "Uninstall all but one of them (`pip uninstall ...`), or ask their authors to rename it."
    )


def imported_class(module_name: str, name: str) -> Any | None:
    """What ``name`` in the namespace ``module_name`` is, if its provider's module is imported already.

    ``None`` otherwise: no object can be an instance of a class whose module was never imported,
    so the Trainer can ask ``isinstance(cb, imported_class(...))`` about its callbacks without
    importing anything (an entry point naming a re-export, ``pkg:Cls``, counts once ``pkg`` is
    imported, which importing any of its submodules does).
    """
    module = sys.modules.get(module_name)
    if module is not None and name in module.__dict__:
        return module.__dict__[name]
    found = claims(module_name).get(name, ())
    if len(found) != 1 or found[0].entry_point.module not in sys.modules:
        return None
    return found[0].load()
