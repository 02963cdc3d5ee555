"""``lit new-plugin NAME --kind KIND``: write a ready plugin distribution from lit's template.

The folder it writes (``lit-<name>/`` by default) is a distribution laid out as lit's own
(``plugins/tqdm``): a hatchling ``pyproject.toml`` that declares the entry point in the kind's
group and depends on ``lit-core`` within the plugin API's major version, a ``src/lit_<name>/``
package holding a small working plugin of that kind and ``py.typed``, a test file running the
kind's conformance suite from ``lit_core.testing`` (docs/testing_plugins.rst), a README and a
CHANGELOG. The plugin passes its own tests as generated; the author edits from there.

The templates are files in ``lit_core/plugin_template/`` (``<kind>.py.tmpl`` and
``test_<kind>.py.tmpl`` per kind, and the distribution's files), ``string.Template`` texts
(``$name``) so that the generated Python and TOML keep their braces.
"""

from __future__ import annotations

import argparse
import keyword
import os
import re
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template

from . import __version__
from .plugin_api import PLUGIN_API_VERSION

#: A plugin name users type (``Trainer(logger="jsonl")``): lower case, digits, single ``-`` or ``_`` between parts.
NAME_PATTERN = re.compile(r"[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*")
#: A distribution name as PEP 508 allows it (normalized comparison happens on PyPI).
DISTRIBUTION_PATTERN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")


@dataclass(frozen=True)
class Kind:
    """A kind of plugin as the template writes it."""

    group: str  #: the entry-point group
    base: str  #: the ``lit_core.plugin_api`` base class the plugin subclasses
    suffix: str  #: of the class name (``JsonlLogger``)
    suite: str  #: what of ``lit_core.testing`` its tests use (a phrase for the README and CHANGELOG)
    summary: str  #: the distribution's description (``$name`` is the plugin's name)
    usage: str  #: the README's usage line


KINDS: dict[str, Kind] = {
    "logger": Kind("lit.loggers", "FolderLogger", "Logger", "the LoggerConformance suite",
                   "A JSON-lines logger for lit: Trainer(logger='$name').",
                   'trainer = lit.Trainer(logger="$name")  # writes <default_root_dir>/lightning_logs/version_N/metrics.jsonl'),
    "callback": Kind("lit.callbacks", "Callback", "Callback", "the CallbackConformance suite",
                     "A lit callback recording where each training epoch ended: Trainer(callbacks=['$name']).",
                     'trainer = lit.Trainer(callbacks=["$name"])'),
    "accelerator": Kind("lit.accelerators", "Accelerator", "Accelerator", "the AcceleratorConformance suite",
                        "A channels-last CPU accelerator for lit: Trainer(accelerator='$name').",
                        'trainer = lit.Trainer(accelerator="$name")'),
    "strategy": Kind("lit.strategies", "Strategy", "Strategy",
                     "the lit_plugins fixture (the kit has no strategy suite yet)",
                     "A single-process lit strategy recording the stages it launched: Trainer(strategy='$name').",
                     'trainer = lit.Trainer(strategy="$name")'),
    "precision": Kind("lit.precision", "TruePrecision", "Precision", "the PrecisionConformance suite",
                      "A true float64 precision for lit: Trainer(precision='$name').",
                      'trainer = lit.Trainer(precision="$name")'),
}


@dataclass(frozen=True)
class PluginSpec:
    """What the template is filled with: the plugin's names, its kind and the lit-core it needs."""

    name: str
    kind: str
    distribution: str

    @property
    def package(self) -> str:
        """The import package: ``lit_<name>`` with ``-`` as ``_``."""
        return "lit_" + self.name.replace("-", "_")

    @property
    def class_name(self) -> str:
        """``jsonl`` + logger -> ``JsonlLogger``."""
        return "".join(part.capitalize() for part in re.split(r"[-_]", self.name)) + KINDS[self.kind].suffix

    @property
    def test_file(self) -> str:
        return f"test_{self.name.replace('-', '_')}.py"

    def substitutions(self) -> dict[str, str]:
        """The ``$placeholders`` of every template."""
        major, minor = PLUGIN_API_VERSION
        kind = KINDS[self.kind]
        return {
            "name": self.name,
            "kind": self.kind,
            "distribution": self.distribution,
            "package": self.package,
            "cls": self.class_name,
            "group": kind.group,
            "base": kind.base,
            "summary": Template(kind.summary).substitute(name=self.name),
            "usage": Template(kind.usage).substitute(name=self.name),
            "suite": kind.suite,
            "core_requirement": lit_core_requirement(),
            "api_major": str(major),
            "api_minor": str(minor),
            "lit_core_version": __version__,
            "test_file": self.test_file,
        }


def lit_core_requirement(version: str = __version__) -> str:
    """The ``lit-core`` requirement of a generated plugin: at least the release it was generated with, below the next major.

    The lower bound is this lit-core (it provides every name the template imports). The upper
    bound follows semantic versioning of lit-core; what a plugin really depends on is the plugin
    API's major version (``PLUGIN_API_VERSION``, docs/plugins.rst "The plugin API"), which the
    generated module checks at import with ``require_plugin_api``, so that a lit-core inside the
    range but with another plugin API fails with a message instead of an ``ImportError``.

    >>> lit_core_requirement("0.1.0"), lit_core_requirement("2.3.1")
    ('lit-core>=0.1,<1', 'lit-core>=2.3,<3')
    """
    major, minor = (int(part) for part in version.split(".")[:2])
    return f"lit-core>={major}.{minor},<{major + 1}"


