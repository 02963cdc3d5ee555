"""``seed_everything``: one seed for Python, NumPy and torch, inherited by worker processes."""

from __future__ import annotations

import os
import random

import torch

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
