"""Lightning's ``CheckpointIO`` plugins: where a Trainer's checkpoints are written, read and removed.

``CheckpointIO`` is the base a user subclasses to store checkpoints their own way
(``Trainer(plugins=[MyCheckpointIO()])``); ``TorchCheckpointIO`` is lit's own writer as one of
them. A ``CheckpointIO`` is a lit hook plugin too: its ``lit_save_checkpoint`` and
``lit_load_checkpoint`` run first (``tryfirst``) and call ``save_checkpoint`` / ``load_checkpoint``,
so every ``trainer.save_checkpoint``, every ``ModelCheckpoint`` save and every ``ckpt_path=``
load goes through it; ``ModelCheckpoint`` removes the checkpoints it displaces (top-k) with
``remove_checkpoint``. Each answers lit's ``lit_checkpoint_io`` service hook with itself, in the
order its ``lit_save_checkpoint`` runs: ``trainer.strategy.checkpoint_io`` is the one that writes
the next checkpoint, found without scanning the plugin manager.

Without one, lit's hook chain does the same work (lit-core's atomic local writer, lit-checkpoint's
fsspec plugin for URLs); ``TorchCheckpointIO`` gives that behaviour as a Lightning-shaped object.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

import lit_core as lit
from lit_core.plugin_api import checkpoint_files, load_checkpoint

from . import io

if TYPE_CHECKING:
    import os


class CheckpointIO(ABC):
    """Lightning's checkpoint IO interface: subclass it and implement the three methods.

    ``teardown`` runs when a stage ends (``trainer.fit`` ...).
    """

    @abstractmethod
    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None) -> None:
        """Write ``checkpoint`` (a dict of tensors and plain values) to ``path``."""

    @abstractmethod
    def load_checkpoint(self, path: str | os.PathLike, map_location: Any = None) -> dict[str, Any]:
        """Read the checkpoint dict at ``path`` (tensors moved with ``map_location``, as in ``torch.load``)."""

    @abstractmethod
    def remove_checkpoint(self, path: str | os.PathLike) -> None:
        """Delete the checkpoint at ``path``."""

    def teardown(self) -> None:  # noqa: B027  (optional, as in Lightning)
        """Release what this IO holds (threads, connections) when a stage ends."""

    # -- lit's hooks: route the Trainer's checkpoint files through the methods above -----------

    @lit.hookimpl(tryfirst=True)
    def lit_save_checkpoint(self, trainer: lit.Trainer, checkpoint: dict[str, Any], path: str) -> str:
        self.save_checkpoint(checkpoint, path)
        return path

    @lit.hookimpl(tryfirst=True)
    def lit_load_checkpoint(self, trainer: lit.Trainer, path: str, map_location: Any) -> dict[str, Any] | None:
        return self.load_checkpoint(path, map_location=map_location)

    @lit.hookimpl(tryfirst=True)
    def lit_checkpoint_io(self) -> CheckpointIO:
        return self

    @lit.hookimpl
    def lit_teardown(self) -> None:
        self.teardown()


class TorchCheckpointIO(CheckpointIO):
    """``torch.save`` / ``torch.load`` the lit way: local files written atomically (temporary file,
    fsync, rename, fsync of the folder), fsspec URLs (``s3://...``) written under a temporary
    name then moved, and every load with ``torch.load(weights_only=True)`` (a checkpoint cannot
    run code)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None) -> None:
        if storage_options is not None:
            raise TypeError(
                f"TorchCheckpointIO.save_checkpoint(storage_options={storage_options!r}): torch.save takes no storage "
                "options. Subclass CheckpointIO to use them, and pass it in Trainer(plugins=[...])."
            )
        path = str(path)
        local = io.local_path(path)
        if local is not None:
            checkpoint_files.atomic_save(checkpoint, local)  # the kernel's atomic writer, with lit's checksum
        else:
            io.save(checkpoint, path)

    def load_checkpoint(self, path: str | os.PathLike, map_location: Any = None) -> dict[str, Any]:
        local = io.local_path(str(path))
        return load_checkpoint(local if local is not None else str(path), map_location)

    def remove_checkpoint(self, path: str | os.PathLike) -> None:
        io.remove(str(path))


def active_checkpoint_io(trainer: lit.Trainer) -> CheckpointIO | None:
    """The ``CheckpointIO`` the trainer's checkpoints are written with, or ``None`` (lit's hook chain).

    An ``AsyncCheckpointIO`` writes through the IO it wraps, or through the next one in line.
    """
    from .async_save import AsyncCheckpointIO

    service = trainer.strategy.checkpoint_io  # the lit_checkpoint_io service's answer
    if isinstance(service, AsyncCheckpointIO):
        if service.checkpoint_io is not None:
            return service.checkpoint_io
        return trainer.plugin_manager.subset_hook_caller("lit_checkpoint_io", remove_plugins=[service])(trainer=trainer)
    return service
