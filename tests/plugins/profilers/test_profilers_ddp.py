"""Profiling under lit-ddp: two CPU processes, one report file per rank."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parent / "ddp_profile_script.py"


def test_each_rank_writes_its_own_report(tmp_path: Path) -> None:
    pytest.importorskip("lit_ddp")
    script = tmp_path / "train.py"
    shutil.copy(SCRIPT, script)
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    result = subprocess.run([sys.executable, str(script), str(out)], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in out.glob("*.txt")) == ["fit-perf-0.txt", "fit-perf-1.txt"]
    for rank in (0, 1):
        report = (out / f"fit-perf-{rank}.txt").read_text()
        assert report.startswith("FIT Profiler Report")
        # 16 samples over 2 ranks in batches of 4: 2 steps on each rank.
        row = next(line for line in report.splitlines() if "[LightningModule]Model.training_step" in line)
        assert row.split("|")[3].strip() == "2"
