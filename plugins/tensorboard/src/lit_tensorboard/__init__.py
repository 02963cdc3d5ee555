"""lit-tensorboard: Lightning's ``TensorBoardLogger`` for lit.

``from lit_tensorboard import TensorBoardLogger``. Installed, it is lit's default logger (entry
point ``tensorboard`` in ``lit.loggers``): ``lit.Trainer()`` writes TensorBoard event files to
``<default_root_dir>/lightning_logs/version_N/``.
"""

from .logger import TensorBoardLogger

__version__ = "0.1.0"

__all__ = ["TensorBoardLogger", "__version__"]
