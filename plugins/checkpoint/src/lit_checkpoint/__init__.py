"""lit-checkpoint: Lightning's ``ModelCheckpoint`` for lit, on local disks or any fsspec filesystem.

``from lit_checkpoint import ModelCheckpoint``. Installed, it is lit's default checkpointing
callback (entry point ``checkpoint`` in ``lit.callbacks``): ``lit.Trainer()`` saves a checkpoint
after every epoch unless ``enable_checkpointing=False``.
"""

from .async_save import AsyncCheckpointIO
from .io import CheckpointIO
from .model_checkpoint import ModelCheckpoint
from .preemption import Preemption

__version__ = "0.1.0"

__all__ = ["AsyncCheckpointIO", "CheckpointIO", "ModelCheckpoint", "Preemption", "__version__"]
