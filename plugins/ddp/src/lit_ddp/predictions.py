"""``trainer.predict()`` under DDP: every process's predictions, put back in the loader's order.

For prediction, ``lit_core.distributed.shard`` gives each process a contiguous block of the
loader's order, without padding, so every sample is predicted once and the processes'
predictions put end to end (rank 0's, then rank 1's ...) are in that order. Each process
returns them all, on the CPU, as one process would have returned its own: a list per batch, or
a list of those per dataloader. Batch boundaries are each process's own: with 10 samples, batch
size 4 and 2 processes the batches hold 4 + 1 and 4 + 1 samples, not 4 + 4 + 2.

Prediction writers (``BasePredictionWriter``) run inside the loop, before this: each process
writes its own share, with its own ``batch_indices``, as in Lightning.
"""

from __future__ import annotations

from typing import Any

import torch.distributed as dist

from lit_core.plugin_api import move_data_to_cpu


def gather_predictions(predictions: Any, n_loaders: int) -> Any:
    """Every process's ``predictions`` (this process's, as the predict loop returns them), in rank order.

    A collective: every process of the group calls it, with its own predictions.
    """
    shares: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(shares, move_data_to_cpu(predictions))
    if n_loaders == 1:
        return [batch for share in shares for batch in share]
    return [[batch for share in shares for batch in share[idx]] for idx in range(n_loaders)]
