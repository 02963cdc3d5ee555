"""Sphinx configuration for lit's documentation.

Build with ``sphinx-build -b html docs docs/_build/html`` in an environment where lit-core is
installed (autodoc imports ``lit_core``). The guides' ``>>>`` examples are also run by pytest
(``--doctest-glob=*.rst`` in the root ``pyproject.toml``), so they stay true without a Sphinx
build.
"""

from __future__ import annotations

import os
import sys

# Document the working tree's lit_core even when it is not installed.
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "core", "src")))

project = "lit"
author = "lit contributors"
copyright = "lit contributors"

try:
    from lit_core import __version__ as release
except ImportError:  # autodoc will say what is missing; the prose still builds
    release = "0.1.0"
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.doctest",
    "sphinx.ext.intersphinx",
    "sphinx.ext.viewcode",
]

# autodoc: keep the source order (hookspecs and loop phases read top to bottom).
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True}

# napoleon: the code base writes reST field lists (``:param x:``); Google / NumPy sections
# in contributed plugins render too.
napoleon_google_docstring = True
napoleon_numpy_docstring = True
napoleon_use_param = True
napoleon_use_rtype = True

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "torch": ("https://pytorch.org/docs/stable", None),
    "pluggy": ("https://pluggy.readthedocs.io/en/stable", None),
}

# ``>>>`` blocks are doctests for pytest and for ``sphinx-build -b doctest``.
doctest_global_setup = ""
trim_doctest_flags = True

templates_path: list[str] = []
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
source_suffix = ".rst"
root_doc = "index"
pygments_style = "sphinx"

html_theme = "alabaster"
html_title = f"lit {release}"
