"""What every multi-process strategy needs, whichever library starts its processes.

* Giving each process its share of a dataloader (``Trainer(use_distributed_sampler=True)``):

  * the default samplers (``shuffle=True`` or ``False``): a ``DistributedSampler`` that shuffles
    alike, seeded with ``seed_everything``'s seed, so every process draws the same permutation
    and takes its own slice; the loops call ``set_epoch`` each epoch;
  * any other sampler: ``DistributedSamplerWrapper``, which takes this process's slice of what the
    user's sampler yields each epoch (the sampler must yield the same order in every process:
    seed it);
  * a custom ``batch_sampler``: ``DistributedBatchSamplerWrapper``, which deals out the user's
    batches whole (a batch sampler that groups samples, by length say, keeps its groups; it must
    yield the same batches in every process: seed it);
  * a ``DistributedSampler`` already in place, an ``IterableDataset`` (it must shard itself), or
    something that is not a ``DataLoader``: left as given.

  Training, validation and test deal samples (or batches) out in turn and pad the last round
  with ones from the start, so that every process runs as many batches (collectives inside the
  steps stay in step). Prediction does not pad, and gives each process a contiguous block of
  the order (sizes differ by one at most): each sample is predicted once, and the processes'
  predictions put end to end are in the loader's order. ``ShardedLoaders`` keeps one sharded
  copy per loader.

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
from .data import with_batch_sampler, with_sampler
from .exceptions import MisconfigurationException

if TYPE_CHECKING:
    from .trainer import Trainer


def contiguous_block(n: int, num_replicas: int, rank: int) -> range:
    """Positions ``rank`` gets of ``n`` in contiguous blocks whose sizes differ by one at most
    (the first ``n % num_replicas`` blocks are the longer ones).

    >>> [list(contiguous_block(5, 2, rank)) for rank in range(2)]
    [[0, 1, 2], [3, 4]]
    """
    base, extra = divmod(n, num_replicas)
    start = rank * base + min(rank, extra)
    return range(start, start + base + (rank < extra))


def _share(items: list[Any], num_replicas: int, rank: int, pad: bool) -> list[Any]:
    """``rank``'s part of ``items``: dealt out in turn, the last round padded from the start (``pad``),
    or a contiguous block (no padding)."""
    if not pad:
        block = contiguous_block(len(items), num_replicas, rank)
        return items[block.start : block.stop]
    if items:
        total = math.ceil(len(items) / num_replicas) * num_replicas
        items = items + (items * math.ceil(total / len(items)))[: total - len(items)]
    return items[rank::num_replicas]


def _share_len(n: int, num_replicas: int, rank: int, pad: bool) -> int:
    return math.ceil(n / num_replicas) if pad else len(contiguous_block(n, num_replicas, rank))


class DistributedSamplerWrapper(Sampler[int]):
    """This process's share of what another sampler yields, one epoch at a time.

    :param sampler: the user's sampler; it must have a length and yield the same order in
        every process.
    :param num_replicas: how many processes share the data.
    :param rank: this process's global rank.
    :param pad: deal the indices out in turn and repeat some from the start so every process gets
        ``ceil(n / num_replicas)``; without it (prediction), a contiguous block of the order.
    """

    def __init__(self, sampler: Sampler[int], num_replicas: int, rank: int, pad: bool = True) -> None:
        self.sampler = sampler
        self.num_replicas = num_replicas
        self.rank = rank
        self.pad = pad

    def __iter__(self) -> Iterator[int]:
        return iter(_share(list(self.sampler), self.num_replicas, self.rank, self.pad))

    def __len__(self) -> int:
        return _share_len(len(self.sampler), self.num_replicas, self.rank, self.pad)  # type: ignore[arg-type]

    def set_epoch(self, epoch: int) -> None:
        """Pass the epoch on to the wrapped sampler, when it has ``set_epoch``."""
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)


class DistributedBatchSamplerWrapper(Sampler[list[int]]):
    """This process's share of the batches a user's ``batch_sampler`` yields, each batch kept whole.

    Shared as ``DistributedSamplerWrapper`` shares indices (``pad``: in turn, the last round
    padded with batches from the start; else a contiguous block). The batch sampler must have a
    length and yield the same batches in every process.
    """

    def __init__(self, batch_sampler: Any, num_replicas: int, rank: int, pad: bool = True) -> None:
        self.batch_sampler = batch_sampler
        self.num_replicas = num_replicas
        self.rank = rank
        self.pad = pad

    def __iter__(self) -> Iterator[list[int]]:
        return iter(_share([list(batch) for batch in self.batch_sampler], self.num_replicas, self.rank, self.pad))

    def __len__(self) -> int:
        return _share_len(len(self.batch_sampler), self.num_replicas, self.rank, self.pad)

    def set_epoch(self, epoch: int) -> None:
        """Pass the epoch on to the batch sampler, or to its sampler, whichever has ``set_epoch``."""
        for inner in (self.batch_sampler, getattr(self.batch_sampler, "sampler", None)):
            if hasattr(inner, "set_epoch"):
                inner.set_epoch(epoch)
                return


def shard(loader: Any, num_replicas: int, rank: int, stage: str) -> Any:
    """``loader`` with a sampler that gives process ``rank`` its share (see the module docstring).

    :param stage: the ``lit_process_dataloader`` stage; ``"predict"`` does not pad.
    """
    if not isinstance(loader, DataLoader) or isinstance(loader.dataset, IterableDataset):
        return loader
    sampler = loader.sampler
    if isinstance(sampler, (DistributedSampler, DistributedSamplerWrapper)):
        return loader
    pad = stage != "predict"
    if loader.batch_size is None and loader.batch_sampler is not None:
        batch_sampler = loader.batch_sampler
        if isinstance(batch_sampler, DistributedBatchSamplerWrapper) or isinstance(
                getattr(batch_sampler, "sampler", None), (DistributedSampler, DistributedSamplerWrapper)):
            return loader  # already shared out
        if not hasattr(batch_sampler, "__len__"):
            raise MisconfigurationException(
                f"The {stage} dataloader's batch_sampler ({type(batch_sampler).__name__}) has no length, so lit cannot "
                "deal its batches out between processes: give it a __len__, or shard it yourself (the batches of rank "
                "trainer.global_rank out of trainer.world_size) and pass Trainer(use_distributed_sampler=False)."
            )
        return with_batch_sampler(loader, DistributedBatchSamplerWrapper(batch_sampler, num_replicas, rank, pad=pad))
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
