"""What a failed save leaves behind in ``ModelCheckpoint``'s state: nothing that names a missing file.

``ModelCheckpoint`` updates its state (``best_k_models``, ``best_model_path``,
``last_model_path`` ...) before it writes, because that state is part of the checkpoint written.
When the write fails (a full disk), the state would name a file that does not exist:

* a synchronous save is undone where it fails (``rolled_back_on_failure``): the state is put back
  as it was; nothing displaced was deleted yet (deletions come after every write of a save
  point), so every path in it still exists;
* a background save (``AsyncCheckpointIO``) fails later, on the writer thread; when ``fit`` ends
  with that error, ``forget_unwritten`` drops the paths of the files that never reached the disk.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING

import lit_core as lit

from . import io
from .async_save import async_checkpoint_io

if TYPE_CHECKING:
    from .model_checkpoint import ModelCheckpoint

#: The state a failed save puts back (``best_k_models`` is copied besides).
_STATE = ("best_model_path", "best_model_score", "kth_best_model_path", "kth_value", "current_score",
          "last_model_path", "_last_global_step_saved", "_last_checkpoint_saved")


@contextmanager
def rolled_back_on_failure(callback: ModelCheckpoint) -> Iterator[None]:
    """Put ``callback``'s state back as it was when the block raises (the exception propagates)."""
    state = {name: getattr(callback, name) for name in _STATE}
    state["best_k_models"] = dict(callback.best_k_models)
    try:
        yield
    except BaseException:
        for name, value in state.items():
            setattr(callback, name, value)
        raise


def wait_for_writes(trainer: lit.Trainer) -> None:
    """Return once the checkpoints written so far are on disk (raise the error of one that failed)."""
    writer = async_checkpoint_io(trainer)
    if writer is not None:
        writer.wait()


def forget_unwritten(callback: ModelCheckpoint, trainer: lit.Trainer, modes: dict) -> None:
    """After ``fit`` failed, drop from ``callback``'s state the checkpoints that never reached the disk.

    :param modes: ``ModelCheckpoint``'s table of ``mode`` -> (comparison, best of, worst of).
    """
    if not trainer.is_global_zero:
        return  # only global rank zero writes, and sees the files
    with suppress(Exception):  # the run's own exception is the one reported
        wait_for_writes(trainer)
    ranked = callback.best_k_models
    for path in [p for p in ranked if not io.exists(p)]:
        del ranked[path]
    _, best_of, worst_of = modes[callback.mode]
    if callback.kth_best_model_path and callback.kth_best_model_path not in ranked:
        callback.kth_best_model_path = worst_of(ranked, key=ranked.__getitem__, default="")
        callback.kth_value = ranked.get(callback.kth_best_model_path, callback.kth_value)
    if callback.best_model_path and not io.exists(callback.best_model_path):
        callback.best_model_path = best_of(ranked, key=ranked.__getitem__, default="")
        callback.best_model_score = ranked.get(callback.best_model_path)
    if callback.last_model_path and not io.exists(callback.last_model_path):
        callback.last_model_path = ""
