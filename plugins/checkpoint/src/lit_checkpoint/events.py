"""What ``ModelCheckpoint`` tells other plugins about its files: the ``lit_checkpoint_saved`` event.

Loggers upload checkpoints on it (``log_model``), knowing nothing of ``ModelCheckpoint``. A file is
announced once it is on disk: ``ModelCheckpoint`` queues the call behind a background write
(``AsyncCheckpointIO.after_writes``), so the arguments are taken when the file is saved and the
call made later. Deletions are announced with ``lit_checkpoint_removed`` where they happen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import lit_core as lit

from . import io

if TYPE_CHECKING:
    from .model_checkpoint import ModelCheckpoint


def saved_event(callback: ModelCheckpoint, trainer: lit.Trainer, path: str, kind: str) -> Callable[[], None]:
    """A call of ``lit_checkpoint_saved`` for ``path``, its arguments taken now (the state may change before it runs)."""
    event = {
        "trainer": trainer, "path": path, "kind": kind, "score": callback.best_k_models.get(path),
        "monitor": callback.monitor, "is_best": path == callback.best_model_path, "source": callback.state_key,
        "settings": {"monitor": callback.monitor, "mode": callback.mode, "save_last": callback.save_last,
                     "save_top_k": callback.save_top_k, "dirpath": callback.dirpath},
    }
    hook = trainer.plugin_manager.hook.lit_checkpoint_saved

    def call() -> None:
        hook(**event)

    return call


def announce_restored(callback: ModelCheckpoint, trainer: lit.Trainer) -> None:
    """Announce the files ``callback``'s restored state names (best ``k``, best, last) that still exist.

    An earlier process wrote them; after a resume a logger with ``log_model`` uploads them as
    Lightning's loggers do (they read the restored ``best_k_models`` off the callback).
    """
    for path in dict.fromkeys([*callback.best_k_models, callback.best_model_path]):
        if path and io.exists(path):
            saved_event(callback, trainer, path, "top_k")()
    if callback.last_model_path and io.exists(callback.last_model_path):
        saved_event(callback, trainer, callback.last_model_path, "last")()
