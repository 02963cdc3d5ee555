"""``Checkpoint``: the base class of checkpointing callbacks (Lightning's ``callbacks.checkpoint``)."""

from ..callback import Callback


class Checkpoint(Callback):
    """Base class of callbacks that save checkpoints (lit-checkpoint's ``ModelCheckpoint``, ...).

    ``trainer.checkpoint_callbacks`` lists the callbacks that are instances of it, as in Lightning.
    """
