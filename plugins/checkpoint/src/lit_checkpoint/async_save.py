"""``AsyncCheckpointIO``: checkpoints written by a background thread while training goes on.

A synchronous save stops training for as long as serializing and writing take (hundreds of
milliseconds for a 100 MB model). Here ``trainer.save_checkpoint`` returns almost at once:

1. on the training thread, only the tensors the next forward pass may change in place (the
   module's buffers: batch-norm statistics and the like) are copied;
2. a background thread copies everything else (parameters and optimizer state change only in
   the optimizer step), then hands the copy to the next ``lit_save_checkpoint`` implementation
   (the fsspec writer, or lit-core's atomic local writer), so files are still written atomically;
3. ``lit_before_optimizer_step`` waits until the copy of step 2 is complete: the next forward
   and backward passes overlap with it, and the optimizer never changes a tensor being copied.

Copies and writes run on two threads, so a save's copy never waits for an earlier write;
writes happen in order, and at most ``max_pending`` copies wait to be written.
``lit_teardown`` and ``lit_exception`` wait for the last write, so ``fit`` returns (or fails)
only when every checkpoint is on disk; a failed background write is raised there, and the
deletions and links queued after it (``after_writes``) are skipped, so a checkpoint is never
deleted for a replacement that was not written.

Code that changes parameters outside the optimizer step (between a save and the next step)
must call ``wait_for_snapshot()`` first.
"""

from __future__ import annotations

import contextlib
import time
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import torch

import lit_core as lit

from .checkpoint_io import CheckpointIO

if TYPE_CHECKING:
    import os


def _clone(obj: Any, keep: set[int] | None = None) -> Any:
    """``obj`` with every tensor copied (only those whose storage is in ``keep``, when given)."""
    if isinstance(obj, torch.Tensor):
        if keep is not None and obj.untyped_storage().data_ptr() not in keep:
            return obj
        return obj.detach().clone()
    if isinstance(obj, dict):
        return {k: _clone(v, keep) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clone(v, keep) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_clone(v, keep) for v in obj)
    return obj


