"""What every conformance suite shares: the plugin under test registered by name in an isolated registry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from .. import registry
from .plugins import PluginRegistry


class Conformance:
    """Base of the per-kind suites: each test runs with only lit-core's built-ins and ``plugin`` discoverable.

    Subclass a kind's suite in a class named ``Test...`` and set:

    - ``plugin``: the plugin's class;
    - ``name``: its entry-point name (what users type). When lit-core or a distribution in
      ``keep_installed`` declares it, that real entry point is tested; otherwise the suite
      registers ``plugin`` under it for each test;
    - ``keep_installed``: installed distributions the plugin needs besides lit-core (they stay
      discoverable; every other installed plugin is hidden so it cannot change the result).
    """

    kind: ClassVar[str]
    plugin: ClassVar[Any]
    name: ClassVar[str] = "under-test"
    keep_installed: ClassVar[tuple[str, ...]] = ()

    @pytest.fixture(autouse=True)
    def lit_registry(self) -> Iterator[PluginRegistry]:
        """The isolated registry of this test, with ``plugin`` registered as ``name``."""
        with PluginRegistry(hide_installed=True, keep=self.keep_installed) as plugins:
            entry = registry.installed(self.kind).get(self.name)
            if entry is None:
                plugins.register(self.kind, self.name, type(self).plugin)
            else:  # declared by lit-core or a kept distribution: its real entry point is tested
                assert entry.load() is type(self).plugin, (
                    f"The installed {self.kind} {self.name!r} ({entry.label}) is not {type(self).plugin!r}: set `name` to "
                    "the plugin's entry-point name, or to a name nothing installed uses.")
            yield plugins

    def test_unavailable_reason_asked_on_the_class(self) -> None:
        """``unavailable_reason()``, where defined, answers on the class (``lit plugins`` and ``"auto"`` ask before any instance exists)."""
        ask = getattr(type(self).plugin, "unavailable_reason", None)
        if ask is None:
            pytest.skip("the plugin defines no unavailable_reason()")
        reason = ask()
        assert reason is None or (isinstance(reason, str) and reason), (
            f"{type(self).plugin.__qualname__}.unavailable_reason() returned {reason!r}: None (available) or a non-empty "
            "message saying why not and how to fix it.")
