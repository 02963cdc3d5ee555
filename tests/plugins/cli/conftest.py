"""Fixtures of the lit-cli tests: quiet flags for a tiny real run, in a folder of the test's own."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _cli_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test in its own folder, with lit_cli_models importable and pytest's own argv out of sys.argv
    (LightningCLI(args=...) warns when the script's command line has arguments too)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["train.py"])
    monkeypatch.syspath_prepend(str(Path(__file__).parent))


@pytest.fixture
def quiet(tmp_path: Path) -> Callable[..., list[str]]:
    """``quiet(*more)``: flags for one tiny, silent CPU run (2 train batches, 1 val batch) writing under tmp_path."""

    def flags(*more: str) -> list[str]:
        return [f"--trainer.default_root_dir={tmp_path}", "--trainer.accelerator=cpu", "--trainer.max_epochs=1",
                "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1", "--trainer.limit_test_batches=1",
                "--trainer.limit_predict_batches=1", "--trainer.num_sanity_val_steps=0",
                "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
                "--trainer.enable_checkpointing=false", "--trainer.logger=false", *more]

    return flags
