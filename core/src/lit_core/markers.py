"""The pluggy markers for lit: ``@lit.hookspec`` declares a hook, ``@lit.hookimpl`` implements one.

Also ``function_factory``: how lit compiles the small functions that stand in for hook
implementations (the adapter's trampolines, ``lit_core.builtins.adapters``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pluggy

PROJECT = "lit"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@functools.cache
def function_factory(label: str, name: str, params: str, free: str, body: str) -> Callable[..., Callable[..., Any]]:
    """``make(<free>)``, which returns ``def <name>(<params>): <body>`` closing over ``<free>``.

    Compiled once per source and remembered: every ``Trainer`` builds dozens of these functions,
    of the same few shapes, and compiling each anew cost milliseconds per ``Trainer`` and ``fit``.
    ``body`` is indented by 8 spaces; ``label`` names the code in tracebacks (``<label>``).
    """
    source = f"def _make({free}):\n    def {name}({params}):\n{body}    {name}.__qualname__ = {name!r}\n    return {name}\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<{label}>", "exec"), namespace)
    return namespace["_make"]
