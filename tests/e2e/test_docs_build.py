"""The docs build as `make docs` runs it fails on a warning, and the API reference renders every hookspec.

`make test` builds the whole site once (`make docs`, ~8 s); building it again here would double
that. These tests check what keeps that build strict instead: the Makefile's own sphinx-build
command, with docs/conf.py, run on a one-page project whose only fault is a reference that does not
resolve, must fail and name it; the same page with a resolvable reference must build.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"


def make_docs_flags() -> list[str]:
    """The options of the sphinx-build line in the Makefile's ``docs`` recipe (sources and output removed)."""
    recipe = re.search(r"^docs:.*\n((?:\t.*\n)+)", (REPO / "Makefile").read_text(), re.MULTILINE)
    assert recipe, "the Makefile has no docs target"
    line = next(cmd for cmd in recipe.group(1).splitlines() if "sphinx-build" in cmd)
    words = shlex.split(line.strip())
    words = words[words.index(next(w for w in words if w.endswith("sphinx-build"))) + 1:]
    assert words[-2:] == ["docs", "docs/_build/html"], f"unexpected docs command: {line.strip()}"
    return words[:-2]


def build(tmp_path: Path, page: str) -> subprocess.CompletedProcess[str]:
    """Build a one-page project with docs/conf.py (``-c``) and the Makefile's options."""
    source = tmp_path / "src"
    source.mkdir()
    (source / "index.rst").write_text(page)
    command = [sys.executable, "-m", "sphinx", *make_docs_flags(), "-c", str(DOCS), str(source), str(tmp_path / "html")]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


PAGE = """\
Page
====

.. autoclass:: lit_core.plugin_api.Strategy
   :no-members:

See :class:`{target}`.
"""


def test_make_docs_is_strict():
    flags = make_docs_flags()
    assert "-W" in flags and ("-n" in flags or "--nitpicky" in flags), flags


def test_docs_build_fails_on_an_unresolved_reference(tmp_path):
    result = build(tmp_path, PAGE.format(target="lit_core.plugin_api.NoSuchClass"))
    assert result.returncode != 0, result.stdout + result.stderr
    assert "lit_core.plugin_api.NoSuchClass" in result.stderr


def test_docs_build_passes_when_references_resolve(tmp_path):
    result = build(tmp_path, PAGE.format(target="lit_core.plugin_api.Strategy"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "html" / "index.html").exists()


@pytest.mark.parametrize("name", ["hookspecs", "plugin_api"])
def test_api_reference_renders_the_module(name):
    """Every hookspec, with the loop pseudocode, comes from ``lit_core.hookspecs`` by autodoc (no hand-kept list)."""
    api = (DOCS / "api.rst").read_text()
    assert f".. automodule:: lit_core.{name}\n" in api
