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

One save is in flight at a time: a save that finds the previous one still writing waits for it.
``lit_teardown`` and ``lit_exception`` wait for the last write, so ``fit`` returns (or fails)
only when every checkpoint is on disk; a failed background write is raised there.

Code that changes parameters outside the optimizer step (between a save and the next step)
must call ``wait_for_snapshot()`` first.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import torch

import lit_core as lit


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


class AsyncCheckpointIO:
    """A plugin: ``Trainer(plugins=[AsyncCheckpointIO()])``, or ``ModelCheckpoint(async_save=True)``."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lit-checkpoint")
        self._snapshot_taken = threading.Event()
        self._snapshot_taken.set()
        self._pending: Future[str] | None = None
        #: Seconds the training thread spent in each save and waiting for its snapshot (for benchmarks).
        self.stalls: list[float] = []
        self._stall_open = 0.0

    # -- saving ---------------------------------------------------------------------------------

    @lit.hookimpl(tryfirst=True)
    def lit_save_checkpoint(self, trainer: lit.Trainer, checkpoint: dict[str, Any], path: str) -> str:
        start = time.perf_counter()
        self.wait()  # one save in flight at a time
        module = trainer.lightning_module
        buffers = {b.untyped_storage().data_ptr() for b in module.buffers()} if module is not None else set()
        # Buffers change in the next forward pass: copy them now; the rest is copied in the background.
        checkpoint = _clone(checkpoint, keep=buffers) if buffers else dict(checkpoint)
        write = trainer.plugin_manager.subset_hook_caller("lit_save_checkpoint", remove_plugins=[self])
        self._snapshot_taken.clear()
        self._pending = self._executor.submit(self._write, write, trainer, checkpoint, path)
        self._stall_open = time.perf_counter() - start
        return path

    def _write(self, write: Any, trainer: lit.Trainer, checkpoint: dict[str, Any], path: str) -> str:
        try:
            snapshot = _clone(checkpoint)
        finally:
            self._snapshot_taken.set()
        write(trainer=trainer, checkpoint=snapshot, path=path)
        return path

    # -- waiting --------------------------------------------------------------------------------

    def wait_for_snapshot(self) -> None:
        """Block until the pending save has copied what it writes (parameters may then change)."""
        if not self._snapshot_taken.is_set():
            self._snapshot_taken.wait()

    def wait(self) -> None:
        """Block until the pending save is on disk; raise its error if it failed."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    @lit.hookimpl
    def lit_before_optimizer_step(self) -> None:
        if self._stall_open or not self._snapshot_taken.is_set():
            start = time.perf_counter()
            self.wait_for_snapshot()
            self.stalls.append(self._stall_open + time.perf_counter() - start)
            self._stall_open = 0.0

    @lit.hookimpl
    def lit_teardown(self) -> None:
        self.wait()

    @lit.hookimpl
    def lit_exception(self) -> None:
        try:
            self.wait()
        except Exception:  # the run's own exception is the one to report
            pass

    def close(self) -> None:
        """Wait for the last save and stop the background thread."""
        self.wait()
        self._executor.shutdown(wait=True)

    @classmethod
    def ensure_registered(cls, trainer: lit.Trainer) -> AsyncCheckpointIO:
        """The ``AsyncCheckpointIO`` registered on ``trainer`` (one is registered if there is none)."""
        manager = trainer.plugin_manager
        for plugin in manager.get_plugins():
            if isinstance(plugin, cls):
                return plugin
        plugin = cls()
        manager.register(plugin, "lit_checkpoint.async")
        return plugin
