"""lit-wandb: Lightning's ``WandbLogger`` for lit.

``from lit_wandb import WandbLogger``, or ``lit.Trainer(logger="wandb")`` (entry point ``wandb``
in ``lit.loggers``).
"""

from .logger import WandbLogger

__version__ = "0.1.0"

__all__ = ["WandbLogger", "__version__"]