class AsyncCheckpointIO(CheckpointIO):
    """A plugin: ``Trainer(plugins=[AsyncCheckpointIO()])``, or ``ModelCheckpoint(async_save=True)``.

    :param checkpoint_io: the ``CheckpointIO`` that writes, reads and removes the files, as in
        Lightning (``AsyncCheckpointIO(MyCheckpointIO())``); by default the next writer in line
        (a ``CheckpointIO`` in ``plugins=[...]`` after this one, else lit's atomic writer).
    :param max_pending: bounds the saves copied but not yet written (each holds a copy of the
        state in memory); a save beyond it waits for the oldest write.
    """

    def __init__(self, checkpoint_io: CheckpointIO | None = None, max_pending: int = 2) -> None:
        if checkpoint_io is not None and not isinstance(checkpoint_io, CheckpointIO):
            raise TypeError(f"AsyncCheckpointIO(checkpoint_io={checkpoint_io!r}): give a CheckpointIO instance (or None).")
        #: The IO the background writes go to (``None``: the next ``lit_save_checkpoint`` implementation).
        self.checkpoint_io = checkpoint_io
        self.max_pending = max_pending
        # One thread copies, one writes (in order): a copy never waits for an earlier write.
        self._copier = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lit-checkpoint-copy")
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lit-checkpoint-write")
        self._snapshot: Future[dict[str, Any]] | None = None
        self._writes: list[Future[str]] = []
        #: The error of a background write that failed since the last ``wait`` (set on the writer thread).
        self._failed: BaseException | None = None
        #: Seconds the training thread spent on each save: in ``save_checkpoint``, plus the wait of the
        #: next optimizer step for the copy (kept for benchmarks and logs).
        self.stalls: list[float] = []
        self._stall_open: float | None = None

    # -- saving ---------------------------------------------------------------------------------

    @lit.hookimpl(tryfirst=True)
    def lit_save_checkpoint(self, trainer: lit.Trainer, checkpoint: dict[str, Any], path: str) -> str:
        start = time.perf_counter()
        self._close_stall(0.0)
        self.wait_for_snapshot()
        while len(self._writes) >= self.max_pending:
            self._writes.pop(0).result()
        module = trainer.lightning_module
        buffers = {b.untyped_storage().data_ptr() for b in module.buffers()} if module is not None else set()
        # Buffers change in the next forward pass: copy them now; the rest is copied in the background.
        checkpoint = _clone(checkpoint, keep=buffers) if buffers else dict(checkpoint)
        if self.checkpoint_io is not None:
            target = self.checkpoint_io

            def write(trainer: lit.Trainer, checkpoint: dict[str, Any], path: str) -> None:
                target.save_checkpoint(checkpoint, path)
        else:
            write = trainer.plugin_manager.subset_hook_caller("lit_save_checkpoint", remove_plugins=[self])
        snapshot = self._snapshot = self._copier.submit(_clone, checkpoint)
        self._writes.append(self._writer.submit(
            self._noting_failure, lambda: write(trainer=trainer, checkpoint=snapshot.result(), path=path)))
        self._stall_open = time.perf_counter() - start
        return path

    @lit.hookimpl(tryfirst=True)
    def lit_load_checkpoint(self, trainer: lit.Trainer, path: str, map_location: Any) -> dict[str, Any] | None:
        self.wait()  # a checkpoint being written is read once complete
        if self.checkpoint_io is None:
            return None  # the next reader in line
        return self.checkpoint_io.load_checkpoint(path, map_location=map_location)

    # -- Lightning's CheckpointIO methods (outside a Trainer, or called by the user) ------------

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None) -> None:
        """Copy ``checkpoint`` now, write it in the background with the wrapped IO."""
        target = self._target()
        snapshot = _clone(checkpoint)
        self._writes.append(self._writer.submit(
            self._noting_failure, lambda: target.save_checkpoint(snapshot, path, storage_options)))

    def load_checkpoint(self, path: str | os.PathLike, map_location: Any = None) -> dict[str, Any]:
        """Wait for the pending writes, then read with the wrapped IO."""
        self.wait()
        return self._target().load_checkpoint(path, map_location=map_location)

    def remove_checkpoint(self, path: str | os.PathLike) -> None:
        """Delete ``path`` once the writes submitted so far are done (without waiting for them here)."""
        target = self._target()
        self.after_writes(lambda: target.remove_checkpoint(path))

    def teardown(self) -> None:
        """Wait until every save is on disk (raises a failed one's error)."""
        self.wait()
        if self.checkpoint_io is not None:
            self.checkpoint_io.teardown()

    def _target(self) -> CheckpointIO:
        from .checkpoint_io import TorchCheckpointIO

        return self.checkpoint_io if self.checkpoint_io is not None else TorchCheckpointIO()

    def after_writes(self, action: Any) -> None:
        """Run ``action()`` on the writer thread once every save submitted so far is on disk.

        Deleting a checkpoint that a new one replaces, or linking to a new one, must wait for the
        new file; queued here it does, without making the training thread wait. It is skipped when a
        write before it failed: the checkpoint it would delete may be the only good one left.
        """
        self._writes.append(self._writer.submit(lambda: None if self._failed is not None else action()))

    def _noting_failure(self, write: Any) -> None:
        """Run ``write`` on the writer thread; remember that it failed (``after_writes`` actions are then skipped)."""
        try:
            write()
        except BaseException as exc:
            self._failed = exc
            raise

    # -- waiting --------------------------------------------------------------------------------

    def wait_for_snapshot(self) -> None:
        """Block until the latest save has copied what it writes (parameters may then change)."""
        snapshot, self._snapshot = self._snapshot, None
        if snapshot is not None:
            snapshot.result()

    def wait(self) -> None:
        """Block until every save is on disk; raise the first error of a failed one."""
        self.wait_for_snapshot()
        self._close_stall(0.0)
        writes, self._writes = self._writes, []
        try:
            for write in writes:
                write.result()
        finally:
            futures.wait(writes)
            self._failed = None  # reported to whoever waits: later saves start afresh

    def _close_stall(self, waited: float) -> None:
        if self._stall_open is not None:
            self.stalls.append(self._stall_open + waited)
            self._stall_open = None

    @lit.hookimpl
    def lit_before_optimizer_step(self) -> None:
        if self._snapshot is not None or self._stall_open is not None:
            start = time.perf_counter()
            self.wait_for_snapshot()
            self._close_stall(time.perf_counter() - start)

    @lit.hookimpl
    def lit_teardown(self) -> None:
        self.teardown()

    @lit.hookimpl
    def lit_exception(self) -> None:
        with contextlib.suppress(Exception):  # the run's own exception is the one to report
            self.wait()

    def close(self) -> None:
        """Wait for the last save and stop the background threads."""
        self.wait()
        self._copier.shutdown(wait=True)
        self._writer.shutdown(wait=True)

    @classmethod
    def ensure_registered(cls, trainer: lit.Trainer) -> AsyncCheckpointIO:
        """The ``AsyncCheckpointIO`` registered on ``trainer`` (one is registered if there is none)."""
        found = async_checkpoint_io(trainer)
        if found is not None:
            return found
        plugin = cls()
        trainer.plugin_manager.register(plugin, "lit_checkpoint.async")
        return plugin


def async_checkpoint_io(trainer: lit.Trainer) -> AsyncCheckpointIO | None:
    """The ``AsyncCheckpointIO`` writing ``trainer``'s checkpoints, or ``None`` when they are written synchronously.

    Asked through the ``lit_checkpoint_io`` service hook (``strategy.checkpoint_io``), which every ``CheckpointIO`` answers.
    """
    service = trainer.strategy.checkpoint_io
    return service if isinstance(service, AsyncCheckpointIO) else None
