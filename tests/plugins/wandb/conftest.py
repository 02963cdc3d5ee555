"""Fixtures for lit-wandb's tests: wandb in offline mode with every file under the test's folder,
a model that logs its loss every step, and a reader for the run file (``wandb_reader.py``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import lit_core as lit

sys.path.insert(0, os.path.dirname(__file__))  # tests/ is not a package: make wandb_reader importable

from wandb_reader import OfflineRun, read_run


@pytest.fixture(autouse=True)
def wandb_env(tmp_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Offline, quiet, no git or code capture, and wandb's folders (and netrc) inside ``tmp_root``."""
    home = tmp_root / "wandb-home"
    home.mkdir()
    (home / "netrc").write_text("")
    for var in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_CONFIG_DIR", "WANDB_DATA_DIR", "WANDB_ARTIFACT_DIR"):
        monkeypatch.setenv(var, str(home))
    monkeypatch.setenv("NETRC", str(home / "netrc"))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_CONSOLE", "off")
    monkeypatch.setenv("WANDB_DISABLE_GIT", "true")
    monkeypatch.setenv("WANDB_DISABLE_CODE", "true")
    for var in ("WANDB_API_KEY", "WANDB_PROJECT", "WANDB_ENTITY", "WANDB_RUN_ID", "WANDB_RESUME"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture(scope="module", autouse=True)
def wandb_service_stopped() -> Iterator[None]:
    """Stop wandb's service process once the module's tests are done."""
    yield
    if "wandb" in sys.modules:
        sys.modules["wandb"].teardown()


@pytest.fixture
def offline_run() -> Callable[[str | Path], OfflineRun]:
    """``offline_run(save_dir)``: the one offline run written under ``save_dir``, decoded."""
    return lambda save_dir: read_run(str(save_dir))


@pytest.fixture
def logging_model(boring_model: type[lit.LightningModule]) -> type[lit.LightningModule]:
    """The ``boring_model`` logging ``loss`` every training step; ``losses`` keeps ``(global_step, loss)``."""

    class LoggingModel(boring_model):
        def __init__(self, **hparams: Any) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.losses: list[tuple[int, float]] = []

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            loss = self.loss(batch)
            self.losses.append((self.trainer.global_step, loss.item()))
            self.log("loss", loss)
            return loss

    return LoggingModel


@pytest.fixture
def wandb_trainer(tmp_root: Path) -> Callable[..., lit.Trainer]:
    """``wandb_trainer(**flags)``: a quiet Trainer with the wandb logger, under ``tmp_root``."""

    def make(**flags: Any) -> lit.Trainer:
        defaults: dict[str, Any] = {
            "default_root_dir": tmp_root,
            "max_epochs": 1,
            "logger": "wandb",
            "enable_progress_bar": False,
            "enable_checkpointing": False,
            "enable_model_summary": False,
            "num_sanity_val_steps": 0,
        }
        return lit.Trainer(**{**defaults, **flags})

    return make
