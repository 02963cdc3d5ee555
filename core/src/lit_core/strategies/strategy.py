"""``Strategy``: the base class of strategy plugins (entry-point group ``lit.strategies``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch

from ..plugin_base import _Plugin

if TYPE_CHECKING:
    from ..plugins.environments.cluster_environment import ClusterEnvironment
    from ..trainer import Trainer


class Strategy(_Plugin):
    """How work is spread over processes and devices (``lit.strategies``).

    The collective methods are the public face of the ``lit_reduce`` / ``lit_all_gather`` /
    ``lit_barrier`` / ``lit_broadcast`` hooks, so user code can call
    ``trainer.strategy.reduce(x)`` whichever strategy is installed.
    """

    #: Whether this strategy runs several processes (the kernel then needs no other launcher).
    multi_process: ClassVar[bool] = False

    trainer: Trainer | None = None
    #: The job's ``ClusterEnvironment``: given in ``plugins=[...]`` (or to the strategy), else what a
    #: multi-process strategy detected; ``None`` for one process with none given.
    cluster_environment: ClusterEnvironment | None = None

    def reduce(self, tensor: torch.Tensor, reduce_op: str = "mean") -> torch.Tensor:
        """Reduce ``tensor`` over all processes with ``"mean"``, ``"sum"``, ``"max"`` or ``"min"``."""
        return self._hook.lit_reduce(trainer=self.trainer, tensor=tensor, op=reduce_op)

    def all_gather(self, tensor: torch.Tensor, sync_grads: bool = False) -> torch.Tensor:
        """Gather ``tensor`` from every process, stacked along a new first dimension."""
        return self._hook.lit_all_gather(trainer=self.trainer, tensor=tensor, sync_grads=sync_grads)

    def barrier(self, name: str | None = None) -> None:
        """Wait for every process."""
        self._hook.lit_barrier(trainer=self.trainer, name=name)

    def broadcast(self, obj: Any, src: int = 0) -> Any:
        """Return process ``src``'s ``obj`` on every process."""
        return self._hook.lit_broadcast(trainer=self.trainer, obj=obj, src=src)

    @property
    def _hook(self) -> Any:
        if self.trainer is None:
            raise RuntimeError(f"{self!r} is not attached to a Trainer yet.")
        return self.trainer.plugin_manager.hook
