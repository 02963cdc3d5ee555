"""The kernel names no plugin: what it uses by default comes from the distributions' roles.

Every string literal in ``core/src`` code (docstrings and comments are prose, not code) that
equals a first-party plugin name fails, except in ``lit_core/first_party.py``, the one table of
first-party names for install hints. That table must match the first-party distributions'
``pyproject.toml`` files, so a hint never names something the distribution does not provide.
"""

from __future__ import annotations

import ast
import importlib.metadata
from pathlib import Path

import pytest

from lit_core import first_party, registry, roles

REPO = Path(__file__).resolve().parents[2]
CORE = REPO / "core" / "src" / "lit_core"

#: The entry-point groups whose names are plugin names. ``lit.precision`` is left out: its names
#: (``"16-mixed"``, ...) are the values of Lightning's ``precision=`` flag, which the kernel
#: normalizes (``precision=16`` means ``"16-mixed"``) whoever provides them.
PLUGIN_GROUPS = ("lit.accelerators", "lit.strategies", "lit.loggers", "lit.callbacks")

#: Literals that equal a plugin name and mean something else, with why (file, value): count.
NOT_PLUGIN_NAMES: dict[tuple[str, str], int] = {
    # (none left: builtins/adapters.py reads on_save_checkpoint(checkpoint)'s argument names from the hookspecs)
}


def plugin_names() -> set[str]:
    return {name for group in PLUGIN_GROUPS for name, _ in first_party.names(group)}


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                found.add(id(first.value))
            # an attribute docstring (a string right after an assignment) is prose too
            for before, after in zip(node.body, node.body[1:]):
                if isinstance(before, (ast.Assign, ast.AnnAssign)) and isinstance(after, ast.Expr) \
                        and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str):
                    found.add(id(after.value))
    return found


def _torch_device_types(tree: ast.AST) -> set[int]:
    """``x.type == "cuda"``: torch's device-type vocabulary (``torch.device.type``), not a plugin name."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Attribute) and node.left.attr == "type":
            found.update(id(c) for c in node.comparators if isinstance(c, ast.Constant))
    return found


def plugin_name_literals(root: Path, names: set[str]) -> list[tuple[str, int, str]]:
    """``(path, line, value)`` of each string literal in ``root``'s code that equals one of ``names``."""
    hits = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if relative == "first_party.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        prose = _docstrings(tree) | _torch_device_types(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names and id(node) not in prose:
                hits.append((relative, node.lineno, node.value))
    return hits


def test_core_code_names_no_first_party_plugin():
    hits = plugin_name_literals(CORE, plugin_names())
    counts: dict[tuple[str, str], int] = {}
    for relative, _, value in hits:
        counts[relative, value] = counts.get((relative, value), 0) + 1
    unexpected = [hit for hit in hits if (hit[0], hit[2]) not in NOT_PLUGIN_NAMES]
    assert not unexpected, (
        "lit-core code names first-party plugins (ask lit_core.roles for a role instead, or put an install hint "
        f"in lit_core/first_party.py): {unexpected}"
    )
    assert counts == NOT_PLUGIN_NAMES, "the documented exceptions changed: update NOT_PLUGIN_NAMES and say why"


def test_the_check_finds_a_plugin_name(tmp_path):
    """The scan sees literals in code, and only there: a docstring, a comment and a device type pass."""
    (tmp_path / "kernel.py").write_text(
        '"""Uses "tqdm" when installed."""\n'
        "# the default is tqdm\n"
        "def pick(device):\n"
        '    """Return "tqdm"."""\n'
        '    on_gpu = device.type == "cuda"\n'
        '    return "tqdm" if on_gpu else f"{device}"\n'
    )
    assert plugin_name_literals(tmp_path, plugin_names()) == [("kernel.py", 6, "tqdm")]


def _toml(path: Path) -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+; the name scan above needs none
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _pyprojects() -> dict[str, dict[str, tuple[str, ...]]]:
    found = {}
    for path in [*REPO.glob("plugins/*/pyproject.toml"), *REPO.glob("contrib/*/pyproject.toml")]:
        project = _toml(path)["project"]
        groups = project.get("entry-points", {})
        found[project["name"]] = {group: tuple(entries) for group, entries in groups.items()}
    return found


def test_first_party_table_matches_the_distributions():
    declared = _pyprojects()
    assert set(first_party.DISTRIBUTIONS) == set(declared)
    for dist, groups in declared.items():
        table = {group: set(names) for group, names in first_party.DISTRIBUTIONS[dist].items()}
        assert table == {group: set(names) for group, names in groups.items()}, dist


@pytest.mark.parametrize("role", sorted(roles.ROLES))
def test_each_first_party_role_is_declared_by_its_distribution_for_an_installed_plugin(role):
    """Each role has one first-party filler (lit-core's ``csv`` besides), naming a plugin of the role's kind (or an object)."""
    declared = _pyprojects()
    fillers = [dist for dist, groups in declared.items() if role in groups.get(registry.ROLES_GROUP, ())]
    assert len(fillers) == 1, (role, fillers)
    entries = _toml(REPO / "plugins" / fillers[0].removeprefix("lit-") / "pyproject.toml")
    named = entries["project"]["entry-points"][registry.ROLES_GROUP][role]
    if roles.ROLES[role].kind == roles.SERVICE:  # a service role names an object: it imports
        assert importlib.metadata.EntryPoint(role, named, registry.ROLES_GROUP).load() is not None
        return
    assert named in entries["project"]["entry-points"][registry.GROUPS[roles.ROLES[role].kind]]
