"""The two ways to train on several XLA devices.

``XLAStrategy`` (``strategy="xla"``): one process per device, started by ``torch_xla.launch``
(``launcher``); gradients all-reduced before each optimizer step; each process reads its
share of the data (``lit_core.distributed``); ``sync_dist`` and ``trainer.strategy.*`` collectives are
this object's methods, on torch_xla's collectives.

``XLASPMDStrategy`` (``strategy="xla_spmd"``): one process; every batch is split along its first
dimension over a one-axis device mesh (``Mesh`` + ``mark_sharding``, applied as the batch is
uploaded); the parameters are replicated and XLA's SPMD partitioner inserts the gradient
all-reduce. The loss is the same function of the same global batch as on one device.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, ClassVar

import torch

import lit_core as lit
from lit_core.plugin_api import MisconfigurationException, ShardedLoaders, Strategy

from . import runtime

_REDUCE_OPS = ("sum", "mean", "max", "min")


class XLAStrategy(Strategy):
    """One process per XLA device (``strategy="xla"``, what ``tpu_cores=8`` means).

    ``devices`` must be 1 or every device of the host: torch_xla starts one process per device
    it finds (``PJRT_DEVICE``'s ``*_NUM_DEVICES`` variables limit them), or a single one.

    :param start_method: how ``torch_xla.launch`` starts the processes. ``"fork"`` (the default)
        lets the processes inherit the trainer, the module and the data as they are.
    """

    name = "xla"
    multi_process: ClassVar[bool] = True

    def __init__(self, start_method: str = "fork") -> None:
        if start_method != "fork":
            raise MisconfigurationException(
                f"XLAStrategy(start_method={start_method!r}): only 'fork' is supported; the started processes inherit "
                "the trainer instead of unpickling it."
            )
        self.start_method = start_method
        self._sharded = ShardedLoaders()

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return runtime.installation_problem()

    # -- processes ----------------------------------------------------------------------------

    def launch(self, function: Callable[[], Any]) -> Any:
        """Run ``function`` in one process per XLA device (``torch_xla.launch``), or here with ``devices=1``."""
        from .launcher import launch

        trainer = self._attached()
        count = trainer.accelerator.device_count()
        if trainer.num_devices not in (1, count):
            raise MisconfigurationException(
                f"strategy='xla' with devices={trainer.num_devices}: torch_xla starts one process on every device of the "
                f"host ({count} here) or runs on one device. Use devices={count} or devices=1 (or limit the devices "
                "torch_xla sees, e.g. TPU_VISIBLE_CHIPS / CPU_NUM_DEVICES)."
            )
        return launch(trainer, function, all_devices=trainer.num_devices == count)

    @lit.hookimpl
    def lit_setup_environment(self, trainer: lit.Trainer) -> None:
        import torch.distributed as dist
        import torch_xla.distributed.xla_backend  # noqa: F401  (registers the "xla" process-group backend)
        import torch_xla.runtime as xr

        trainer.global_rank, trainer.local_rank = xr.global_ordinal(), xr.local_ordinal()
        trainer.world_size = xr.world_size()
        trainer.node_rank = xr.host_index()
        if not dist.is_initialized():
            dist.init_process_group("xla", init_method="xla://")

    # -- data and gradients ----------------------------------------------------------------------

    @lit.hookimpl
    def lit_process_dataloader(self, trainer: lit.Trainer, dataloader: Any, stage: str) -> Any:
        if not trainer.use_distributed_sampler or trainer.world_size == 1:
            return None
        return self._sharded.get(dataloader, trainer.world_size, trainer.global_rank, stage)

    @lit.hookimpl(tryfirst=True)
    def lit_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        # First among the implementations: callbacks and clipping see the averaged gradients.
        import torch_xla.core.xla_model as xm

        xm.reduce_gradients(optimizer)

    # -- collectives --------------------------------------------------------------------------

    def reduce(self, tensor: torch.Tensor, reduce_op: str = "mean") -> torch.Tensor:
        """``xm.all_reduce`` over every process (a ``"mean"`` of integers comes back as floats)."""
        import torch_xla.core.xla_model as xm

        if reduce_op not in _REDUCE_OPS:
            raise ValueError(f"reduce_op={reduce_op!r}: use 'mean', 'sum', 'max' or 'min'.")
        trainer = self._attached()
        work = tensor.detach().to(trainer.device)
        if reduce_op == "mean" and not work.is_floating_point():
            work = work.float()
        xla_op = {"sum": xm.REDUCE_SUM, "mean": xm.REDUCE_SUM, "max": xm.REDUCE_MAX, "min": xm.REDUCE_MIN}[reduce_op]
        work = xm.all_reduce(xla_op, work)
        if reduce_op == "mean":
            work = work / trainer.world_size
        return work.to(tensor.device)

    def all_gather(self, tensor: torch.Tensor, sync_grads: bool = False) -> torch.Tensor:
        """``xm.all_gather`` (torch_xla's differentiable one with ``sync_grads=True``)."""
        import torch_xla.core.xla_model as xm

        work = tensor.to(self._attached().device).unsqueeze(0)
        if sync_grads:
            from torch_xla.core.functions import all_gather

            gathered = all_gather(work, dim=0)
        else:
            gathered = xm.all_gather(work, dim=0)
        return gathered.to(tensor.device)

    def barrier(self, name: str | None = None) -> None:
        """``xm.rendezvous``."""
        import torch_xla.core.xla_model as xm

        xm.rendezvous(name or "lit_barrier")

    def broadcast(self, obj: Any, src: int = 0) -> Any:
        """``src``'s object on every process, ``None`` included."""
        import torch_xla.core.xla_model as xm

        trainer = self._attached()
        # The object's bytes, zero on every other process, summed: everyone gets src's bytes.
        mine = _to_bytes(obj) if trainer.global_rank == src else b""
        size = xm.all_reduce(xm.REDUCE_SUM, torch.tensor([len(mine)], device=trainer.device))
        length = int(size.cpu().item())
        buffer = torch.zeros(length, dtype=torch.int32)
        buffer[: len(mine)] = torch.frombuffer(bytearray(mine), dtype=torch.uint8).to(torch.int32) if mine else 0
        data = xm.all_reduce(xm.REDUCE_SUM, buffer.to(trainer.device)).cpu().to(torch.uint8)
        return torch.load(io.BytesIO(data.numpy().tobytes()), weights_only=False)

    def _attached(self) -> lit.Trainer:
        if self.trainer is None:
            raise RuntimeError(f"{self!r} is not attached to a Trainer yet: pass it as Trainer(strategy=...).")
        return self.trainer


def _to_bytes(obj: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


class XLASPMDStrategy(Strategy):
    """One process, each batch split over every XLA device (``strategy="xla_spmd"``).

    ``devices`` must be every device torch_xla sees (``"auto"``): the mesh spans them all. The
    batch size should be a multiple of the device count; the parameters are replicated, so this
    is data parallelism with the memory of one device per replica.
    """

    name = "xla_spmd"
    #: One process drives every device of the mesh.
    devices_per_process = None

    def __init__(self) -> None:
        self.mesh: Any = None
        #: How ``DeviceLoader`` splits each batch (set once the mesh exists).
        self.input_sharding: Any = None

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return runtime.installation_problem()

    @lit.hookimpl
    def lit_setup_environment(self, trainer: lit.Trainer) -> None:
        import numpy as np
        import torch_xla.runtime as xr
        from torch_xla.distributed.spmd import Mesh

        from .loader import BatchSharding

        runtime.import_torch_xla()
        if not xr.is_spmd():
            xr.use_spmd()  # before any tensor is on the device: SPMD cannot be switched on later
        count = xr.global_runtime_device_count()
        if trainer.num_devices != count:
            raise MisconfigurationException(
                f"strategy='xla_spmd' with devices={trainer.num_devices}: the mesh spans every device torch_xla sees "
                f"({count} here). Use devices='auto' (or limit the devices torch_xla sees, e.g. CPU_NUM_DEVICES)."
            )
        # One process holds the whole batch: for the loops and samplers this is a world of one.
        trainer.global_rank = trainer.local_rank = trainer.node_rank = 0
        trainer.world_size = 1
        self.mesh = Mesh(np.arange(count), (count,), ("data",))
        self.input_sharding = BatchSharding(self.mesh)
