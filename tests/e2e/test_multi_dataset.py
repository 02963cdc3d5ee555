"""``multi_dataset.py``, a user's two-task script: a dict of training loaders, a list of validation loaders."""

from __future__ import annotations

import csv
import importlib.util
import math
from pathlib import Path

SCRIPT = Path(__file__).with_name("multi_dataset.py")


def test_two_tasks_train_together_and_validate_per_loader(tmp_path):
    spec = importlib.util.spec_from_file_location("multi_dataset", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = script.main(str(tmp_path))

    # 32 and 80 training samples in batches of 8: the longest (10 batches) sets the epoch, 3 epochs.
    assert out["num_training_batches"] == 10 and out["train_batches"] == 30 and out["global_step"] == 30
    # 8 and 20 validation samples: 1 and 3 batches, after each of the 3 epochs and once more in validate().
    assert out["num_val_batches"] == [1, 3] and out["val_batches"] == [4, 12]
    assert [sorted(r) for r in out["validate"]] == [["val_loss/dataloader_idx_0"], ["val_loss/dataloader_idx_1"]]
    # validate() starts with no metrics, as Lightning's every stage does: the training ones are gone.
    assert set(out["metrics"]) == {"val_loss/dataloader_idx_0", "val_loss/dataloader_idx_1"}
    assert out["datamodule"].splitlines()[:2] == ["{Train dataloader: 1. size=32 ; 2. size=80}",
                                                 "{Validation dataloader: 1. size=8 ; 2. size=20}"]

    # The data module's and the model's hyperparameters, together in the logger's hparams.yaml.
    assert out["hparams"] == {"batch_size": 8, "n_small": 40, "n_large": 100, "hidden": 16, "lr": 0.05}

    # Each task's validation loss, per epoch, in the CSV logger's file: both heads learned (the
    # targets' variances are 3 and 12: predicting a constant would score about that).
    with open(out["metrics_csv"], newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("val_loss/dataloader_idx_1")]
    per_epoch = [(float(r["val_loss/dataloader_idx_0"]), float(r["val_loss/dataloader_idx_1"])) for r in rows]
    assert len(per_epoch) == 4 and all(math.isfinite(v) for pair in per_epoch for v in pair)
    assert per_epoch[-1][0] < 0.5 and per_epoch[-1][1] < 1.5
