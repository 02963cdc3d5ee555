"""``DataHooks``: the data methods a ``LightningModule`` and a ``LightningDataModule`` share.

As in Lightning (``lightning.pytorch.core.hooks.DataHooks``), both classes inherit them, so a
project moves its data code between the module and a data module without renaming anything.
The kernel calls a dataloader method only when the class overrides it; the batch-transfer
methods of a data module are called instead of the module's when the data module overrides them.
"""

from __future__ import annotations

from typing import Any

import torch

from .apply import move_data_to_device


class DataHooks:
    """``prepare_data``, ``setup``, ``teardown``, the four ``*_dataloader`` methods and the batch-transfer hooks."""

    def prepare_data(self) -> None:
        """Download or write data once (per node, or per job with ``prepare_data_per_node=False``); set no state here."""

    def setup(self, stage: str | None = None) -> None:
        """Called on every process with the stage being run (``"fit"``, ``"validate"``...), before its loop."""

    def teardown(self, stage: str | None = None) -> None:
        """Called on every process after the stage's loop: release what ``setup`` built."""

    def train_dataloader(self) -> Any:
        """The training dataloader(s), when they are not given to ``fit``."""
        raise NotImplementedError

    def val_dataloader(self) -> Any:
        """The validation dataloader(s)."""
        raise NotImplementedError

    def test_dataloader(self) -> Any:
        """The test dataloader(s)."""
        raise NotImplementedError

    def predict_dataloader(self) -> Any:
        """The predict dataloader(s)."""
        raise NotImplementedError

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Change a batch before it is moved to the device."""
        return batch

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        """Move a batch to ``device``; override for custom batch types."""
        return move_data_to_device(batch, device)

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """Change a batch after it is on the device."""
        return batch
