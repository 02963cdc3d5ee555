"""``DeviceLoader``: a ``DataLoader`` whose batches arrive on the XLA device."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader
from torch_xla.distributed.parallel_loader import MpDeviceLoader
from torch_xla.distributed.spmd import Mesh, ShardingSpec


class DeviceLoader(MpDeviceLoader):
    """torch_xla's ``MpDeviceLoader`` that still looks like the ``DataLoader`` it wraps.

    Batches are uploaded by background threads while the device computes, and each batch
    fetched is a step boundary (``torch_xla.sync()``; free right after the optimizer step's
    own). The loops read ``sampler`` (``set_epoch``), ``dataset`` and ``batch_size`` from it, as
    from the ``DataLoader``.

    :param loader: the ``DataLoader`` to upload from.
    :param device: the XLA device.
    :param input_sharding: how to split each batch over devices (``xla_spmd``), or ``None``.
    """

    def __init__(self, loader: DataLoader, device: torch.device, input_sharding: ShardingSpec | None = None) -> None:
        super().__init__(loader, device, **({"input_sharding": input_sharding} if input_sharding is not None else {}))
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
