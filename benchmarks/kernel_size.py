"""How big lit's kernel is, and how tangled: the figures issue 15's "Done when" is judged on.

Read from the source tree this script sits in (nothing is imported from it, nothing is
trained), in about two seconds:

- **lines**: every file of ``core/src/lit_core``, each physical line counted once as *code*,
  *docstring* (a line of the string expression that opens a module, class or function),
  *comment* (only a comment on it) or *blank*. A line with code and a trailing comment is code;
  a multi-line string that is not a docstring is code. The goals are judged on code lines.
- **groups**: the kernel a plugin author must read (``KERNEL``: the contract, the Trainer, the
  modules it wires, the loops, the registry), the Lightning user API (``USER_API``) and the
  rest. Both lists are written out below; when a concern moves out of ``trainer.py`` into a
  module of its own, add that module to ``KERNEL``, so that before and after compare.
- **private trainer accesses**: ``trainer._x`` (also ``self.trainer._x``, ``self._trainer._x``)
  outside ``trainer.py``, in core, ``plugins/*/src`` and ``contrib/*/src``: a regex on each line
  with comments and docstrings removed (they describe, they do not access).
- **plugin-name literals**: string constants in ``core/src`` code (docstrings and comments left
  out, read with ``tokenize``) equal to a name a first-party plugin distribution registers
  (the ``lit.*`` entry points of ``plugins/*`` and ``contrib/*``, read from their
  ``pyproject.toml``), to a distribution's name (``lit-tqdm``, ``lit_tqdm``) or to its short
  name (``tqdm``, ``amp``; ``callbacks`` is left out: it is also Lightning's word for the
  Trainer argument). lit-core's own names (``csv``, ``cpu``, ``32-true``...) are not plugin names.
- **import cycles**: the graph of ``lit_core`` modules importing each other, from the AST. An
  edge is *runtime* when the import runs while the importing module is imported (module level,
  class bodies, ``try``/``if`` blocks other than ``if TYPE_CHECKING:``), *type-checking* under
  ``if TYPE_CHECKING:``, *deferred* inside a function. Cycles are the strongly connected
  components (Tarjan) of more than one module, or one that imports itself; the goal (0) is
  judged on runtime edges. Lazy imports by name (``importlib``) are not edges.
- **duplicates**: when this machine has the ``duplicates`` command (a workstation tool, not
  a dependency), it runs once over the tree and the pairs whose two sides are both in
  ``core/src``, ``plugins/*/src`` or ``contrib/*/src`` are counted.

``--goals`` prints ``GOAL ... -> PASS|FAIL`` lines; like the other benchmarks it always exits 0.
``--json`` prints one JSON object instead of the report.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import re
import shutil
import subprocess
import sys
import tokenize
from collections.abc import Iterable, Iterator
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: no TOML reader in the standard library
    tomllib = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "core" / "src" / "lit_core"

# The kernel a plugin author must read, relative to core/src/lit_core. The first four are the
# contract and the machinery; the rest hold concerns the Trainer wires and a loop plugin deals
# with (flags, the adapters to Lightning's hooks, the default services, checkpoint contents,
# self.log bookkeeping, data handling...). Add here each module split out of trainer.py.
KERNEL: tuple[str, ...] = (
    "hookspecs.py",
    "trainer.py",
    "loops.py",
    "registry.py",
    # what trainer.py wires
    "flag_checks.py",
    "builtins/adapters.py",
    "builtins/defaults.py",
    "checkpoint.py",
    "unique_plugins.py",
    "cleanup.py",
    "interrupt.py",
    "lineage.py",
    "progress_view.py",
    "metrics.py",
    "data.py",
    "optim.py",
    "model_mode.py",
    "trial.py",
    "roles.py",
    "loop_state.py",
    "selection.py",
    "trainer_state.py",
    "checkpoint_contents.py",
    "hot_path.py",
    "trainer_properties.py",
    "metric_logging.py",
    "stage_setup.py",
)
# Lightning's user API (what a user's LightningModule / DataModule / Callback code touches),
# counted apart from lit-core's goal, with the modules only it uses.
USER_API: tuple[str, ...] = (
    "module.py",
    "datamodule.py",
    "datamodule_extras.py",
    "data_hooks.py",
    "callback.py",
    "hparams.py",
    "core/saving.py",
    "hparams_files.py",
    "export.py",
)
GOAL_KERNEL = 2000
GOAL_CORE = 4000

# Short names of first-party distributions that are also ordinary words in the kernel: both are
# Lightning's submodule names (lit_core.callbacks, lit_core.cli, lit_core.demos, lit_core.profilers), which the kernel mirrors.
NOT_A_PLUGIN_NAME = {"callbacks", "cli", "demos", "profilers"}
# Literals that equal a plugin's name but do not name the plugin: (regex on the code line, why).
NOT_A_PLUGIN_REFERENCE: tuple[tuple[str, str], ...] = (
    (r"""\.type == ["']cuda["']""", "torch's device type, not the lit-cuda plugin"),
    (r"""\(["']checkpoint["'],\)""", "the argument name of on_save_checkpoint / on_load_checkpoint"),
)
PRIVATE_TRAINER = re.compile(r"trainer\.(_[a-z]\w*)")


