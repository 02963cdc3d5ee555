"""What every multi-process strategy needs, whichever library starts its processes.

* Giving each process its share of a dataloader (``Trainer(use_distributed_sampler=True)``):

  * the default samplers (``shuffle=True`` or ``False``): a ``DistributedSampler`` that shuffles
    alike, seeded with ``seed_everything``'s seed, so every process draws the same permutation
    and takes its own slice; the loops call ``set_epoch`` each epoch;
  * any other sampler: ``DistributedSamplerWrapper``, which takes this process's slice of what the
    user's sampler yields each epoch (the sampler must yield the same order in every process:
    seed it);
  * a ``DistributedSampler`` already in place, an ``IterableDataset`` (it must shard itself), or
    something that is not a ``DataLoader``: left as given;
  * a custom ``batch_sampler``: an error that says how to shard it yourself.

  Training, validation and test pad the last slice with samples from the start, so that every
  process runs as many batches (collectives inside the steps stay in step). Prediction does
  not pad: each sample is predicted once. ``ShardedLoaders`` keeps one sharded copy per loader.

* Bringing a stage's outcome back from processes a launcher started (``result_payload`` in the
  started process of global rank zero, ``take_back`` in the launching one).

Strategy plugins import these from here instead of from each other.
"""


from __future__ import annotations

import math
import os
import warnings
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from torch.utils.data import DataLoader, DistributedSampler, IterableDataset, RandomSampler, Sampler, SequentialSampler

from .apply import move_data_to_cpu
from .data import with_sampler
from .exceptions import MisconfigurationException

if TYPE_CHECKING:
    from .trainer import Trainer


class DistributedSamplerWrapper(Sampler[int]):
    """This process's slice of what another sampler yields, one epoch at a time.

    :param sampler: the user's sampler; it must have a length and yield the same order in
        every process.
    :param num_replicas: how many processes share the data.
    :param rank: this process's global rank.
    :param pad: repeat indices from the start so every process gets ``ceil(n / num_replicas)``.
    """

    def __init__(self, sampler: Sampler[int], num_replicas: int, rank: int, pad: bool = True) -> None:
        self.sampler = sampler
        self.num_replicas = num_replicas
        self.rank = rank
        self.pad = pad

    def __iter__(self) -> Iterator[int]:
        order = list(self.sampler)
        if self.pad and order:
            total = math.ceil(len(order) / self.num_replicas) * self.num_replicas
            order += (order * math.ceil(total / len(order)))[: total - len(order)]
        return iter(order[self.rank :: self.num_replicas])

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        if self.pad:
            return math.ceil(n / self.num_replicas)
        return len(range(self.rank, n, self.num_replicas))

    def set_epoch(self, epoch: int) -> None:
        """Pass the epoch on to the wrapped sampler, when it has ``set_epoch``."""
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)


def shard(loader: Any, num_replicas: int, rank: int, stage: str) -> Any:
    """``loader`` with a sampler that gives process ``rank`` its share (see the module docstring).

    :param stage: the ``lit_process_dataloader`` stage; ``"predict"`` does not pad.
    """
    if not isinstance(loader, DataLoader) or isinstance(loader.dataset, IterableDataset):
        return loader
    sampler = loader.sampler
    if isinstance(sampler, (DistributedSampler, DistributedSamplerWrapper)):
        return loader
    if loader.batch_size is None and loader.batch_sampler is not None:
        raise MisconfigurationException(
            f"The {stage} dataloader has a custom batch_sampler ({type(loader.batch_sampler).__name__}); lit cannot "
            "split it between processes. Shard it yourself (give each process the batches of rank "
            "trainer.global_rank out of trainer.world_size) and pass Trainer(use_distributed_sampler=False)."
        )
    pad = stage != "predict"
    if type(sampler) in (RandomSampler, SequentialSampler) and pad:
        new: Sampler[int] = DistributedSampler(
            loader.dataset, num_replicas=num_replicas, rank=rank, shuffle=type(sampler) is RandomSampler,
            seed=int(os.environ.get("PL_GLOBAL_SEED", 0)), drop_last=False,
        )
    else:
        new = DistributedSamplerWrapper(sampler, num_replicas, rank, pad=pad)
    return with_sampler(loader, new)


class ShardedLoaders:
    """Each loader's sharded copy (``shard``), made once per loader and padding choice, so the
    epochs of a run reuse one loader. Weakly keyed; a copy pickles empty (a spawning launcher sends
    the strategy that holds it to new processes)."""

    def __init__(self) -> None:
        self._copies: weakref.WeakKeyDictionary[Any, dict[bool, Any]] = weakref.WeakKeyDictionary()

    def __reduce__(self) -> tuple[type, tuple[()]]:
        return (ShardedLoaders, ())  # weak references do not pickle: a copy starts empty

    def get(self, loader: Any, num_replicas: int, rank: int, stage: str) -> Any:
        """``shard(loader, num_replicas, rank, stage)``, remembered."""
        pad = stage != "predict"
        try:
            by_pad = self._copies.setdefault(loader, {})
        except TypeError:  # not weak-referenceable: shard it every time
            by_pad = {}
        if pad not in by_pad:
            by_pad[pad] = shard(loader, num_replicas, rank, stage)
        return by_pad[pad]


def result_payload(trainer: Trainer, result: Any) -> dict[str, Any]:
    """What the launching process takes back from global rank zero of processes it started
    (a spawning launcher): the stage's result, the weights, the callbacks' states
    and the progress counters, every tensor on the CPU (device tensors do not cross processes).
    ``take_back`` applies it."""
    module = trainer.lightning_module
    return {
        "result": move_data_to_cpu(result),
        "state_dict": move_data_to_cpu(module.state_dict()) if module is not None else None,
        "callbacks": move_data_to_cpu({cb.state_key: cb.state_dict() for cb in trainer.callbacks}),
        "current_epoch": trainer.current_epoch,
        "global_step": trainer.global_step,
        "status": trainer.state.status,
    }


def take_back(trainer: Trainer, payload: dict[str, Any]) -> None:
    """Apply ``result_payload``'s record to the launching process's Trainer."""
    module = trainer.lightning_module
    if module is not None and payload["state_dict"] is not None:
        module.load_state_dict(payload["state_dict"])
    for cb in trainer.callbacks:
        state = payload["callbacks"].get(cb.state_key)
        if state:
            # The same run's state, not a resume: warnings about resuming elsewhere do not apply.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cb.load_state_dict(state)
    trainer.current_epoch = payload["current_epoch"]
    trainer.global_step = payload["global_step"]
    trainer.state.status = payload["status"]
