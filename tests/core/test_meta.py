"""Meta-tests that keep the hook list honest (datasette's habit): every hookspec is documented
in its docstring, in ``docs/hooks.rst`` and in the loop pseudocode, and has a test named after it.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from lit_core import hookspecs

TESTS = Path(__file__).resolve().parents[1]
HOOKS_RST = TESTS.parent / "docs" / "hooks.rst"

SPECS = {name: spec for name, spec in vars(hookspecs).items() if name.startswith("lit_") and hasattr(spec, "lit_spec")}


def argnames(hook: str) -> list[str]:
    return list(inspect.signature(SPECS[hook]).parameters)


def flat_doc(hook: str) -> str:
    """The hookspec's docstring on one line (wrapped sentences joined)."""
    return " ".join((inspect.getdoc(SPECS[hook]) or "").split())


def test_hookspecs_are_found():
    assert len(SPECS) > 50 and "lit_train_batch_end" in SPECS and "lit_launch" in SPECS


@pytest.mark.parametrize("hook", sorted(SPECS))
def test_hookspec_docstring_names_every_argument(hook):
    doc = inspect.getdoc(SPECS[hook])
    assert doc and doc.splitlines()[0].strip(), f"{hook} has no summary line"
    missing = [arg for arg in argnames(hook) if not re.search(rf"^:param {arg}:", doc, re.MULTILINE)]
    assert not missing, f"{hook}'s docstring has no ':param x:' line for {missing}"


@pytest.mark.parametrize("hook", sorted(name for name, spec in SPECS.items() if spec.lit_spec.get("firstresult")))
def test_firstresult_hookspec_says_what_a_result_means(hook):
    doc = flat_doc(hook)
    assert ":return:" in doc and "Stops at the first non-``None`` result" in doc, (
        f"{hook} is firstresult: its docstring needs a ':return:' line saying what a result means and "
        "'Stops at the first non-``None`` result'."
    )


def defined_test_names() -> set[str]:
    """Every ``test_*`` function or method defined in a test file under tests/."""
    names: set[str] = set()
    for path in TESTS.rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_"):
                names.add(node.name)
    return names



def test_every_hookspec_has_a_test():
    defined = defined_test_names()
    missing = sorted(hook for hook in SPECS if f"test_{hook}" not in defined)
    assert not missing, f"hookspecs without a test named test_<hook> under tests/: {missing}"


@pytest.mark.parametrize("hook", sorted(SPECS))
def test_hookspec_is_documented(hook):
    assert HOOKS_RST.exists(), f"{HOOKS_RST} is missing: it documents every hook"
    signature = f"{hook}({', '.join(argnames(hook))})"
    assert signature in HOOKS_RST.read_text(encoding="utf-8"), f"docs/hooks.rst does not show {signature}"


def test_loop_pseudocode_marks_every_hook():
    """The module docstring marks each hook as ``<lit_...>`` where it fires.

    The test and predict loops are told once, as the validation loop they mirror: their six
    hooks are covered by the validation hook of the same phase.
    """
    doc = hookspecs.__doc__
    marked = set(re.findall(r"<(lit_\w+)", doc))
    assert {"test()", "predict()"} <= set(re.findall(r"\w+\(\)", doc)), "the docstring says test() and predict() run that loop"
    mirrored = {hook: re.sub(r"^lit_(test|predict)_", "lit_validation_", hook) for hook in SPECS}
    missing = sorted(hook for hook, stand_in in mirrored.items() if stand_in not in marked)
    assert not missing, f"hooks with no <marker> in the hookspecs docstring's loop: {missing}"
    assert marked <= set(SPECS), f"markers that name no hook: {sorted(marked - set(SPECS))}"
