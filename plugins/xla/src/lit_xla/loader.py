"""``DeviceLoader``: a ``DataLoader`` whose batches arrive on the XLA device."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader
from torch_xla.distributed.parallel_loader import MpDeviceLoader
from torch_xla.distributed.spmd import Mesh, ShardingSpec

#: A batch count no epoch reaches: the loader then syncs only when it runs out.
_NEVER = 2**62


class DeviceLoader(MpDeviceLoader):
    """torch_xla's ``MpDeviceLoader`` that still looks like the ``DataLoader`` it wraps.

    Batches are uploaded by background threads while the device computes. With
    ``sync_per_batch``, each batch fetched is a step boundary (``torch_xla.sync()``); without,
    only the end of the epoch is, and the caller syncs (the training loop's optimizer step). The
    loops read ``sampler`` (``set_epoch``), ``dataset`` and ``batch_size`` from it, as from the
    ``DataLoader``.

    :param loader: the ``DataLoader`` to upload from.
    :param device: the XLA device.
    :param input_sharding: how to split each batch over devices (``xla_spmd``), or ``None``.
    :param sync_per_batch: whether fetching a batch ends the graph of the one before.
    """

    def __init__(self, loader: DataLoader, device: torch.device, input_sharding: ShardingSpec | None = None,
                 sync_per_batch: bool = True) -> None:
        options: dict[str, Any] = {} if sync_per_batch else {"batches_per_execution": _NEVER}
        if input_sharding is not None:
            options["input_sharding"] = input_sharding
        super().__init__(loader, device, **options)
        self.loader = loader

    def __getattr__(self, name: str) -> Any:
        if name in ("sampler", "batch_sampler", "dataset", "batch_size", "num_workers", "drop_last"):
            return getattr(self.loader, name)
        raise AttributeError(name)


class BatchSharding(ShardingSpec):
    """Split dimension 0 of every batch tensor over the mesh axis ``"data"``, whatever its rank.

    torch_xla's ``ShardingSpec`` fits tensors of one rank; a batch holds several (inputs
    ``[B, C, H, W]``, targets ``[B]``), so each rank gets its own spec. Scalars stay replicated.
    """

    def __init__(self, mesh: Mesh) -> None:
        super().__init__(mesh, ("data",))
        self._by_rank: dict[int, ShardingSpec] = {1: self}

    def xla_spec(self, t: torch.Tensor) -> Any:
        if t.dim() == 0:
            return None
        if t.dim() == 1:
            return super().xla_spec(t)
        spec = self._by_rank.get(t.dim())
        if spec is None:
            spec = self._by_rank[t.dim()] = ShardingSpec(self.mesh, ("data",) + (None,) * (t.dim() - 1))
        return spec.xla_spec(t)

    def can_apply(self, t: torch.Tensor) -> bool:
        return t.dim() > 0
