"""``benchmarks/profiler.py`` runs and prints its goal line (the figures of a ``--quick`` run are noise)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "profiler.py"


@pytest.mark.skipif(not SCRIPT.is_file(), reason="the repository's benchmarks are not here")
def test_the_profiler_benchmark_prints_lits_cost_and_says_why_lightning_is_missing(tmp_path: Path):
    result = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--steps", "120", "--lightning-python",
                             str(tmp_path / "no-python")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(r"^lit_core \S+ +[\d.]+ +[+-][\d.]+ +[+-][\d.]+ +[+-][\d.]+ +[\d.]+x$", out, re.M), out
    assert "lightning: skipped, no interpreter at" in out
    assert re.search(r"^GOAL lit SimpleProfiler cost, tiny model: -?[\d.]+ µs/step <= 10 µs/step -> (PASS|FAIL)$", out, re.M)
