"""What the test scripts share: the model whose losses are compared, and its eager CPU reference."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import torch

import lit_core as lit

# The suite's BoringModel and loaders, from tests/conftest.py (under pytest, "conftest" in
# sys.modules is tests/xla/conftest.py, hence the import by path).
_spec = importlib.util.spec_from_file_location("lit_suite_conftest", Path(__file__).resolve().parents[2] / "conftest.py")
_suite = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_suite)
BoringModel, make_loader = _suite.BoringModel, _suite.make_loader

#: 64 samples in batches of 8: 8 optimizer steps per epoch; 8 splits evenly over 4 SPMD devices.
SAMPLES, BATCH = 64, 8


class Recorded(BoringModel):
    """``BoringModel`` with SGD(lr=0.1) that keeps each training loss (detached, on its device)."""

    def __init__(self) -> None:
        super().__init__()
        self.losses: list[torch.Tensor] = []

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = self.loss(batch)
        self.losses.append(loss.detach())
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def cpu_losses(self) -> list[float]:
        return [float(loss.cpu()) for loss in self.losses]


def loader() -> torch.utils.data.DataLoader:
    return make_loader(n=SAMPLES, batch_size=BATCH)


def fit(max_epochs: int = 3, **flags: Any) -> tuple[lit.Trainer, Recorded]:
    """Train a ``Recorded`` model quietly; ``flags`` go to the Trainer."""
    model = Recorded()
    trainer = lit.Trainer(max_epochs=max_epochs, logger=False, enable_progress_bar=False, enable_checkpointing=False,
                          enable_model_summary=False, num_sanity_val_steps=0, **flags)
    trainer.fit(model, loader())
    return trainer, model
