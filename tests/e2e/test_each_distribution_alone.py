"""Each plugin distribution proven alone (issue 16): its wheel, lit-core's and its declared dependencies
only, in a fresh venv, pass the plugin's own tests (``tests/each_alone.py`` does the work).

Catches a plugin, or its tests, relying on a distribution it does not declare: the development venv
has every distribution installed, so there such an import always works.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
HELPER = REPO / "tests" / "each_alone.py"
FOLDERS = sorted(str(p.parent.relative_to(REPO)) for p in [*REPO.glob("plugins/*/pyproject.toml"), *REPO.glob("contrib/*/pyproject.toml")])

pytestmark = pytest.mark.slow


def load_helper() -> Any:
    spec = importlib.util.spec_from_file_location("each_alone", HELPER)
    module = importlib.util.module_from_spec(spec)
    sys.modules["each_alone"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def alone(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every plugin alone, two at a time (the helper's command line, as CI runs it): results by folder."""
    work = tmp_path_factory.mktemp("alone")
    out = work / "results.json"
    run = subprocess.run([sys.executable, str(HELPER), "--work", str(work), "--json", str(out), "--jobs", "2"],
                         capture_output=True, text=True, timeout=1800)
    assert out.exists(), f"tests/each_alone.py stopped early (exit code {run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
    report = json.loads(out.read_text())
    print(run.stdout[-3000:])
    return {r["folder"]: r | {"work": work} for r in report["results"]}


@pytest.mark.parametrize("folder", FOLDERS)
def test_plugin_alone_passes_its_own_tests(alone: dict[str, Any], folder: str) -> None:
    result = alone[folder]
    assert result["ok"], f"{result['name']} alone failed at {result['stage']} (log: {result['log']}):\n{result['summary']}"
    helper = load_helper()
    wheels = {helper.canonicalize_name(w.name.split("-")[0]): w for w in (result["work"] / "wheels").glob("*.whl")}
    installed = {helper.canonicalize_name(line.split("==")[0].split(" @ ")[0]) for line in result["installed"]}
    first_party = installed & wheels.keys()
    declared, _ = helper.declared(result["name"], wheels)
    assert first_party == {helper.canonicalize_name(w.name.split("-")[0]) for w in declared}, "only what it declares"


def test_the_closure_follows_the_test_extra_and_nothing_else(alone: dict[str, Any]) -> None:
    helper = load_helper()
    wheels = {helper.canonicalize_name(w.name.split("-")[0]): w for w in (alone["plugins/wandb"]["work"] / "wheels").glob("*.whl")}
    first, third = helper.declared("lit-wandb", wheels)
    assert {w.name.split("-")[0] for w in first} == {"lit_wandb", "lit_core", "lit_checkpoint"}
    assert [r for r in third if r.startswith("wandb")] == ["wandb>=0.15"] and not [r for r in third if r.startswith("lit")]
    first, third = helper.declared("lit-tqdm", wheels)
    assert {w.name.split("-")[0] for w in first} == {"lit_tqdm", "lit_core"}


def test_an_undeclared_first_party_import_fails_alone(alone: dict[str, Any], tmp_path: Path) -> None:
    """The step can fail: lit-tqdm's tests importing lit-checkpoint, which lit-tqdm does not declare."""
    helper = load_helper()
    work = alone["plugins/tqdm"]["work"]
    wheels = {helper.canonicalize_name(w.name.split("-")[0]): w for w in (work / "wheels").glob("*.whl")}
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_uses_checkpoint.py").write_text(textwrap.dedent("""
        import lit_tqdm

        def test_checkpoint():
            from lit_checkpoint import ModelCheckpoint
            assert lit_tqdm.TQDMProgressBar and ModelCheckpoint
    """))
    plugin = helper.Plugin("lit-tqdm", REPO / "plugins" / "tqdm", tests)
    result = helper.run_alone(plugin, wheels, helper.base_venv(), tmp_path / "work", [])
    assert not result.ok and result.stage == "test"
    assert "No module named 'lit_checkpoint'" in Path(result.log).read_text() and "1 failed" in result.summary
