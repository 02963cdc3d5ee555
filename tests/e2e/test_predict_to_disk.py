"""Runs predict_to_disk.py, a user's train-then-infer script, and checks what it wrote."""

from __future__ import annotations

import csv
import runpy
import sys
from pathlib import Path

import torch

SCRIPT = Path(__file__).with_name("predict_to_disk.py")


def test_train_then_write_predictions(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), str(tmp_path)])
    namespace = runpy.run_path(str(SCRIPT), run_name="__main__")
    out = capsys.readouterr().out

    # ModelSummary(max_depth=2) replaced the default table, with nested layers and sizes.
    assert out.count("Total params") == 1
    assert "backbone.2" in out and "[2, 8]" in out and "Total Flops" in out

    # DeviceStatsMonitor logged CPU statistics at the logging steps (4 batches x 2 epochs, every 2).
    metrics = next(tmp_path.glob("lightning_logs/version_*/metrics.csv"))
    with open(metrics) as f:
        rows = [r for r in csv.DictReader(f) if r.get("DeviceStatsMonitor.on_train_batch_end/cpu_percent")]
    assert [int(r["step"]) for r in rows] == [1, 3, 5, 7]

    # The writer wrote each batch and the whole epoch; indices map predictions to samples.
    model = namespace["Classifier"]()
    model.load_state_dict(torch.load(tmp_path / "final.ckpt", weights_only=False)["state_dict"])
    model.eval()
    data = namespace["make_data"](40, seed=2)
    with torch.no_grad():
        expected = model(data.tensors[0]).softmax(dim=-1)
    pred_dir = tmp_path / "predictions"
    batches = [torch.load(pred_dir / f"batch_0_{i}.pt") for i in range(3)]
    assert [len(b["batch_indices"]) for b in batches] == [16, 16, 8]
    for b in batches:
        torch.testing.assert_close(b["prediction"], expected[b["batch_indices"]])
    predictions = torch.load(pred_dir / "predictions_0.pt")
    indices = torch.load(pred_dir / "batch_indices_0.pt")
    assert sorted(i for batch in indices[0] for i in batch) == list(range(40)), "shuffled, every sample once"
    torch.testing.assert_close(torch.cat(predictions), expected[[i for batch in indices[0] for i in batch]])
