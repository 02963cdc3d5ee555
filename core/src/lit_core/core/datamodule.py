"""Lightning's ``core.datamodule`` path for ``LightningDataModule``."""

from ..datamodule import LightningDataModule

__all__ = ["LightningDataModule"]
