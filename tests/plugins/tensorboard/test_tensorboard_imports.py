"""TensorBoard is imported only when a TensorBoardLogger writes, and its absence names the install."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lit_tensorboard import TensorBoardLogger


def run(script: str) -> None:
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True, timeout=120)


def test_csv_trainer_imports_no_tensorboard(tmp_path):
    run(
        "import sys, lit_core\n"
        f"lit_core.Trainer(logger='csv', default_root_dir={str(tmp_path)!r})\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorboard', 'wandb') or m == 'torch.utils.tensorboard')\n"
        "assert not heavy, heavy\n"
    )


def test_tensorboard_imported_when_the_writer_is_needed(tmp_path):
    run(
        "import sys, lit_core\n"
        f"trainer = lit_core.Trainer(default_root_dir={str(tmp_path)!r})\n"
        "assert type(trainer.logger).__name__ == 'TensorBoardLogger'\n"
        "assert 'tensorboard' not in sys.modules and 'torch.utils.tensorboard' not in sys.modules\n"
        "trainer.logger.experiment\n"
        "assert 'torch.utils.tensorboard' in sys.modules\n"
        "trainer.logger.finalize('success')\n"
    )


def test_missing_tensorboard_names_the_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with pytest.raises(ModuleNotFoundError, match=r"TensorBoardLogger needs the `tensorboard` package.*`pip install tensorboard`"):
        TensorBoardLogger(save_dir=tmp_path)
