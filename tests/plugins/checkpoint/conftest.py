"""Fixtures for lit-checkpoint's tests: a model whose monitored value is scripted per epoch, and
a listing of the checkpoint files a run left.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

import lit_core as lit


@pytest.fixture
def scripted_model(boring_model: type[lit.LightningModule]) -> Callable[..., lit.LightningModule]:
    """``scripted_model(scores, name="val_loss")``: validation logs ``name`` = ``scores[epoch]``.

    The score is logged in every validation batch, so its epoch mean is the scripted value
    exactly; training is the ``boring_model``'s (4 batches of 2 per epoch).
    """

    class Scripted(boring_model):
        def __init__(self, scores: list[float], name: str = "val_loss") -> None:
            super().__init__()
            self.scores = scores
            self.metric = name

        def validation_step(self, batch: Any, batch_idx: int) -> None:
            self.log(self.metric, torch.tensor(float(self.scores[self.current_epoch])))

    return Scripted


@pytest.fixture
def files() -> Callable[[Path], list[str]]:
    """``files(folder)``: every file (and link) under ``folder``, as sorted relative paths."""

    def listing(folder: Path) -> list[str]:
        found = []
        for root, _, names in os.walk(folder):
            found += [os.path.relpath(os.path.join(root, name), folder) for name in names]
        return sorted(found)

    return listing