def rel(path: Path) -> str:
    """``path`` relative to the repository root, with ``/``."""
    return path.relative_to(ROOT).as_posix()


def docstring_lines(tree: ast.AST) -> set[int]:
    """Line numbers covered by the docstrings of a module, its classes and functions."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                lines.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return lines


def tokens(source: str) -> list[tokenize.TokenInfo]:
    """Every token of ``source``, comments included."""
    return list(tokenize.generate_tokens(io.StringIO(source).readline))


def count_lines(source: str) -> dict[str, int]:
    """One file's physical lines as code / docstring / comment / blank."""
    docs = docstring_lines(ast.parse(source))
    code: set[int] = set()
    comment: set[int] = set()
    skip = {tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    for tok in tokens(source):
        if tok.type == tokenize.COMMENT:
            comment.add(tok.start[0])
        elif tok.type not in skip:
            code.update(range(tok.start[0], tok.end[0] + 1))
    total = len(source.splitlines())
    counts = {"code": 0, "docstring": 0, "comment": 0, "blank": 0, "total": total}
    for n in range(1, total + 1):
        if n in docs:
            counts["docstring"] += 1
        elif n in code:
            counts["code"] += 1
        elif n in comment:
            counts["comment"] += 1
        else:
            counts["blank"] += 1
    return counts


def code_only(source: str) -> list[str]:
    """The file's lines with comments and docstrings blanked out (line numbers kept)."""
    lines = source.splitlines()
    for n in docstring_lines(ast.parse(source)):
        lines[n - 1] = ""
    for tok in tokens(source):
        if tok.type == tokenize.COMMENT:
            row, col = tok.start
            lines[row - 1] = lines[row - 1][:col]
    return lines


def core_files() -> list[Path]:
    """lit-core's modules, sorted."""
    return sorted(CORE.rglob("*.py"))


def source_files() -> Iterator[Path]:
    """core's, first-party plugins' and contrib's package sources."""
    yield from core_files()
    for group in ("plugins", "contrib"):
        yield from sorted((ROOT / group).glob("*/src/**/*.py"))


def sum_counts(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    """The line counts of several files added up."""
    out = {"code": 0, "docstring": 0, "comment": 0, "blank": 0, "total": 0}
    for c in counts:
        for k in out:
            out[k] += c[k]
    return out


def measure_lines() -> dict:
    """Lines per file, per group, and the largest file."""
    per_file = {f.relative_to(CORE).as_posix(): count_lines(f.read_text()) for f in core_files()}
    missing = [name for name in (*KERNEL, *USER_API) if name not in per_file]
    kernel = sum_counts(per_file[n] for n in KERNEL if n in per_file)
    named = sum_counts(per_file[n] for n in KERNEL[:4] if n in per_file)
    user_api = sum_counts(per_file[n] for n in USER_API if n in per_file)
    core = sum_counts(per_file.values())
    largest = max(per_file, key=lambda n: per_file[n]["total"])
    return {
        "core": core,
        "core_without_user_api": {k: core[k] - user_api[k] for k in core},
        "kernel": kernel,
        "kernel_named_four": named,
        "kernel_files": list(KERNEL),
        "user_api": user_api,
        "user_api_files": list(USER_API),
        "missing_listed_files": missing,
        "largest_file": {"file": largest, **per_file[largest]},
        "files": per_file,
    }


def measure_private_access() -> dict:
    """``trainer._x`` accesses outside ``trainer.py``: each site, per file, and the fields reached."""
    sites: list[dict] = []
    for path in source_files():
        if path == CORE / "trainer.py":
            continue
        for n, line in enumerate(code_only(path.read_text()), 1):
            for match in PRIVATE_TRAINER.finditer(line):
                sites.append({"file": rel(path), "line": n, "field": match.group(1)})
    per_file: dict[str, int] = {}
    fields: dict[str, set[str]] = {}
    for site in sites:
        per_file[site["file"]] = per_file.get(site["file"], 0) + 1
        fields.setdefault(site["file"], set()).add(site["field"])
    return {
        "total": len(sites),
        "fields": sorted(set().union(*fields.values())),
        "per_file": per_file,
        "fields_per_file": {name: sorted(found) for name, found in fields.items()},
        "sites": sites,
    }


def read_project(pyproject: Path) -> tuple[str, dict[str, list[str]]]:
    """A distribution's name and its entry points, ``{group: [name, ...]}``."""
    text = pyproject.read_text()
    if tomllib is not None:
        project = tomllib.loads(text).get("project", {})
        return project.get("name", ""), {group: list(entries) for group, entries in project.get("entry-points", {}).items()}
    # Enough of TOML for a pyproject's ``name = "..."`` and its entry-point tables.
    name = re.search(r'^name\s*=\s*"([^"]+)"', text, re.M)
    groups: dict[str, list[str]] = {}
    group = None
    for line in text.splitlines():
        header = re.match(r'^\[project\.entry-points\."([^"]+)"\]', line)
        if header:
            group = groups.setdefault(header.group(1), [])
        elif line.startswith("["):
            group = None
        elif group is not None and (entry := re.match(r'^\s*"?([^"=\s]+)"?\s*=', line)):
            group.append(entry.group(1))
    return (name.group(1) if name else ""), groups


#: The entry-point group whose entry names are roles (``default_logger``...), not plugin names.
ROLES_GROUP = "lit.roles"
#: The one table of first-party names the issue allows in the kernel (install hints); counted apart.
HINT_TABLE = "core/src/lit_core/first_party.py"


def first_party_names() -> set[str]:
    """Every name a first-party plugin distribution registers or is known by."""
    names: set[str] = set()
    for pyproject in sorted([*ROOT.glob("plugins/*/pyproject.toml"), *ROOT.glob("contrib/*/pyproject.toml")]):
        dist, entry_points = read_project(pyproject)
        names.update({dist, dist.replace("-", "_")})
        short = dist.removeprefix("lit-")
        if short not in NOT_A_PLUGIN_NAME:
            names.add(short)
        for group, entries in entry_points.items():
            # lit.roles' entry names are the kernel's own role names (its values are plugin names counted above).
            if group.startswith("lit.") and group != ROLES_GROUP:
                names.update(entries)
    names.discard("")
    return names


def measure_plugin_names() -> dict:
    """String constants in lit-core's code that equal a first-party plugin's name."""
    names = first_party_names()
    distributions = {n for n in names if n.startswith(("lit-", "lit_"))}
    sites: list[dict] = []
    excluded: list[dict] = []
    hint_table = 0
    for path in core_files():
        source = path.read_text()
        docs = docstring_lines(ast.parse(source))
        lines = source.splitlines()
        for tok in tokens(source):
            if tok.type != tokenize.STRING or tok.start[0] in docs:
                continue
            try:
                value = ast.literal_eval(tok.string)
            except (ValueError, SyntaxError):  # f-strings and the like: not a constant
                continue
            if not (isinstance(value, str) and value in names):
                continue
            site = {"file": rel(path), "line": tok.start[0], "name": value}
            why = next((why for pattern, why in NOT_A_PLUGIN_REFERENCE if re.search(pattern, lines[tok.start[0] - 1])), None)
            if why:
                excluded.append({**site, "why": why})
            elif rel(path) == HINT_TABLE:
                hint_table += 1
            else:
                site["kind"] = "distribution" if value in distributions else "plugin name"
                sites.append(site)
    return {
        "total": len(sites),
        "plugin_names": sum(site["kind"] == "plugin name" for site in sites),
        "distribution_names": sum(site["kind"] == "distribution" for site in sites),
        "in_the_install_hint_table": hint_table,
        "names_checked": sorted(names),
        "sites": sites,
        "excluded": excluded,
    }


def module_name(path: Path) -> str:
    """``core/src/lit_core/a/b.py`` -> ``lit_core.a.b`` (a package: its ``__init__``)."""
    parts = list(path.relative_to(CORE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_edges(path: Path, modules: set[str]) -> Iterator[tuple[str, str]]:
    """``(kind, target)`` for each lit_core module ``path`` imports; kind: runtime / type_checking / deferred."""
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]

    def targets(node: ast.Import | ast.ImportFrom) -> Iterator[str]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules:
                    yield alias.name
            return
        if node.level:
            base = package.split(".")
            base = base[: len(base) - node.level + 1]
            base_name = ".".join([*base, node.module] if node.module else base)
        else:
            base_name = node.module or ""
        submodules = [f"{base_name}.{alias.name}" for alias in node.names if f"{base_name}.{alias.name}" in modules]
        yield from submodules
        # ``from . import hookspecs`` needs only the submodule; ``from . import Trainer`` needs the package.
        if base_name in modules and len(submodules) < len(node.names):
            yield base_name

    def visit(nodes: list[ast.stmt], kind: str) -> Iterator[tuple[str, str]]:
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                yield from ((kind, target) for target in targets(node) if target != me)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)):
                        yield from (("deferred", t) for t in targets(inner))
            elif isinstance(node, ast.If) and is_type_checking(node.test):
                yield from visit(node.body, "type_checking" if kind == "runtime" else kind)
                yield from visit(node.orelse, kind)
            else:
                for field in ("body", "orelse", "finalbody", "handlers"):
                    yield from visit([n for n in getattr(node, field, []) if isinstance(n, (ast.stmt, ast.excepthandler))], kind)

    # Importing ``a.b.c`` also runs ``a/__init__`` and ``a/b/__init__``; the importer's own
    # ancestors are already being imported, so they add no edge.
    mine = {".".join(me.split(".")[:i]) for i in range(1, me.count(".") + 2)}
    for kind, target in visit(ast.parse(path.read_text()).body, "runtime"):
        parts = target.split(".")
        for i in range(1, len(parts) + 1):
            name = ".".join(parts[:i])
            if name in modules and name not in mine:
                yield kind, name


def is_type_checking(test: ast.expr) -> bool:
    """Whether an ``if`` tests ``TYPE_CHECKING`` (or ``typing.TYPE_CHECKING``)."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; only the components that are cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.get(node, ()):
                    cycles.append(sorted(component))
    return sorted(cycles, key=lambda c: (-len(c), c))


def shortest_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """A shortest import chain that leads from a module of ``component`` back to itself."""
    members = set(component)
    best: list[str] = []
    for start in component:
        paths = {start: [start]}
        queue = [start]
        while queue:
            node = queue.pop(0)
            if start in graph[node] and (not best or len(paths[node]) < len(best) - 1):
                best = [*paths[node], start]
            for child in sorted(graph[node] & members):
                if child not in paths:
                    paths[child] = [*paths[node], child]
                    queue.append(child)
    return best


def measure_cycles() -> dict:
    """The import graph of lit_core, its cycles for each kind of edge counted."""
    files = {module_name(f): f for f in core_files()}
    modules = set(files)
    edges: dict[str, dict[str, set[str]]] = {k: {m: set() for m in modules} for k in ("runtime", "type_checking", "deferred")}
    for name, path in files.items():
        for kind, target in import_edges(path, modules):
            edges[kind][name].add(target)

    def graph(*kinds: str) -> dict[str, set[str]]:
        return {m: set().union(*(edges[k][m] for k in kinds)) for m in modules}

    out = {}
    for label, kinds in (
        ("runtime", ("runtime",)),
        ("with_type_checking", ("runtime", "type_checking")),
        ("with_deferred", ("runtime", "deferred")),
        ("all", ("runtime", "type_checking", "deferred")),
    ):
        g = graph(*kinds)
        cycles = strongly_connected(g)
        out[label] = {
            "cycles": len(cycles),
            "modules_in_cycles": sum(map(len, cycles)),
            "components": cycles,
            "shortest": [shortest_cycle(g, c) for c in cycles],
        }
    out["modules"] = len(modules)
    out["edges"] = {k: sum(map(len, v.values())) for k, v in edges.items()}
    return out


def measure_duplicates() -> dict:
    """The ``duplicates`` pairs with both sides in package sources, or why there are none."""
    if shutil.which("duplicates") is None:
        return {"available": False}
    result = subprocess.run(
        ["duplicates", "--repo", str(ROOT), "--most", "200", "--seconds", "60"], capture_output=True, text=True, timeout=120
    )
    source = r"(?:core/src|plugins/[^/\s]+/src|contrib/[^/\s]+/src)/\S+"
    rows = [line for line in result.stdout.splitlines() if re.match(rf"^D\d+ {source} ~ {source}", line)]
    notes = [line for line in result.stdout.splitlines() if line.startswith(("(+", "left out:", "incomplete:"))]
    return {
        "available": True,
        "pairs": len(rows),
        "pairs_not_boilerplate": sum("boilerplate" not in row for row in rows),
        "whole_tree": result.stdout.splitlines()[0] if result.stdout else "",
        "rows": rows,
        "notes": notes,
    }


def measure() -> dict:
    """Every figure, as one JSON-ready dict."""
    return {
        "root": str(ROOT),
        "lines": measure_lines(),
        "private_trainer_access": measure_private_access(),
        "plugin_name_literals": measure_plugin_names(),
        "import_cycles": measure_cycles(),
        "duplicates": measure_duplicates(),
    }


def row(label: str, c: dict[str, int]) -> str:
    """One line of the lines table."""
    return f"{label:<46} {c['code']:>6} {c['docstring']:>6} {c['comment']:>6} {c['blank']:>6} {c['total']:>6}"


def report(figures: dict, goals: bool) -> None:
    """The figures as text; with ``goals``, a GOAL line for each goal."""
    lines = figures["lines"]
    print(f"tree: {figures['root']}")
    print("\n== lit-core lines (core/src/lit_core)")
    header = f"{'file':<46} {'code':>6} {'doc':>6} {'comm.':>6} {'blank':>6} {'total':>6}"
    print(header)
    for name, c in sorted(lines["files"].items(), key=lambda item: -item[1]["total"]):
        print(row(name, c))
    print("-" * len(header))
    print(row("lit-core", lines["core"]))
    print(row("kernel a plugin author must read", lines["kernel"]))
    print(row("  of it hookspecs, trainer, loops, registry", lines["kernel_named_four"]))
    print(row("Lightning user API", lines["user_api"]))
    print(row("lit-core without the user API", lines["core_without_user_api"]))
    largest = lines["largest_file"]
    print(f"largest file: {largest['file']} ({largest['total']} lines, {largest['code']} of code)")
    print(f"kernel files: {', '.join(lines['kernel_files'])}")
    print(f"user API files: {', '.join(lines['user_api_files'])}")
    if lines["missing_listed_files"]:
        print(f"listed but not found (update the lists): {', '.join(lines['missing_listed_files'])}")

    private = figures["private_trainer_access"]
    print(f"\n== private trainer._ accesses outside trainer.py: {private['total']}, of {len(private['fields'])} fields")
    for name, n in sorted(private["per_file"].items(), key=lambda item: -item[1]):
        found = private["fields_per_file"][name]
        print(f"{n:>5}  {name} ({len(found)} field{'s' * (len(found) != 1)}: {', '.join(found)})")

    literals = figures["plugin_name_literals"]
    print(
        f"\n== plugin-name literals in core/src code: {literals['total']} "
        f"({literals['plugin_names']} plugin names, {literals['distribution_names']} distribution names); "
        f"{literals['in_the_install_hint_table']} more in the install-hint table {HINT_TABLE}"
    )
    for site in literals["sites"]:
        print(f"  {site['file']}:{site['line']}: {site['name']!r} ({site['kind']})")
    for site in literals["excluded"]:
        print(f"  not counted: {site['file']}:{site['line']}: {site['name']!r}: {site['why']}")

    cycles = figures["import_cycles"]
    print(f"\n== import cycles among lit_core's {cycles['modules']} modules (edges: {cycles['edges']})")
    for label in ("runtime", "with_type_checking", "with_deferred", "all"):
        c = cycles[label]
        print(f"{label:<20} {c['cycles']} cycle(s), {c['modules_in_cycles']} modules in them")
    for label in ("runtime", "with_type_checking", "with_deferred", "all"):
        for component, chain in zip(cycles[label]["components"], cycles[label]["shortest"]):
            short = [name.removeprefix("lit_core.") for name in component]
            print(f"  {label}: {', '.join(short)}")
            print(f"    shortest: {' -> '.join(name.removeprefix('lit_core.') for name in chain)}")

    dup = figures["duplicates"]
    if not dup["available"]:
        print("\nduplicates: not available")
    else:
        print(f"\n== duplicates: {dup['pairs']} pairs in package sources ({dup['pairs_not_boilerplate']} not boilerplate)")
        print(f"   whole tree: {dup['whole_tree']}")
        for line in [*dup["rows"], *dup["notes"]]:
            print(f"  {line}")

    if goals:
        print()
        goal("kernel a plugin author must read (code lines)", lines["kernel"]["code"], GOAL_KERNEL)
        goal("lit-core without the Lightning user API (code lines)", lines["core_without_user_api"]["code"], GOAL_CORE)
        goal("private trainer._ accesses outside trainer.py", private["total"], 0)
        # The issue allows an install-hint table of distribution names; plugin names, none.
        goal("plugin-name literals in core/src code (distribution names aside)", literals["plugin_names"], 0)
        goal("runtime import cycles in lit_core", cycles["runtime"]["cycles"], 0)


def goal(label: str, value: int, limit: int) -> None:
    """A verdict line in the form the other benchmarks print."""
    print(f"GOAL {label}: {value} <= {limit} -> {'PASS' if value <= limit else 'FAIL'}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the report")
    parser.add_argument("--goals", action="store_true", help="print GOAL lines (PASS/FAIL); the exit code stays 0")
    args = parser.parse_args(argv)
    figures = measure()
    if args.json:
        json.dump(figures, sys.stdout, indent=1)
        print()
    else:
        report(figures, args.goals)


if __name__ == "__main__":
    main()
