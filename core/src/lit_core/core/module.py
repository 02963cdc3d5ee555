"""Lightning's ``core.module`` path for ``LightningModule``."""

from ..module import LightningModule

__all__ = ["LightningModule"]
