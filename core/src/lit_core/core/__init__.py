"""Lightning's ``lightning.pytorch.core``, mirrored: ``from lit_core.core import LightningModule``."""

from ..datamodule import LightningDataModule
from ..module import LightningModule

__all__ = ["LightningDataModule", "LightningModule"]
