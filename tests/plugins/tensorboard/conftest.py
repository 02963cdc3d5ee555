"""Fixtures for lit-tensorboard's tests: a model that logs its training loss every step, and a
reader for the event files a run wrote (TensorBoard's own ``EventAccumulator``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import lit_core as lit


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
def events() -> Callable[[Path | str], EventAccumulator]:
    """``events(log_dir)``: every event file in ``log_dir``, loaded (scalars, graph, plugin data)."""

    def load(log_dir: Path | str) -> EventAccumulator:
        accumulator = EventAccumulator(str(log_dir))
        accumulator.Reload()
        return accumulator

    return load


@pytest.fixture
def tb_trainer(tmp_root: Path) -> Callable[..., lit.Trainer]:
    """``tb_trainer(**flags)``: a quiet Trainer with the tensorboard logger, under ``tmp_root``."""

    def make(**flags: Any) -> lit.Trainer:
        defaults: dict[str, Any] = {
            "default_root_dir": tmp_root,
            "max_epochs": 1,
            "logger": "tensorboard",
            "enable_progress_bar": False,
            "enable_checkpointing": False,
            "enable_model_summary": False,
            "num_sanity_val_steps": 0,
        }
        return lit.Trainer(**{**defaults, **flags})

    return make
