"""``Strategy``: the base class of strategy plugins (entry-point group ``lit.strategies``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from ..plugin_base import _Plugin

if TYPE_CHECKING:
    from ..plugins.environments.cluster_environment import ClusterEnvironment
    from ..trainer import Trainer


class Strategy(_Plugin):
    """How work is spread over processes and devices (``lit.strategies``).

    Launching and the collectives are this object's methods: the kernel calls
    ``trainer.strategy.launch(function)`` for every stage, and the kernel, callbacks and user
    code call ``trainer.strategy.reduce(x)``; the one selected strategy answers, with no hook in
    between. The methods here are the single-process versions; a multi-process strategy
    overrides them. (Plugins that still implement the deprecated ``lit_launch`` /
    ``lit_reduce`` / ``lit_all_gather`` / ``lit_barrier`` / ``lit_broadcast`` hooks are asked
    first by these base methods; see ``docs/hooks.rst``.)
    """

    #: Whether this strategy runs several processes, one per device (its ``launch`` starts them).
    multi_process: ClassVar[bool] = False
    #: How many devices one process of this strategy drives; ``None``: every device it is given
    #: (an SPMD strategy). The ``Trainer`` refuses ``devices * num_nodes`` above it for a strategy
    #: that runs one process, rather than training on one device while ``world_size`` says more.
    devices_per_process: ClassVar[int | None] = 1

    trainer: Trainer | None = None
    #: The job's ``ClusterEnvironment``: given in ``plugins=[...]`` (or to the strategy), else what a
    #: multi-process strategy detected; ``None`` for one process with none given.
    cluster_environment: ClusterEnvironment | None = None

    @property
    def checkpoint_io(self) -> Any:
        """The object that writes, reads and removes the Trainer's checkpoints (Lightning's ``strategy.checkpoint_io``).

        The answer of the ``lit_checkpoint_io`` service hook: a ``CheckpointIO`` given in
        ``Trainer(plugins=[...])`` (lit-checkpoint's, or ``AsyncCheckpointIO`` in front of it).
        ``None`` when no plugin answers, or before the strategy joins a Trainer: lit's hook chain
        writes (atomic local files). To change it, pass a ``CheckpointIO`` in ``plugins=[...]``.
        """
        if self.trainer is None:
            return None
        return self.trainer.plugin_manager.hook.lit_checkpoint_io(trainer=self.trainer)

    def launch(self, function: Callable[[], Any]) -> Any:
        """Run ``function`` (everything one process does for a stage) in every process this strategy
        needs, and return what it returned in the global-rank-zero process. One process: ``function()``.

        ``function`` pickles (with the Trainer), for launchers that start processes with
        ``multiprocessing``.
        """
        legacy = self._deprecated_hook("lit_launch")
        if legacy is not None:
            result = legacy(trainer=self.trainer, function=function)
            # The hook's old meaning of None, "not launched by me": then the stage has not run.
            if result is not None or self.trainer.state.finished:  # type: ignore[union-attr]
                return result
        return function()

    def save_checkpoint(self, checkpoint: dict[str, Any], filepath: str) -> None:
        """Write ``checkpoint`` to ``filepath``; called by ``trainer.save_checkpoint`` in every process.

        Here: global rank zero writes it through the ``lit_save_checkpoint`` hook (atomic file, or a
        ``CheckpointIO``), then every process waits for it. A strategy whose processes each hold part
        of the state (lit-fsdp's sharded checkpoints) overrides it: every process writes its part.
        """
        trainer = self.trainer
        assert trainer is not None, "save_checkpoint() needs the strategy attached to a Trainer"
        if trainer.is_global_zero:
            trainer.plugin_manager.hook.lit_save_checkpoint(trainer=trainer, checkpoint=checkpoint, path=filepath)
        self.barrier("save_checkpoint")

    def reduce(self, tensor: torch.Tensor, reduce_op: str = "mean") -> torch.Tensor:
        """Reduce ``tensor`` over all processes with ``"mean"``, ``"sum"``, ``"max"`` or ``"min"``.

        One process: ``tensor`` itself.
        """
        legacy = self._deprecated_hook("lit_reduce")
        result = None if legacy is None else legacy(trainer=self.trainer, tensor=tensor, op=reduce_op)
        return tensor if result is None else result

    def all_gather(self, tensor: torch.Tensor, sync_grads: bool = False) -> torch.Tensor:
        """Gather ``tensor`` from every process, stacked along a new first dimension
        (``sync_grads=True``: differentiable). One process: ``tensor.unsqueeze(0)``."""
        legacy = self._deprecated_hook("lit_all_gather")
        result = None if legacy is None else legacy(trainer=self.trainer, tensor=tensor, sync_grads=sync_grads)
        return tensor.unsqueeze(0) if result is None else result

    def barrier(self, name: str | None = None) -> None:
        """Wait for every process (``name`` labels the wait for debugging). One process: returns at once."""
        legacy = self._deprecated_hook("lit_barrier")
        if legacy is not None:
            legacy(trainer=self.trainer, name=name)

    def broadcast(self, obj: Any, src: int = 0) -> Any:
        """Return process ``src``'s ``obj`` (picklable; ``None`` too) on every process. One process: ``obj``."""
        legacy = self._deprecated_hook("lit_broadcast")
        result = None if legacy is None else legacy(trainer=self.trainer, obj=obj, src=src)
        return obj if result is None else result

    def _deprecated_hook(self, name: str) -> Any:
        """The hook caller of deprecated hook ``name`` (a collective, ``lit_launch``) when some plugin still
        implements it, else ``None``.

        Asked per call, not cached: collectives are rare (``sync_dist`` values, checkpoint decisions) and
        plugins may register during setup. Goes with the five hookspecs (plugin API 2).
        """
        if self.trainer is None:
            return None
        caller = getattr(self.trainer.plugin_manager.hook, name)
        return caller if caller.get_hookimpls() else None
