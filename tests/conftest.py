"""Fixtures shared by the whole suite: a scratch folder, a tiny model, random loaders, a quiet
Trainer, and a throwaway plugin that records hook calls.

The model and the loaders are reached through fixtures (``boring_model``, ``random_loader``)
because ``tests/`` is not a package: subclass ``boring_model`` inside a test to override a step
or a hook.
"""

from __future__ import annotations

import inspect
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

import lit_core as lit
from lit_core import hookspecs

# The plugin-author kit's fixture (lit_plugins), loaded as a plugin author loads it.
pytest_plugins = ["lit_core.testing"]

FEATURES = 4


def make_loader(n: int = 8, batch_size: int = 2, features: int = FEATURES, seed: int = 0) -> DataLoader:
    """``n`` random ``(x, y)`` pairs (``x``: ``features`` floats, ``y``: one float), not shuffled."""
    g = torch.Generator().manual_seed(seed)
    return DataLoader(TensorDataset(torch.randn(n, features, generator=g), torch.randn(n, 1, generator=g)), batch_size=batch_size)


class BoringModel(lit.LightningModule):
    """A linear regression with every step, SGD, and 4 batches of 2 in each of its loaders."""

    def __init__(self, features: int = FEATURES) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):  # the same weights every time, the global RNG untouched
            torch.manual_seed(0)
            self.layer = nn.Linear(features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x)

    def loss(self, batch: Any) -> torch.Tensor:
        x, y = batch
        return F.mse_loss(self(x), y)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self.loss(batch)

    def validation_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = self.loss(batch)
        self.log("val_loss", loss)
        return loss

    def test_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = self.loss(batch)
        self.log("test_loss", loss)
        return loss

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        return self(batch[0])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def train_dataloader(self) -> DataLoader:
        return make_loader(seed=1)

    def val_dataloader(self) -> DataLoader:
        return make_loader(seed=2)

    def test_dataloader(self) -> DataLoader:
        return make_loader(seed=3)

    def predict_dataloader(self) -> DataLoader:
        return make_loader(seed=4)


@pytest.fixture
def tmp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch folder that is also the working directory, so nothing lands in the repository."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def boring_model() -> type[BoringModel]:
    """The ``BoringModel`` class: instantiate it, or subclass it to override a step or hook."""
    return BoringModel


@pytest.fixture
def random_loader() -> Callable[..., DataLoader]:
    """``random_loader(n=8, batch_size=2, features=4, seed=0)``: a deterministic random loader."""
    return make_loader


@pytest.fixture
def make_trainer(tmp_root: Path) -> Callable[..., lit.Trainer]:
    """``make_trainer(**flags)``: a quiet one-epoch Trainer writing under ``tmp_root``.

    No logger, progress bar, checkpointing or model summary unless the flags ask for them, so
    plugins installed in the environment do not change what a test sees; and the CPU unless a
    flag names the accelerator, so the tests mean the same on a machine with a GPU (where
    ``accelerator="auto"`` would pick it).
    """

    def make(**flags: Any) -> lit.Trainer:
        defaults: dict[str, Any] = {
            "default_root_dir": tmp_root,
            "max_epochs": 1,
            "logger": False,
            "enable_progress_bar": False,
            "enable_checkpointing": False,
            "enable_model_summary": False,
        }
        if not {"accelerator", "gpus", "tpu_cores"} & flags.keys():
            defaults["accelerator"] = "cpu"
        return lit.Trainer(**{**defaults, **flags})

    return make


class Recorder:
    """A plugin implementing the given hooks; each call is kept as ``(hook name, kwargs)``."""

    def __init__(self, hooks: tuple[str, ...]) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        for name in hooks:
            setattr(self, name, _recording_impl(name, self.calls))

    @property
    def names(self) -> list[str]:
        """The hook names in call order."""
        return [name for name, _ in self.calls]

    def of(self, hook: str) -> list[dict[str, Any]]:
        """The keyword arguments of every call of ``hook``, in order."""
        return [kwargs for name, kwargs in self.calls if name == hook]


#: Hooks where every implementation is called (event hooks and broadcast service hooks).
BROADCAST_HOOKS = tuple(
    name for name, spec in vars(hookspecs).items()
    if name.startswith("lit_") and callable(spec) and not spec.lit_spec.get("firstresult")
)


