"""Sphinx configuration for lit's documentation.

Build with ``make docs`` (``sphinx-build -W -n -b html docs docs/_build/html``: every warning is an
error, every cross-reference must resolve) in the repository's venv, where lit-core and the
plugins are installed (autodoc imports them) and Sphinx comes from ``lit-core[docs]``. The
guides' ``>>>`` examples are also run by pytest (``--doctest-glob=*.rst`` in the root
``pyproject.toml``), so they stay true without a Sphinx build.
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
    "sphinx.ext.viewcode",
]

# Every cross-reference must resolve (``-n`` in ``make docs`` says the same). The build has no
# network, so there are no intersphinx inventories: names from Python's standard library, torch
# and pluggy cannot resolve and are listed here, each because a lit signature or docstring names
# it. A lit name never belongs here: document it in api.rst, or fix the reference.
nitpicky = True
nitpick_ignore = [
    # Python's standard library (no intersphinx inventory offline).
    ("py:class", "os.PathLike"),
    ("py:class", "argparse.Namespace"),
    ("py:class", "collections.abc.Callable"),
    ("py:class", "collections.abc.Iterable"),
    ("py:class", "collections.abc.Iterator"),
    ("py:class", "collections.abc.Mapping"),
    ("py:class", "contextlib.AbstractContextManager"),
    ("py:class", "importlib.metadata.EntryPoint"),
    ("py:class", "abc.ABC"),
    ("py:class", "enum.Enum"),
    ("py:class", "signal.Signals"),
    ("py:class", "AbstractContextManager"),  # imported for type checking only
    ("py:class", "T"),  # a TypeVar (lit_core.rank_zero.T): rank_zero_only returns what it decorates
    ("py:class", "lit_core.rank_zero.T"),
    # torch: annotations name the classes by their public paths, or by the names imported for
    # type checking (``Optimizer``, ``nn.Module``).
    ("py:class", "torch.Tensor"),
    ("py:class", "torch.device"),
    ("py:class", "torch.dtype"),
    ("py:class", "torch.nn.Module"),
    ("py:class", "torch.nn.modules.module.Module"),
    ("py:class", "nn.Module"),
    ("py:class", "Optimizer"),
    ("py:class", "torch.optim.Optimizer"),
    ("py:class", "torch.optim.optimizer.Optimizer"),
    ("py:class", "DataLoader"),
    ("py:class", "torch.utils.data.DataLoader"),
    ("py:class", "Sampler"),
    ("py:class", "torch.utils.data.Sampler"),
    ("py:class", "torch.utils.data.sampler.Sampler"),
    # pluggy: lit's PluginManager subclasses pluggy's.
    ("py:class", "pluggy._manager.PluginManager"),
    ("py:class", "pluggy.PluginManager"),
    # pluggy: the registry's trace and error-note helpers take pluggy's hook implementation records.
    ("py:class", "pluggy._impl.HookImpl"),
    ("py:class", "pluggy.HookImpl"),
]
# A private base class (``lit_core.plugin_base._Plugin``, ``progress_view._LoopView``) is shown in
# "Bases:" but never documented: what it provides is documented on its public subclasses.
nitpick_ignore_regex = [("py:class", r"lit_core(\.\w+)*\._\w+")]

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
