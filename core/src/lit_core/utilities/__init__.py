"""Lightning's ``lightning.pytorch.utilities``, mirrored: ``from lit_core.utilities import ...``."""
