"""``suggested_max_num_workers``: how many DataLoader workers each process can use on this machine."""

from __future__ import annotations

import os


def suggested_max_num_workers(local_world_size: int) -> int:
    """DataLoader workers per process: the CPUs this process may use, shared by ``local_world_size``
    processes on the node, less one each for the process itself (at least 1)."""
    if local_world_size < 1:
        raise ValueError(f"suggested_max_num_workers(local_world_size={local_world_size}): it must be at least 1.")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cpus // local_world_size - 1)


__all__ = ["suggested_max_num_workers"]
