"""The reliability suite covers every case of issue 14, and ``docs/reliability.rst`` says so.

Each case ``N`` of the issue has at least one test function named ``test_case_NN_<what>``
somewhere in ``tests/reliability/``; the guarantees table in ``docs/reliability.rst`` names every
such test, and every test it names exists (so the table cannot drift from the suite).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

HERE = Path(__file__).parent
DOC = HERE.parents[1] / "docs" / "reliability.rst"
CASES = range(1, 21)  # the twenty cases of issue 14; cases added later get numbers above 20


def _case_tests() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(HERE.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and re.match(r"test_case_\d\d_", node.name):
                found[node.name] = path
    return found


def test_every_case_has_a_test() -> None:
    numbers = {int(name[len("test_case_") :][:2]) for name in _case_tests()}
    missing = [n for n in CASES if n not in numbers]
    assert not missing, f"cases without a test_case_NN_* test in tests/reliability/: {missing}"


def test_the_guarantees_table_names_every_case_test_and_nothing_else() -> None:
    text = DOC.read_text()
    named = set(re.findall(r"test_case_\d\d_\w+", text))
    tests = set(_case_tests())
    assert not (tests - named), f"tests missing from docs/reliability.rst: {sorted(tests - named)}"
    assert not (named - tests), f"docs/reliability.rst names tests that do not exist: {sorted(named - tests)}"
