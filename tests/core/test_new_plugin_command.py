"""``lit new-plugin``, fast: names are validated, folders never overwritten, every kind renders a distribution
whose module imports and whose pyproject declares its entry point. (tests/e2e/test_new_plugin.py installs
each generated distribution and runs its tests.)"""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lit_core import commands, new_plugin
from lit_core.accelerators import Accelerator
from lit_core.callback import Callback
from lit_core.logger import Logger
from lit_core.plugin_api import PLUGIN_API_VERSION, Precision, Strategy

tomllib = pytest.importorskip("tomllib")

BASES = {"logger": Logger, "callback": Callback, "accelerator": Accelerator, "strategy": Strategy, "precision": Precision}


@pytest.mark.parametrize("kind", list(new_plugin.KINDS))
def test_each_kind_renders_a_distribution(kind, tmp_path, monkeypatch):
    folder = new_plugin.generate("my-thing", kind, tmp_path / "out")
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert files == ["CHANGELOG.md", "README.md", "pyproject.toml", "src/lit_my_thing/__init__.py", "src/lit_my_thing/py.typed",
                     "tests/test_my_thing.py"]
    cls = "MyThing" + new_plugin.KINDS[kind].suffix

    project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
    assert project["name"] == "lit-my-thing"
    assert project["dependencies"] == [new_plugin.lit_core_requirement()]
    assert project["entry-points"] == {new_plugin.KINDS[kind].group: {"my-thing": f"lit_my_thing:{cls}"}}

    # The module imports (its require_plugin_api passes) and its class is of the kind's base.
    monkeypatch.syspath_prepend(str(folder / "src"))
    module = importlib.import_module("lit_my_thing")
    try:
        assert module.__version__ == "0.1.0"
        assert issubclass(getattr(module, cls), BASES[kind])
        getattr(module, cls)()  # a name carries no arguments: the defaults must build one
    finally:
        sys.modules.pop("lit_my_thing", None)
    tests = (folder / "tests" / "test_my_thing.py").read_text()
    compile(tests, "test_my_thing.py", "exec")
    assert f"from lit_my_thing import {cls}" in tests and "lit_plugins" in tests
    assert f"({PLUGIN_API_VERSION[0]}, {PLUGIN_API_VERSION[1]})" in (folder / "src/lit_my_thing/__init__.py").read_text()
    assert "## 0.1.0" in (folder / "CHANGELOG.md").read_text()

    # Lint-clean as its author's project (its pyproject's ruff settings: lit_core is a third-party import there).
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    if ruff is not None:
        lint = subprocess.run([ruff, "check", "--no-cache", "--output-format", "concise", "."], cwd=folder,
                              capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout


@pytest.mark.parametrize("name", ["Jsonl", "json lines", "2fast", "a--b", "x_", "über", ""])
def test_invalid_names_are_refused_with_a_fix(name):
    with pytest.raises(ValueError, match="lower-case letters and digits"):
        new_plugin.validate(name, "logger")


@pytest.mark.parametrize("name", ["core", "lit-jsonl", "lit_x", "class"])
def test_names_lit_owns_are_refused(name):
    with pytest.raises(ValueError, match="Name the plugin for what it does"):
        new_plugin.validate(name, "logger")


def test_kind_and_distribution_are_validated():
    with pytest.raises(ValueError, match="--kind 'loggers' is not a plugin kind: use one of logger, callback"):
        new_plugin.validate("jsonl", "loggers")
    with pytest.raises(ValueError, match="not 'lit'"):
        new_plugin.validate("jsonl", "logger", distribution="lit")
    with pytest.raises(ValueError, match="not a valid distribution name"):
        new_plugin.validate("jsonl", "logger", distribution="acme jsonl")
    spec = new_plugin.validate("json_lines", "logger", distribution="acme-lit-jsonl")
    assert (spec.distribution, spec.package, spec.class_name) == ("acme-lit-jsonl", "lit_json_lines", "JsonLinesLogger")
    assert new_plugin.validate("json_lines", "logger").distribution == "lit-json-lines"


def test_never_overwrites_a_folder(tmp_path):
    target = tmp_path / "lit-jsonl"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="never overwrites"):
        new_plugin.generate("jsonl", "logger", target)
    assert [p.name for p in target.iterdir()] == ["notes.txt"]
    (tmp_path / "a-file").write_text("")
    with pytest.raises(FileExistsError):
        new_plugin.generate("jsonl", "logger", tmp_path / "a-file")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert (new_plugin.generate("jsonl", "logger", empty) / "pyproject.toml").exists()


def test_lit_core_requirement_spans_the_major_version():
    assert new_plugin.lit_core_requirement("0.1.0") == "lit-core>=0.1,<1"
    assert new_plugin.lit_core_requirement("2.3.1") == "lit-core>=2.3,<3"


def test_the_lit_command(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert commands.main(["new-plugin", "jsonl", "--kind", "logger"]) == 0
    out = capsys.readouterr().out
    assert "Wrote lit-jsonl (logger 'jsonl', class lit_jsonl.JsonlLogger) in lit-jsonl." in out
    assert (tmp_path / "lit-jsonl" / "src" / "lit_jsonl" / "__init__.py").exists()
    assert commands.main(["new-plugin", "jsonl", "--kind", "logger"]) == 2
    assert "lit-jsonl already exists and is not an empty folder" in capsys.readouterr().err
    assert commands.main(["new-plugin", "Bad Name", "--kind", "callback", "--dir", str(tmp_path / "x")]) == 2
    assert 'Trainer(callbacks=["bad-name"])' in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
