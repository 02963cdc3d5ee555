"""``lit_core.demos`` is Lightning's path to lit-demos: resolved lazily, and a clear error without it."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import textwrap

import pytest

import lit_demos
from lit_core import lightning_names, namespace

#: Lightning's submodule paths under ``demos`` and names programs import from them.
SUBMODULES = {
    "lit_core.demos.boring_classes": ("BoringModel", "BoringDataModule", "DemoModel", "RandomDataset", "Net"),
    "lit_core.demos.mnist_datamodule": ("MNIST", "MNISTDataModule"),
    "lit_core.demos.transformer": ("Transformer", "WikiText2", "LightningTransformer", "tokenize"),
    "lit_core.demos.lstm": ("LightningLSTM", "SimpleLSTM", "SequenceSampler"),
}


def test_importing_the_demos_namespace_imports_no_demo_until_a_name_is_used():
    script = textwrap.dedent("""
        import sys
        import lit_core as pl
        import lit_core.demos, lit_core.demos.boring_classes, lit_core.demos.mnist_datamodule
        import lit_core.demos.transformer, lit_core.demos.lstm
        print(sorted(m for m in sys.modules if m.startswith("lit_demos")))
        from lit_core.demos.boring_classes import BoringModel
        print(BoringModel.__module__, pl.demos.MNISTDataModule.__module__)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == ["[]", "lit_demos.boring_classes lit_demos.mnist_datamodule"]


@pytest.mark.parametrize("module", sorted(SUBMODULES))
def test_every_lightning_demos_path_resolves_to_the_lit_demos_object(module):
    found = importlib.import_module(module)
    for name in SUBMODULES[module]:
        assert getattr(found, name) is getattr(importlib.import_module(f"lit_demos.{module.rsplit('.', 1)[1]}"), name)
        assert getattr(importlib.import_module("lit_core.demos"), name) is getattr(found, name)
    assert set(lit_demos.__all__) - {"__version__"} <= set(dir(importlib.import_module("lit_core.demos")))


def test_a_submodule_offers_only_its_own_names():
    with pytest.raises(ImportError):
        from lit_core.demos.lstm import BoringModel  # noqa: F401


@pytest.fixture
def without_lit_demos(monkeypatch):
    """The namespaces see the entry points as if lit-demos were not installed."""
    shown = namespace.claims
    namespace.refresh()

    def claims(group):
        return {n: tuple(c for c in cs if c.distribution != "lit-demos") for n, cs in shown(group).items()}

    monkeypatch.setattr(namespace, "claims", claims)
    monkeypatch.setattr(lightning_names, "_installed", lambda dist: dist != "lit-demos")
    yield
    monkeypatch.undo()
    namespace.refresh()


def test_without_lit_demos_a_demo_name_is_an_import_error_naming_it(without_lit_demos):
    with pytest.raises(ImportError, match=re.escape("BoringModel is in lit-demos: pip install lit-demos")):
        from lit_core.demos import BoringModel  # noqa: F401
    with pytest.raises(ImportError, match=re.escape("MNISTDataModule is in lit-demos: pip install lit-demos")):
        from lit_core.demos.mnist_datamodule import MNISTDataModule  # noqa: F401
    assert "BoringModel" not in dir(importlib.import_module("lit_core.demos"))
