"""Lightning's ``lightning.pytorch.core``, mirrored: ``from lit_core.core import LightningModule``."""
