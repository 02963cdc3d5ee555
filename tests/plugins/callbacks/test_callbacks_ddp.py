"""The callbacks under lit-ddp: two CPU processes agree on stopping; only rank zero logs."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parent / "ddp_callbacks_script.py"


def test_every_rank_stops_when_one_decides(tmp_path: Path) -> None:
    pytest.importorskip("lit_ddp")
    script = tmp_path / "train.py"
    shutil.copy(SCRIPT, script)
    out = tmp_path / "out"
    out.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    result = subprocess.run([sys.executable, str(script), str(out)], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    # Rank 1 stops improving at epoch 2 (patience 1): both ranks stop there, though rank 0 kept improving.
    assert [r["current_epoch"] for r in ranks] == [3, 3]
    assert [r["stopped_epoch"] for r in ranks] == [2, 2]
    assert [r["wait_count"] for r in ranks] == [0, 1]
    # LearningRateMonitor: one csv folder, written by rank zero only, one row per step.
    assert [p.name for p in (out / "lightning_logs").iterdir()] == ["version_0"]
    with open(out / "lightning_logs" / "version_0" / "metrics.csv", newline="") as f:
        steps = [int(row["step"]) for row in csv.DictReader(f) if row.get("lr-SGD")]
    # 16 samples over 2 ranks in batches of 4: 2 steps an epoch, 3 epochs. An optimizer without a
    # scheduler is logged at each epoch's start and at each step, as Lightning's monitor does.
    assert steps == [0, 0, 1, 2, 2, 3, 4, 4, 5]
