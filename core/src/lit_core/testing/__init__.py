"""``lit_core.testing``: a pytest plugin for lit plugin authors.

Activate it with ``pytest -p lit_core.testing`` (lit-core also declares it as a ``pytest11``
entry point, so installed lit-core makes it available; it does nothing until a test uses it:
no hooks, no autouse fixtures). It gives:

- the ``lit_plugins`` fixture: a ``PluginRegistry`` for one test, where a plugin registered
  with ``lit_plugins.register(kind, name, cls)`` is found by name (``Trainer(logger=name)``,
  ``plugins=[name]``...) as if a distribution declared it, without installing anything;
  ``lit_plugins.hide_installed()`` hides every installed plugin but lit-core's built-ins;
- conformance suites, one per kind of plugin: base test classes a plugin's tests subclass
  with a few lines (``LoggerConformance``, ...). docs/testing_plugins.rst shows each.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .accelerator_suite import AcceleratorConformance
from .callback_suite import CallbackConformance
from .logger_suite import LoggedRun, LoggerConformance
from .plugins import MemoryDistribution, PluginRegistry
from .precision_suite import PrecisionConformance
from .strategy_suite import StrategyConformance


@pytest.fixture
def lit_plugins() -> Iterator[PluginRegistry]:
    """A plugin registry of this test's own: plugins registered by name (``hide_installed()``: only these and lit-core's), all forgotten afterwards."""
    with PluginRegistry() as plugins:
        yield plugins


__all__ = [
    "AcceleratorConformance",
    "CallbackConformance",
    "LoggedRun",
    "LoggerConformance",
    "MemoryDistribution",
    "PluginRegistry",
    "PrecisionConformance",
    "StrategyConformance",
    "lit_plugins",
]
