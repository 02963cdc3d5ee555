"""The plugin API (``lit_core.plugin_api``): what plugins import, its version, and ``py.typed``.

First-party plugins are written against the plugin API only, like a third party's: every
``lit_core`` import in ``plugins/*/src`` and ``contrib/*/src`` is ``import lit_core as lit``
(the Lightning user API, ``lit_core.__all__``) or ``from lit_core.plugin_api import ...``.
``API_NAMES`` is the reviewed list of the API's names: adding or removing one is a deliberate
change that updates it (and ``PLUGIN_API_VERSION``, see docs/plugins.rst "The plugin API").
"""

from __future__ import annotations

import ast
import re
import sys
import types
from pathlib import Path

import pytest

import lit_core
from lit_core import plugin_api, registry
from lit_core.exceptions import MisconfigurationException, PluginError
from lit_core.plugin_api import PLUGIN_API_VERSION, require_plugin_api

REPO = Path(__file__).resolve().parents[2]
PLUGIN_SOURCES = sorted([*REPO.glob("plugins/*/src"), *REPO.glob("contrib/*/src")])
DISTRIBUTIONS = sorted([REPO / "core", *REPO.glob("plugins/*/"), *REPO.glob("contrib/*/")])
DISTRIBUTIONS = [d for d in DISTRIBUTIONS if (d / "pyproject.toml").is_file()]

API_NAMES = [
    "Accelerator",
    "Callback",
    "Checkpoint",
    "ClusterEnvironment",
    "DistributedBatchSamplerWrapper",
    "DistributedSamplerWrapper",
    "ExitStage",
    "FolderLogger",
    "LRSchedulerConfig",
    "LightningDataModule",
    "LightningModule",
    "Logger",
    "MisconfigurationException",
    "MisconfigurationTypeError",
    "MisconfigurationValueError",
    "PLUGIN_API_VERSION",
    "PluginError",
    "Precision",
    "ProgressBar",
    "RunningStage",
    "ShardedLoaders",
    "StepForward",
    "Strategy",
    "Trainer",
    "TrainerFn",
    "Trial",
    "TruePrecision",
    "checkpoint_files",
    "dataloaders_given",
    "default_model_summary",
    "grad_norm",
    "hookimpl",
    "lineage",
    "load_checkpoint",
    "move_data_to_cpu",
    "move_data_to_device",
    "no_checkpoints_to_log",
    "plain_data",
    "rank_zero_deprecation",
    "rank_zero_info",
    "rank_zero_only",
    "rank_zero_warn",
    "reload_dataloaders",
    "require_plugin_api",
    "result_payload",
    "shard",
    "take_back",
    "with_callbacks",
]


def forbidden_uses(source: str, filename: str = "<source>") -> list[str]:
    """The ``lit_core`` imports and ``lit.<name>`` accesses in ``source`` outside the plugin API."""
    tree = ast.parse(source, filename)
    problems: list[str] = []
    aliases: set[str] = set()  # the names ``import lit_core [as x]`` binds
    for node in ast.walk(tree):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "lit_core":
                    aliases.add(alias.asname or "lit_core")
                elif alias.name.startswith("lit_core.") and alias.name != "lit_core.plugin_api":
                    problems.append(f"{where}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "lit_core":
            names = [alias.name for alias in node.names]
            if node.module != "lit_core.plugin_api":
                problems.append(f"{where}: from {node.module} import {', '.join(names)}")
            else:
                problems += [f"{where}: {name} is not in lit_core.plugin_api.__all__" for name in names
                             if name not in plugin_api.__all__]
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                and node.attr not in {*lit_core.__all__, "plugin_api"}):
            problems.append(f"{filename}:{node.lineno}: {node.value.id}.{node.attr} is not in lit_core.__all__")
    return problems


def test_first_party_plugins_import_only_the_plugin_api():
    files = [path for src in PLUGIN_SOURCES for path in sorted(src.rglob("*.py"))]
    assert len(PLUGIN_SOURCES) >= 11 and len(files) > 50  # every first-party distribution was scanned
    problems = [p for path in files for p in forbidden_uses(path.read_text(encoding="utf-8"), str(path.relative_to(REPO)))]
    assert not problems, (
        "First-party plugins import from lit_core only `lit_core.plugin_api` (and `import lit_core as lit` for "
        "the names of lit_core.__all__); add the name to the plugin API or stop needing it:\n" + "\n".join(problems)
    )


def test_the_import_scan_finds_what_is_outside_the_api():
    source = (
        "import lit_core as lit\nimport lit_core.trainer\nfrom lit_core.trainer import TrainerFn\n"
        "from lit_core import Callback\nfrom lit_core.plugin_api import Strategy, _private\n"
        "x: lit.Trainer = lit.callbacks.ModelCheckpoint\n"
    )
    assert forbidden_uses(source, "p.py") == [
        "p.py:2: import lit_core.trainer",
        "p.py:3: from lit_core.trainer import TrainerFn",
        "p.py:4: from lit_core import Callback",
        "p.py:5: _private is not in lit_core.plugin_api.__all__",
        "p.py:6: lit.callbacks is not in lit_core.__all__",
    ]


