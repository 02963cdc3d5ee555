"""``OnExceptionCheckpoint``: save a checkpoint when an exception interrupts a run."""

from __future__ import annotations

import os
from typing import Any

import lit_core as lit


class OnExceptionCheckpoint(lit.Callback):
    """Lightning's ``OnExceptionCheckpoint``: ``<dirpath>/<filename>.ckpt`` written when an exception ends fit/validate/test/predict.

    The file holds the state at the moment of the exception (``trainer.save_checkpoint``), so
    ``trainer.fit(model, ckpt_path=cb.ckpt_path)`` continues from there. A run that ends
    without an exception removes the file it would have written (a stale one from an
    earlier crash must not be mistaken for this run's).

    Args:
        dirpath: the folder of the checkpoint (required: an exception may come before setup).
        filename: the file's name without extension.

    Raises:
        ValueError: ``filename`` is empty.

    >>> OnExceptionCheckpoint("ckpts").ckpt_path == os.path.join("ckpts", "on_exception.ckpt")
    True
    """

    FILE_EXTENSION = ".ckpt"

    def __init__(self, dirpath: str | os.PathLike, filename: str = "on_exception") -> None:
        if not filename:
            raise ValueError("The filename cannot be empty")
        self.dirpath = dirpath
        self.filename = filename

    @property
    def ckpt_path(self) -> str:
        """Where the checkpoint is written."""
        return os.path.join(self.dirpath, self.filename + self.FILE_EXTENSION)

    def on_exception(self, trainer: lit.Trainer, *_: Any) -> None:
        if trainer.lightning_module is None:
            return
        os.makedirs(self.dirpath, exist_ok=True)
        trainer.save_checkpoint(self.ckpt_path)

    def teardown(self, trainer: lit.Trainer, *_: Any) -> None:
        if trainer.is_global_zero and os.path.exists(self.ckpt_path):
            os.remove(self.ckpt_path)
