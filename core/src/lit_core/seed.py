"""``seed_everything``: one seed for Python, NumPy and torch, inherited by worker processes; ``isolate_rng``."""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator

import torch

from .checkpoint import capture_rng, restore_rng
from .rank_zero import rank_zero_info

_MAX = 2**32 - 1


def seed_everything(seed: int | None = None, workers: bool = False) -> int:
    """Seed ``random``, ``numpy`` (when installed) and ``torch`` (all devices) with ``seed``.

    ``seed=None`` reads ``PL_GLOBAL_SEED`` (set by an earlier call, so re-launched processes
    share it) or uses 0. ``workers=True`` sets ``PL_SEED_WORKERS=1`` so dataloader workers get
    distinct, reproducible seeds. Returns the seed used.
    """
    if seed is None:
        seed = int(os.environ.get("PL_GLOBAL_SEED", 0))
    seed = int(seed)
    if not 0 <= seed <= _MAX:
        raise ValueError(f"seed_everything({seed}): the seed must be between 0 and {_MAX}.")
    os.environ["PL_GLOBAL_SEED"] = str(seed)
    os.environ["PL_SEED_WORKERS"] = str(int(workers))
    random.seed(seed)
    try:
        import numpy as np
    except ImportError:
        pass
    else:
        np.random.seed(seed)
    torch.manual_seed(seed)
    rank_zero_info(f"Seed set to {seed}")
    return seed


@contextlib.contextmanager
def isolate_rng(include_cuda: bool = True) -> Iterator[None]:
    """Put the global random state (Python, NumPy, torch, and CUDA unless ``include_cuda=False``) back on exit.

    The trainer runs the sanity check inside it, as Lightning does, so a run draws the same random
    numbers (shuffling, dropout) with or without one.

    >>> import torch
    >>> _ = torch.manual_seed(1)
    >>> with isolate_rng():
    ...     first = torch.rand(1)
    >>> bool(torch.rand(1) == first)
    True
    """
    # The states a checkpoint saves (CUDA's only once CUDA is in use: reading it would start CUDA).
    states = capture_rng()
    if not include_cuda:
        states.pop("torch.cuda", None)
    try:
        yield
    finally:
        restore_rng(states)
