"""lit-checkpoint: Lightning's ``ModelCheckpoint`` for lit, on local disks or any fsspec filesystem.

``from lit_checkpoint import ModelCheckpoint``. Installed, it is lit's default checkpointing
callback (entry point ``checkpoint`` in ``lit.callbacks``): ``lit.Trainer()`` saves a checkpoint
after every epoch unless ``enable_checkpointing=False``. Lightning's checkpoint IO plugins are here
too: ``CheckpointIO`` (subclass it: ``Trainer(plugins=[MyCheckpointIO()])``), ``TorchCheckpointIO``,
``AsyncCheckpointIO``.
"""

from .async_save import AsyncCheckpointIO
from .checkpoint_io import CheckpointIO, TorchCheckpointIO
from .io import FsspecCheckpointIO
from .model_checkpoint import ModelCheckpoint
from .preemption import Preemption

__version__ = "0.1.0"

__all__ = ["AsyncCheckpointIO", "CheckpointIO", "FsspecCheckpointIO", "ModelCheckpoint", "Preemption", "TorchCheckpointIO",
           "__version__"]
