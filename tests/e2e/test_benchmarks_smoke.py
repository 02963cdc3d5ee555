"""The benchmark scripts run end to end in ``--quick`` mode and print their report.

Only the shape of the report is checked: timings on a shared machine are not asserted.
"""

from __future__ import annotations

import importlib.util
import json
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
def test_cli_startup_quick(tmp_path: Path) -> None:
    pytest.importorskip("lit_cli")
    out = run_quick("cli_startup.py", tmp_path)
    for kind in ("import torch", "lit"):
        assert re.search(rf"^{kind} +median \d+\.\d+ s", out, re.M), f"no timing for {kind!r}:\n{out}"
    assert re.search(r"^lit above import torch +[+-]\d+\.\d+ s", out, re.M)
    assert re.search(rf"^GOAL lit fit --help above import torch{VERDICT}", out, re.M)


@pytest.mark.slow
def test_fsdp_quick(tmp_path: Path) -> None:
    pytest.importorskip("lit_fsdp")
    out = run_quick("fsdp.py", tmp_path)
    for processes in (2, 4):
        assert re.search(rf"^GOAL fsdp memory per process, {processes} processes, off 1/N by{VERDICT}", out, re.M), out
    assert re.search(rf"^GOAL fsdp loss parity with ddp, 10 steps fp32, 2 processes, largest difference{VERDICT}", out, re.M)
    for kind in ("full", "sharded"):
        assert re.search(rf"^  {kind} +save +\d+\.\d ms +load +\d+\.\d ms$", out, re.M), f"no {kind!r} checkpoint row:\n{out}"
    assert list(tmp_path.iterdir()) == [], "the benchmark wrote into the working directory"


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
    for row in ("the check before: blocking all-reduce every step", r"the check now \(lit-checkpoint Preemption hook\)"):
        assert re.search(rf"^{row} +\d+\.\d +\d+\.\d\d%$", out, re.M), f"no {row!r} row:\n{out}"
    assert re.search(rf"^GOAL preemption check cost{VERDICT}", out, re.M)
    assert list(tmp_path.iterdir()) == [], "the benchmark wrote into the working directory"


def load_kernel_size():
    """``benchmarks/kernel_size.py`` as a module (it is a script, not part of any package)."""
    spec = importlib.util.spec_from_file_location("kernel_size", BENCHMARKS / "kernel_size.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_kernel_size_json(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / "kernel_size.py"), "--json"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert set(figures) >= {"lines", "private_trainer_access", "plugin_name_literals", "import_cycles", "duplicates"}
    lines = figures["lines"]
    files = lines["files"]
    assert files["trainer.py"]["code"] > 0 and files["hookspecs.py"]["docstring"] > 0
    for name, counts in files.items():
        assert counts["code"] + counts["docstring"] + counts["comment"] + counts["blank"] == counts["total"], name
    assert lines["core"]["total"] == sum(c["total"] for c in files.values())
    assert lines["largest_file"]["total"] == max(c["total"] for c in files.values())
    assert 0 < lines["kernel"]["code"] < lines["core"]["code"]
    assert lines["core_without_user_api"]["code"] == lines["core"]["code"] - lines["user_api"]["code"]
    assert lines["missing_listed_files"] == [], "KERNEL / USER_API in kernel_size.py name files that do not exist"
    private = figures["private_trainer_access"]
    assert private["total"] == sum(private["per_file"].values()) == len(private["sites"])
    assert all(site["field"].startswith("_") and site["field"] in private["fields"] for site in private["sites"])
    assert not any(f.endswith("lit_core/trainer.py") for f in private["per_file"])
    literals = figures["plugin_name_literals"]
    assert {"tqdm", "tensorboard", "ddp", "lit-checkpoint"} <= set(literals["names_checked"])
    assert "csv" not in literals["names_checked"], "lit-core's own logger is not a plugin name"
    assert all(site["name"] in literals["names_checked"] for site in literals["sites"])
    assert literals["total"] == literals["plugin_names"] + literals["distribution_names"] == len(literals["sites"])
    cycles = figures["import_cycles"]
    assert cycles["modules"] == len(files)
    runtime, every = cycles["runtime"]["modules_in_cycles"], cycles["all"]["modules_in_cycles"]
    assert 0 <= runtime <= every and cycles["runtime"]["cycles"] >= 0
    duplicates = figures["duplicates"]
    assert duplicates["available"] is False or duplicates["pairs"] >= duplicates["pairs_not_boilerplate"] >= 0


def test_kernel_size_goals(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, str(BENCHMARKS / "kernel_size.py"), "--goals"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    for label in ("kernel a plugin author must read (code lines)", "private trainer._ accesses outside trainer.py",
                  "runtime import cycles in lit_core"):
        assert re.search(rf"^GOAL {re.escape(label)}: \d+ <= \d+ -> (PASS|FAIL)$", out.stdout, re.M), out.stdout
    assert re.search(r"^largest file: \S+\.py \(\d+ lines", out.stdout, re.M)
    assert re.search(r"^(duplicates: not available|== duplicates: \d+ pairs)", out.stdout, re.M)


def test_kernel_size_import_kinds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A runtime import, one under ``if TYPE_CHECKING:`` and one inside a function are told apart."""
    kernel_size = load_kernel_size()
    package = tmp_path / "lit_core"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("import lit_core.b\n")
    (package / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\n\ndef f():\n    from .a import x\n"
    )
    (package / "c.py").write_text("from .d import y\n")
    (package / "d.py").write_text("try:\n    from .c import z\nexcept ImportError:\n    pass\n")
    monkeypatch.setattr(kernel_size, "CORE", package)
    cycles = kernel_size.measure_cycles()
    assert cycles["runtime"]["components"] == [["lit_core.c", "lit_core.d"]]
    assert cycles["runtime"]["shortest"] == [["lit_core.c", "lit_core.d", "lit_core.c"]]
    assert cycles["with_type_checking"]["components"] == cycles["with_deferred"]["components"] == [
        ["lit_core.a", "lit_core.b"], ["lit_core.c", "lit_core.d"]]
    assert kernel_size.strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}, "e": {"a"}}) == [["a", "b", "c"], ["d"]]
