"""What every conformance suite shares: the plugin under test registered by name in an isolated registry."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch

from .. import registry
from .models import TinyModel, quiet_trainer
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


def same_state(a: Any, b: Any) -> bool:
    """Equal, with tensors compared by value and containers element by element (checkpointed states)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_state(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_state(x, y) for x, y in zip(a, b))
    return bool(a == b)


def run_whole_and_resumed(tmp_path: Path, flags: Callable[[], dict[str, Any]], steps: int, resume_at: int) -> None:
    """Train ``steps`` steps twice under ``tmp_path/run``, with fresh ``flags()`` for each Trainer: uninterrupted,
    then stopped at ``resume_at``, checkpointed and resumed; assert that both end with the same weights.

    Both runs write in the same folder (the first one's files removed in between) so file
    paths kept in plugin states compare equal.
    """
    root = tmp_path / "run"
    whole = TinyModel()
    quiet_trainer(root, max_steps=steps, max_epochs=-1, **flags()).fit(whole)
    shutil.rmtree(root, ignore_errors=True)
    first = quiet_trainer(root, max_steps=resume_at, max_epochs=-1, **flags())
    first.fit(TinyModel())
    path = tmp_path / "interrupted.ckpt"
    first.save_checkpoint(path)
    resumed = TinyModel()
    quiet_trainer(root, max_steps=steps, max_epochs=-1, **flags()).fit(resumed, ckpt_path=str(path))
    assert [s for s, _ in resumed.losses] == list(range(resume_at, steps)), f"the resumed run trained steps {resumed.losses}"
    for name, value in whole.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[name]), f"resumed weights differ from the uninterrupted run's: {name}"


def skip_unless_available(kind: str, name: str) -> None:
    """Skip the calling check when the ``kind`` plugin ``name`` is not installed, or cannot run here (its ``unavailable_reason()``)."""
    if name not in registry.installed(kind):
        pytest.skip(f"{kind}={name!r} is not installed here")
    reason = registry.load(kind, name).unavailable_reason()
    if reason is not None:
        pytest.skip(f"{kind}={name!r} cannot run here: {reason}")
