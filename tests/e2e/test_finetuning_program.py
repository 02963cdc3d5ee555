"""The fine-tuning program (``finetune_backbone.py``): a pretrained backbone frozen, then unfrozen by
``BackboneFinetuning``, with ``EarlyStopping`` and ``LearningRateMonitor``, trains to a good accuracy."""

from __future__ import annotations

import csv
import runpy
from pathlib import Path

import pytest

PROGRAM = Path(__file__).resolve().parent / "finetune_backbone.py"


def test_finetuning_program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", [str(PROGRAM), "--root", str(tmp_path)])
    runpy.run_path(str(PROGRAM), run_name="__main__")
    out = capsys.readouterr().out
    assert "FIT DONE" in out

    with open(tmp_path / "lightning_logs" / "version_0" / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    alone = [float(r["lr-SGD"]) for r in rows if r.get("lr-SGD")]
    head = [float(r["lr-SGD/pg1"]) for r in rows if r.get("lr-SGD/pg1")]
    backbone = [float(r["lr-SGD/pg2"]) for r in rows if r.get("lr-SGD/pg2")]
    accuracy = [float(r["val_acc"]) for r in rows if r.get("val_acc")]
    # Epochs 0-1: the head alone, logged as lr-SGD; from epoch 2, two groups: /pg1 (StepLR halves it at epoch 3).
    assert alone == [0.05, 0.05]
    assert head[:3] == [0.05, 0.025, 0.025]
    # From epoch 2: the backbone at 0.1 x the head's lr, then x1.5 per epoch (capped at the head's lr).
    assert backbone[:3] == pytest.approx([0.005, 0.0075, 0.01125])
    assert len(accuracy) >= 3 and accuracy[-1] >= 0.9