def _recording_impl(name: str, calls: list[tuple[str, dict[str, Any]]]) -> Callable[..., None]:
    # pluggy reads argument names from the code object, so the function is compiled with the
    # hookspec's own names (as lit's adapter does).
    names = list(inspect.signature(getattr(hookspecs, name)).parameters)
    body = ", ".join(f"{n!r}: {n}" for n in names)
    source = f"def {name}({', '.join(names)}):\n    _calls.append(({name!r}, {{{body}}}))\n"
    namespace: dict[str, Any] = {"_calls": calls}
    exec(compile(source, f"<recording {name}>", "exec"), namespace)
    return lit.hookimpl(namespace[name])


@pytest.fixture
def recording_plugin() -> Iterator[Callable[..., Recorder]]:
    """``recording_plugin(trainer, *hooks)``: register a ``Recorder`` on ``trainer``.

    With no hook names it records every event hook and broadcast hook. Registered after the
    Trainer is built (so ``lit_init_*`` are not seen) and unregistered when the test ends.
    """
    registered: list[tuple[lit.Trainer, Recorder]] = []

    def register(trainer: lit.Trainer, *hooks: str) -> Recorder:
        recorder = Recorder(hooks or BROADCAST_HOOKS)
        trainer.plugin_manager.register(recorder, f"test-recorder-{len(registered)}")
        registered.append((trainer, recorder))
        return recorder

    yield register
    for trainer, recorder in registered:
        if trainer.plugin_manager.is_registered(recorder):
            trainer.plugin_manager.unregister(recorder)


@pytest.fixture
def hide_distribution(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """``hide_distribution("lit-cuda")``: entry-point discovery as if that distribution were not installed."""
    from lit_core import registry

    def hide(distribution: str) -> None:
        shown = registry.installed

        def installed(kind: str) -> dict[str, registry.PluginEntry]:
            return {name: entry for name, entry in shown(kind).items() if entry.distribution != distribution}

        monkeypatch.setattr(registry, "installed", installed)
        claimed = registry.role_claims  # its role claims too: a service role names no plugin to filter by
        monkeypatch.setattr(registry, "role_claims", lambda: tuple(c for c in claimed() if c.distribution != distribution))

    return hide


@pytest.fixture
def run_in_tmux() -> Callable[..., str]:
    """``run_in_tmux(script, name, timeout=60)``: run ``script`` in a detached 200x50 tmux session
    and return the pane's text once it printed FIT DONE (or an error). Skips without tmux."""
    tmux = shutil.which("tmux")
    if tmux is None:
        pytest.skip("tmux is not installed")

    def run(script: Path, name: str, timeout: float = 60.0) -> str:
        socket = f"lit-{name}-{os.getpid()}"
        base = [tmux, "-L", socket]
        try:
            subprocess.run([*base, "new-session", "-d", "-s", name, "-x", "200", "-y", "50",
                            f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}; sleep 30"], check=True, cwd=script.parent)
            deadline = time.monotonic() + timeout
            pane = ""
            while time.monotonic() < deadline:
                pane = subprocess.run([*base, "capture-pane", "-p", "-t", name], capture_output=True, text=True).stdout
                if "FIT DONE" in pane or "Error" in pane:
                    return pane
                time.sleep(0.3)
            return pane
        finally:
            subprocess.run([*base, "kill-server"], capture_output=True)

    return run


@pytest.fixture(autouse=True)
def _no_seed_leaks() -> Iterator[None]:
    """``seed_everything`` exports ``PL_GLOBAL_SEED`` (as Lightning does, for the processes a run
    starts); put it back after each test so a later test's subprocesses do not inherit it."""
    saved = {name: os.environ.get(name) for name in ("PL_GLOBAL_SEED", "PL_SEED_WORKERS")}
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def install_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Path]]:
    """``install_distribution(name, modules, entry_points, version=..., site=...)``: a real installed distribution.

    Writes the modules and ``<name>-<version>.dist-info`` into ``site`` (a new folder on
    ``sys.path`` unless given), and forgets the discovered plugins and the imported modules after.
    ``importlib.metadata`` finds it as it finds a pip-installed one.
    """
    from lit_core import registry

    imported: list[str] = []

    def make(name: str, modules: dict[str, str], entry_points: dict[str, dict[str, str]], version: str = "1.0",
             site: Path | None = None) -> Path:
        if site is None:
            site = tmp_path / f"site-{name}"
            site.mkdir()
            monkeypatch.syspath_prepend(str(site))
        for module, source in modules.items():
            (site / f"{module}.py").write_text(textwrap.dedent(source))
            imported.append(module)
        info = site / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        lines = []
        for group, entries in entry_points.items():
            lines += [f"[{group}]", *(f"{ep} = {target}" for ep, target in entries.items())]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        registry.refresh()
        return site

    yield make
    for module in imported:
        sys.modules.pop(module, None)
    registry.refresh()