def validate(name: str, kind: str, distribution: str | None = None) -> PluginSpec:
    """Check the user's choices and return the spec; ``ValueError`` saying what to type instead."""
    if kind not in KINDS:
        raise ValueError(f"--kind {kind!r} is not a plugin kind: use one of {', '.join(KINDS)}.")
    if not NAME_PATTERN.fullmatch(name):
        suggestion = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        hint = f" (for example {suggestion!r})" if suggestion and NAME_PATTERN.fullmatch(suggestion) else ""
        raise ValueError(
            f"plugin name {name!r} is not valid: use lower-case letters and digits, starting with a letter, with single "
            f"'-' or '_' between parts{hint}. It is what users type: {_usage(kind, suggestion or 'name')}."
        )
    if name == "core" or name.startswith(("lit-", "lit_")) or keyword.iskeyword(name):
        raise ValueError(
            f"plugin name {name!r} is not valid: the distribution would be 'lit-{name}' and the package "
            f"'lit_{name.replace('-', '_')}', which lit-core owns or which repeats 'lit'. Name the plugin for what it does "
            "(e.g. 'jsonl' gives lit-jsonl / lit_jsonl)."
        )
    distribution = distribution or "lit-" + name.replace("_", "-")
    if not DISTRIBUTION_PATTERN.fullmatch(distribution) or distribution.lower() == "lit":
        raise ValueError(
            f"--distribution {distribution!r} is not a valid distribution name: letters, digits, '.', '-' and '_', "
            "starting and ending with a letter or digit, and not 'lit' (LLVM's testing tool owns it on PyPI)."
        )
    return PluginSpec(name=name, kind=kind, distribution=distribution)


def _usage(kind: str, name: str) -> str:
    return f'Trainer(callbacks=["{name}"])' if kind == "callback" else f'Trainer({kind}="{name}")'


def render(spec: PluginSpec) -> dict[str, str]:
    """The generated distribution: relative path to file content."""
    values = spec.substitutions()
    templates = {
        "pyproject.toml": "pyproject.toml",
        "README.md": "README.md",
        "CHANGELOG.md": "CHANGELOG.md",
        f"src/{spec.package}/__init__.py": f"{spec.kind}.py",
        f"tests/{spec.test_file}": f"test_{spec.kind}.py",
    }
    folder = resources.files("lit_core") / "plugin_template"
    files = {path: Template((folder / f"{name}.tmpl").read_text(encoding="utf-8")).substitute(values)
             for path, name in templates.items()}
    files[f"src/{spec.package}/py.typed"] = ""  # PEP 561: type checkers read the plugin's annotations
    return files


def generate(name: str, kind: str, directory: str | os.PathLike | None = None, distribution: str | None = None) -> Path:
    """Write the distribution for plugin ``name`` of ``kind`` into ``directory`` (default ``./<distribution>``); its path.

    Raises:
        ValueError: an invalid name, kind or distribution.
        FileExistsError: ``directory`` exists and is not empty (nothing is overwritten).
    """
    spec = validate(name, kind, distribution)
    target = Path(directory if directory is not None else spec.distribution)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise FileExistsError(
            f"{target} already exists and is not an empty folder; lit new-plugin never overwrites files. "
            "Choose another folder with --dir, or remove it first."
        )
    for relative, text in render(spec).items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target


def add_parser(subcommands: argparse._SubParsersAction) -> None:
    """Register ``lit new-plugin`` on the ``lit`` command's subcommands."""
    parser = subcommands.add_parser(
        "new-plugin", help="write a ready plugin distribution (pyproject, package, tests using lit_core.testing)",
        description="Write a plugin distribution from lit's template: it installs, and passes its own tests, as generated.")
    parser.add_argument("name", help="the name users type, e.g. jsonl for Trainer(logger='jsonl')")
    parser.add_argument("--kind", required=True, choices=list(KINDS), help="the kind of plugin")
    parser.add_argument("--dir", dest="directory", help="the folder to create (default: ./lit-<name>)")
    parser.add_argument("--distribution", help="the distribution's name (default: lit-<name>)")


def main(args: argparse.Namespace) -> int:
    """Run ``lit new-plugin`` with parsed ``args``; prints what was written and what to do next."""
    try:
        spec = validate(args.name, args.kind, args.distribution)
        target = generate(args.name, args.kind, args.directory, args.distribution)
    except (ValueError, FileExistsError) as exc:
        print(f"lit new-plugin: {exc}", file=sys.stderr)
        return 2
    print(f"Wrote {spec.distribution} ({spec.kind} {spec.name!r}, class {spec.package}.{spec.class_name}) in {target}.\n"
          f"Next:\n  pip install -e '{target}[test]'\n  pytest {target}")
    return 0
