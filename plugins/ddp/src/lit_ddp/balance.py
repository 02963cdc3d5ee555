"""Processes that stop meeting: uneven training data, found at each epoch's start, and stalls.

DDP all-reduces gradients in every training step, so every process must run as many batches.
With ``use_distributed_sampler=True`` lit pads the shards to make it so; with ``False`` (the
user shards the data) nothing did: the process with fewer batches went on to its next epoch,
its gradient all-reduces met the other's of the previous epoch (silently training on misaligned
steps), and at the end the other waited in a collective for the strategy's timeout, 30
minutes by default. One ``all_gather`` of each process's batch count per epoch (not per step)
finds it before the first batch.

A process that stalls (hung I/O, a deadlock, a sleep) cannot be told from a slow one: the others
wait in their next collective until ``DDPStrategy(timeout=...)`` and fail then; the note added
to that error says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta

import torch
import torch.distributed as dist

import lit_core as lit
from lit_core.plugin_api import MisconfigurationException, MisconfigurationTypeError, MisconfigurationValueError


def timeout_of(value: timedelta | float) -> timedelta:
    """``DDPStrategy(timeout=)`` as a ``timedelta``: a ``timedelta`` or a positive number of seconds."""
    if isinstance(value, bool) or not isinstance(value, (timedelta, int, float)):
        raise MisconfigurationTypeError(
            f"DDPStrategy(timeout={value!r}): give a datetime.timedelta or a number of seconds, e.g. timeout=600."
        )
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if not 0 < seconds < math.inf:
        raise MisconfigurationValueError(
            f"DDPStrategy(timeout={value!r}): the collective timeout must be a positive, finite time, e.g. timeout=600 (seconds)."
        )
    return value if isinstance(value, timedelta) else timedelta(seconds=seconds)


def check_even_batches(trainer: lit.Trainer, to_comm_device: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """Raise on every process when the processes have different numbers of training batches this epoch.

    Every process gathers every count, so all of them raise the same error together (none is
    left waiting for the others).
    """
    count = to_comm_device(torch.tensor([float(trainer.num_training_batches)], dtype=torch.float64))
    gathered = [torch.empty_like(count) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, count)
    counts = [float(c.item()) for c in gathered]
    if len(set(counts)) == 1:
        return
    listing = ", ".join(f"rank {rank}: {_batches(n)}" for rank, n in enumerate(counts))
    raise MisconfigurationException(
        f"The processes have different numbers of training batches at the start of training epoch "
        f"{trainer.current_epoch} ({listing}). DDP synchronises gradients in every step, so each process must run "
        "as many batches: the one with fewer would go on to its next epoch while the others wait for it. "
        f"With use_distributed_sampler={trainer.use_distributed_sampler}, give each process an equal share "
        "(a DistributedSampler with drop_last=True, or equal-length shards), or let lit shard the data "
        "(use_distributed_sampler=True pads the shards to equal lengths)."
    )


def _batches(n: float) -> str:
    return "no length (an iterable)" if math.isinf(n) else f"{int(n)} batches"


def note_timeout(exception: BaseException, timeout: timedelta, rank: int) -> None:
    """Add a note on what a collective's timeout means to the error it raised (gloo and nccl say only "timed out")."""
    text = str(exception).lower()
    if "timed out" not in text and "timeout" not in text:
        return
    exception.add_note(
        f"lit-ddp: a collective on global rank {rank} waited longer than the strategy's timeout "
        f"({timeout.total_seconds():g} s, DDPStrategy(timeout=...)) for the other processes. One of them stalled "
        "(hung, or blocked outside lit) or took much longer for this step. Raise DDPStrategy(timeout=...) "
        "if some steps legitimately take longer on one process; "
        "see 'When a process fails' in lit's docs/distributed.rst."
    )