def test_every_plugin_api_name_resolves_to_lit_core():
    assert len(set(plugin_api.__all__)) == len(plugin_api.__all__)
    for name in plugin_api.__all__:
        value = getattr(plugin_api, name)  # every name resolves
        if isinstance(value, types.ModuleType):
            assert value.__name__.startswith("lit_core."), name
        elif isinstance(value, (type, types.FunctionType)):  # re-exported from lit-core's own modules
            assert value.__module__.startswith("lit_core."), (name, value.__module__)
    # Lightning user API objects are the same objects as lit_core's: one class, two ways to import it
    for name in ("Callback", "LightningDataModule", "LightningModule", "Logger", "Trainer", "hookimpl", "rank_zero_only"):
        assert getattr(plugin_api, name) is getattr(lit_core, name)


def test_plugin_api_names_are_a_reviewed_list():
    assert sorted(plugin_api.__all__) == API_NAMES, (
        "lit_core.plugin_api.__all__ changed: update API_NAMES in this test, PLUGIN_API_VERSION (an addition "
        "bumps the minor) and docs/plugins.rst; a removal needs a deprecation period first."
    )


def test_plugin_api_version_and_require_plugin_api():
    major, minor = PLUGIN_API_VERSION
    assert all(type(v) is int for v in PLUGIN_API_VERSION)
    assert require_plugin_api((major, 0)) is None
    assert require_plugin_api((major, minor)) is None

    with pytest.raises(PluginError, match=rf"needs lit-core's plugin API {major}\.{minor + 1} .*provides plugin API {major}\.{minor}\. Upgrade lit-core") as newer:
        require_plugin_api((major, minor + 1))
    assert isinstance(newer.value, MisconfigurationException)
    assert lit_core.__version__ in str(newer.value)
    with pytest.raises(PluginError, match=rf"needs lit-core's plugin API {major + 1}\.0 .*provides plugin API {major}\.{minor}"):
        require_plugin_api((major + 1, 0))
    with pytest.raises(PluginError, match=rf"plugin API {major - 1}\.0 .*provides plugin API {major}\.{minor}\. Install a version of this plugin made for plugin API {major}\.x"):
        require_plugin_api((major - 1, 0))
    for bad in ("1.0", (1,), (1, "0"), [1, 0], (1.0, 0)):
        with pytest.raises(TypeError, match=r"\(major, minor\) tuple of ints.*got " + re.escape(repr(bad))):
            require_plugin_api(bad)  # type: ignore[arg-type]


def _wheel_packages(distribution: Path) -> list[str]:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    config = tomllib.loads((distribution / "pyproject.toml").read_text(encoding="utf-8"))
    return config["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]


def test_every_distribution_ships_py_typed():
    assert len(DISTRIBUTIONS) >= 12  # lit-core, ten plugins, lit-rich
    missing = []
    for distribution in DISTRIBUTIONS:
        packages = _wheel_packages(distribution)
        assert packages, distribution
        # hatchling puts every file of these folders in the wheel, py.typed included
        missing += [f"{distribution.relative_to(REPO)}/{package}" for package in packages
                    if not (distribution / package / "py.typed").is_file()]
    assert not missing, f"no py.typed marker (PEP 561) in: {', '.join(missing)}; add an empty py.typed file there"


def test_plugin_needing_a_newer_api_fails_naming_its_distribution(tmp_path, monkeypatch):
    """``require_plugin_api`` at the top of a plugin's module: selecting it names the distribution and both versions."""
    major, minor = PLUGIN_API_VERSION
    (tmp_path / "lit_newer.py").write_text(
        "from lit_core.plugin_api import Logger, require_plugin_api\n"
        f"require_plugin_api(({major}, {minor + 5}))\n"
        "class NewerLogger(Logger):\n    pass\n"
    )
    info = tmp_path / "lit_newer-2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lit-newer\nVersion: 2.0\n")
    (info / "entry_points.txt").write_text("[lit.loggers]\nnewer = lit_newer:NewerLogger\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.refresh()
    try:
        with pytest.raises(PluginError, match=r"'newer' .*from distribution lit-newer 2\.0 failed to import") as failure:
            lit_core.Trainer(logger="newer", default_root_dir=tmp_path)
    finally:
        registry.refresh()
        sys.modules.pop("lit_newer", None)
    cause = failure.value.__cause__
    assert isinstance(cause, PluginError)
    assert f"plugin API {major}.{minor + 5}" in str(cause) and f"provides plugin API {major}.{minor}" in str(cause)


def test_every_distribution_has_a_changelog_for_its_version():
    """Each distribution keeps a CHANGELOG.md whose newest section is the version it declares."""
    problems = []
    for distribution in DISTRIBUTIONS:
        (package,) = _wheel_packages(distribution)
        version = re.search(r'__version__ = "([^"]+)"', (distribution / package / "__init__.py").read_text(encoding="utf-8")).group(1)
        changelog = distribution / "CHANGELOG.md"
        if not changelog.is_file():
            problems.append(f"{distribution.relative_to(REPO)}: no CHANGELOG.md")
            continue
        sections = re.findall(r"^## (\S+)", changelog.read_text(encoding="utf-8"), re.MULTILINE)
        if not sections or sections[0] != version:
            problems.append(f"{changelog.relative_to(REPO)}: newest section {sections[:1]} but the distribution is {version}")
    assert not problems, "; ".join(problems)
