"""A Lightning 1.x-era argparse program (``legacy_argparse_program.py``) run as a user runs it:
it trains with the command-line flags, and each deprecation warning is shown once, by default."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a child Python process (importing torch takes seconds)

SCRIPT = Path(__file__).with_name("legacy_argparse_program.py")

WARNINGS = [
    "Trainer.add_argparse_args is deprecated",
    "RandomDataModule.add_argparse_args is deprecated",
    "RandomDataModule.from_argparse_args is deprecated",
    "Trainer.from_argparse_args is deprecated",
    "Trainer(weights_summary=None) is deprecated",
    "Trainer(progress_bar_refresh_rate=0) is deprecated",
    "Trainer(checkpoint_callback=False) is deprecated",
    "training_step returned a dict with 'log' / 'progress_bar' entries",
]


def test_1x_argparse_program_trains_and_warns_once_each(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}  # Python's default warning filters
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--max_epochs", "2", "--limit_train_batches", "3", "--accelerator", "cpu",
         "--default_root_dir", str(tmp_path), "--batch_size", "4", "--hidden_dim", "8", "--log_every_n_steps", "1"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "RESULT epochs=2 steps=6 batch_size=4 hidden=8 logged=['train_loss', 'val_loss']" in done.stdout
    assert "Total params" not in done.stdout  # weights_summary=None
    assert not list(tmp_path.rglob("*.ckpt"))  # checkpoint_callback=False
    for message in WARNINGS:
        assert done.stderr.count(message) == 1, f"{message!r} shown {done.stderr.count(message)} times:\n{done.stderr}"


def test_1x_argparse_program_help_lists_trainer_model_and_data_options(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for option in ("--max_epochs", "--limit_train_batches", "--gpus", "--hidden_dim", "--batch_size", "--num_workers"):
        assert option in done.stdout
