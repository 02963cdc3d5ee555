"""The benchmark scripts run end to end in ``--quick`` mode and print their report.

Only the shape of the report is checked: timings on a shared machine are not asserted.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
VERDICT = r": .+ <= .+ -> (PASS|FAIL)$"


def run_quick(script: str, cwd: Path) -> str:
    """Run ``benchmarks/<script> --quick`` in ``cwd``; its stdout, after checking it exited 0."""
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick"], cwd=cwd, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, f"{script} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.mark.slow
def test_overhead_quick(tmp_path: Path) -> None:
    out = run_quick("overhead.py", tmp_path)
    assert re.search(r"^lightning: ", out, re.M)
    for title in ("== tiny: Linear(32->2)", "== seed MLP (LitMNIST 784-128-256-10)"):
        table = out[out.index(title) :]
        for config in ("raw", "lit default", "lit default, no bar", "lit-core default", "lit barebones"):
            assert re.search(rf"^{config} +\d+\.\d", table, re.M), f"no {config!r} row under {title!r}:\n{out}"
        assert re.search(r"^progress bar cost: [+-]\d+\.\d µs/step", table, re.M), f"no bar cost under {title!r}:\n{out}"
    assert re.search(r"^progress bar in lit default: ", out, re.M)
    for label in ("lit default overhead, tiny model", "lit barebones overhead, tiny model",
                  "lit-core default wall ratio, seed MLP", "progress bar cost, tiny model"):
        assert re.search(rf"^GOAL {re.escape(label)}{VERDICT}", out, re.M), f"no GOAL line for {label!r}:\n{out}"
    assert re.search(r"^REPORT lit default with every installed plugin .* seed MLP: \d\.\d+x; without the bar \d\.\d+x$",
                     out, re.M), f"no REPORT line for the default with every plugin:\n{out}"
    tiny = out[out.index("== tiny: Linear(32->2)") : out.index("== seed MLP")]
    callbacks = "lit default + EarlyStopping + LearningRateMonitor"
    assert re.search(rf"^{re.escape(callbacks)} +\d+\.\d", tiny, re.M), f"no {callbacks!r} row under the tiny model:\n{out}"
    assert re.search(r"^EarlyStopping \+ LearningRateMonitor cost: [+-]\d+\.\d µs/step", tiny, re.M)
    label = "EarlyStopping + LearningRateMonitor cost, tiny model"
    assert re.search(rf"^GOAL {re.escape(label)}{VERDICT}", out, re.M), f"no GOAL line for {label!r}:\n{out}"
    assert list(tmp_path.iterdir()) == [], "the benchmark wrote into the working directory"


@pytest.mark.slow
def test_import_time_quick(tmp_path: Path) -> None:
    out = run_quick("import_time.py", tmp_path)
    for kind in ("torch", "lit_core", "lit_core after torch"):
        assert re.search(rf"^import {kind} +median \d+\.\d+ s", out, re.M), f"no timing for {kind!r}:\n{out}"
    assert re.search(r"^difference +[+-]\d+\.\d+ s", out, re.M)
    assert re.search(r"^ +\d+\.\d+ +\d+\.\d+ +lit_core\.\S+ +\S+$", out, re.M), f"no lit_core module in the import profile:\n{out}"
    assert re.search(rf"^GOAL import lit_core above import torch{VERDICT}", out, re.M)


@pytest.mark.slow
def test_loop_cost_quick(tmp_path: Path) -> None:
    out = run_quick("loop_cost.py", tmp_path)
    for config in ("raw", "lit default", "lit barebones"):
        assert re.search(rf"^{config} +\d+\.\d+ +\d+\.\d+", out, re.M), f"no {config!r} row:\n{out}"
    for label in ("lit default loop cost (min)", "lit barebones loop cost (min)"):
        assert re.search(rf"^GOAL {re.escape(label)}{VERDICT}", out, re.M), f"no GOAL line for {label!r}:\n{out}"


@pytest.mark.slow
def test_checkpoint_quick(tmp_path: Path) -> None:
    out = run_quick("checkpoint.py", tmp_path)
    for writer in ("lit save_checkpoint", "torch.save", "torch.save + fsync"):
        assert re.search(rf"^{re.escape(writer)} +\d+\.\d+ +\d+\.\d+", out, re.M), f"no {writer!r} row:\n{out}"
    for reader in ("torch.load", "lit load", "verify alone", "lit load, torch.save file"):
        assert re.search(rf"^{re.escape(reader)} +\d+\.\d+ +\d+\.\d+", out, re.M), f"no {reader!r} row:\n{out}"
    assert re.search(r"^verification cost, lit checkpoint: [+-]\d+\.\d ms per load", out, re.M)
    for writer in ("synchronous", "AsyncCheckpointIO"):
        assert re.search(rf"^{writer} +\d+ +\d+\.\d+ +[\d. ]+", out, re.M), f"no {writer!r} stall row:\n{out}"
    for label in ("lit save time / bare torch.save", "lit save time / torch.save + fsync (the same durability)",
                  "async save stall (max per save)"):
        assert re.search(rf"^GOAL {re.escape(label)}{VERDICT}", out, re.M), f"no GOAL line for {label!r}:\n{out}"
    assert list(tmp_path.iterdir()) == [], "the benchmark wrote into the working directory"


@pytest.mark.slow
def test_ddp_quick(tmp_path: Path) -> None:
    out = run_quick("ddp.py", tmp_path)
    for name in ("1", "2 (ddp)", "2 independent halves, #1", "2 independent halves, #2"):
        assert re.search(rf"^{re.escape(name)} +\d+\.\d+ +\d+\.\d+ +\d+$", out, re.M), f"no {name!r} row:\n{out}"
    assert re.search(r"^machine bound \(2 independent halves / 1 process\): \d+\.\d+$", out, re.M)
    assert re.search(rf"^GOAL 2-process epoch time / 1-process{VERDICT}", out, re.M)
    for loop in ("plain PyTorch", "plain PyTorch \\+ DistributedDataParallel", "lit, strategy='auto'", "lit, strategy='ddp'",
                 "lit, strategy='ddp', accumulate 2"):
        assert re.search(rf"^{loop} +\d+\.\d$", out, re.M), f"no {loop!r} row:\n{out}"
    assert re.search(r"^strategy='ddp' cost in lit: [+-]\d+\.\d µs/step; beyond torch's own: [+-]\d+\.\d µs/step$", out, re.M)
    assert list(tmp_path.iterdir()) == [], "the benchmark wrote into the working directory"
