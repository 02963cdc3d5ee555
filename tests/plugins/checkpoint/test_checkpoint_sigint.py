"""Ctrl+C sent to a real ``python train.py``: it shuts down gracefully and exits with status 1
(Lightning 2.6), the CSV logger's files are complete and no checkpoint is left half-written."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import torch

TRAIN = textwrap.dedent('''
    import sys, time
    import torch
    from torch.utils.data import DataLoader, TensorDataset
    import lit_core as lit
    from lit_core.builtins.csv_logger import CSVLogger
    from lit_checkpoint import ModelCheckpoint

    class Net(lit.LightningModule):
        def __init__(self, width=16):
            super().__init__()
            self.save_hyperparameters()
            self.layer = torch.nn.Linear(4, width)
            self.head = torch.nn.Linear(width, 1)

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.head(torch.relu(self.layer(x))), y)
            self.log("train_loss", loss)
            return loss

        def on_train_batch_end(self, outputs, batch, batch_idx):
            print(f"step {self.trainer.global_step}", flush=True)
            time.sleep(0.05)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    if __name__ == "__main__":
        root = sys.argv[1]
        g = torch.Generator().manual_seed(0)
        data = TensorDataset(torch.randn(64, 4, generator=g), torch.randn(64, 1, generator=g))
        trainer = lit.Trainer(default_root_dir=root, max_epochs=1000, accelerator="cpu", log_every_n_steps=1,
                              logger=CSVLogger(root), enable_progress_bar=False, enable_model_summary=False,
                              callbacks=[ModelCheckpoint(dirpath=f"{root}/ckpt", every_n_train_steps=1, save_last=True)])
        trainer.fit(Net(), DataLoader(data, batch_size=8))
        print("fit returned", flush=True)  # never reached: Ctrl+C ends the program with status 1
''')


def test_sigint_to_a_training_script(tmp_path: Path):
    script = tmp_path / "train.py"
    script.write_text(TRAIN)
    process = subprocess.Popen([sys.executable, str(script), str(tmp_path)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        assert line, f"the script ended early: {lines}\n{process.stderr.read()}"
        lines.append(line.strip())
        if line.strip() == "step 5":
            break
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1, f"exit {process.returncode}\n{out}\n{err}"
    assert "Detected KeyboardInterrupt, attempting graceful shutdown" in err
    assert "Traceback" not in err and "fit returned" not in out

    log_dir = tmp_path / "lightning_logs" / "version_0"
    with open(log_dir / "metrics.csv", newline="") as f:
        steps = [int(row["step"]) for row in csv.DictReader(f) if row["train_loss"]]
    assert len(steps) >= 4 and steps == list(range(len(steps))), "rows buffered before Ctrl+C were written"
    assert (log_dir / "hparams.yaml").read_text().strip() == "width: 16"

    ckpts = sorted((tmp_path / "ckpt").iterdir())
    assert ckpts and not [p for p in ckpts if not p.name.endswith(".ckpt")], f"no partial files: {ckpts}"
    last = torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=False)
    assert last["global_step"] >= 5 and set(last["state_dict"]) == {"layer.weight", "layer.bias", "head.weight", "head.bias"}
    for path in ckpts:
        torch.load(path, weights_only=False)  # every file is a complete checkpoint
