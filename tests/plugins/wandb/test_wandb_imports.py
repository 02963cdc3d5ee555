"""wandb is imported only when a WandbLogger starts its run, and its absence names the install."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lit_wandb import WandbLogger


def test_a_wandb_trainer_imports_wandb_only_when_the_run_starts(tmp_path):
    script = (
        "import sys, lit_core\n"
        f"trainer = lit_core.Trainer(logger='wandb', default_root_dir={str(tmp_path)!r})\n"
        "assert type(trainer.logger).__name__ == 'WandbLogger' and trainer.logger.version\n"
        "assert 'wandb' not in sys.modules, 'imported before the run starts'\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True, timeout=120)


def test_missing_wandb_names_the_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "wandb", None)
    with pytest.raises(ModuleNotFoundError, match=r"WandbLogger needs the `wandb` package.*`pip install wandb`"):
        WandbLogger(save_dir=tmp_path)
