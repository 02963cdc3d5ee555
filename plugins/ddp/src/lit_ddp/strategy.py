"""``DDPStrategy``: DistributedDataParallel through lit's service hooks.

``launch`` (a method: the Trainer calls ``trainer.strategy.launch(function)`` for every stage)
starts the local processes (``launchers``), or joins the ones torchrun / srun / lit's launcher
started. What each hook does here:

``lit_setup_environment``  ranks on the trainer, ``init_process_group`` (gloo on CPU, nccl on CUDA)
``lit_setup_module``       (wrapper, fit only) ``sync_batchnorm``, then ``DistributedDataParallel``
                           around the module's steps; ``no_sync`` while accumulating gradients
``lit_process_dataloader`` (wrapper) each process's share of the data (``lit_core.distributed.shard``)
``lit_train_epoch_start``  every process has as many training batches as the others (``balance``)
``lit_run_stage``          (wrapper) ``trainer.predict()`` returns every process's predictions (``predictions``)

and, as methods (the collectives are the selected strategy's own, not hooks): ``reduce``,
``all_gather``, ``barrier``, ``broadcast`` with torch.distributed.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Callable, Generator
from datetime import timedelta
from typing import Any, ClassVar

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

import lit_core as lit
from lit_core.plugin_api import ClusterEnvironment, MisconfigurationException, ShardedLoaders, StepForward, Strategy, TrainerFn

from .balance import check_even_batches, note_timeout, timeout_of
from .environment import detect, place
from .launchers import ScriptLauncher, SpawnLauncher, install_child_hooks, leave_process_group
from .predictions import gather_predictions

_OPS = {"sum": dist.ReduceOp.SUM, "mean": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX, "min": dist.ReduceOp.MIN}


class DDPStrategy(Strategy):
    """One process per device, gradients averaged by ``DistributedDataParallel``.

    :param find_unused_parameters: passed to ``DistributedDataParallel``: needed when some
        parameters get no gradient in a step (``strategy="ddp_find_unused_parameters_true"``).
    :param process_group_backend: ``"gloo"`` / ``"nccl"``; by default nccl on CUDA, gloo elsewhere.
    :param timeout: how long a collective waits for the other processes before failing: a
        ``timedelta`` or seconds (30 minutes by default, as in torch). A stalled process makes the
        others fail after this long; lower it to learn of a hang sooner, raise it for steps that
        take long on one rank only (a long checkpoint save on rank zero).
    :param cluster_environment: where the processes come from (``SLURMEnvironment()``...); by default
        detected (torchrun, SLURM, or lit's own launcher). ``Trainer(plugins=[env])`` sets it too.
    :param ddp_kwargs: any other ``DistributedDataParallel`` argument (``static_graph=True``...).
    """

    name = "ddp"
    multi_process: ClassVar[bool] = True

    def __init__(self, find_unused_parameters: bool = False, process_group_backend: str | None = None,
                 timeout: timedelta | float = timedelta(minutes=30), cluster_environment: ClusterEnvironment | None = None,
                 **ddp_kwargs: Any) -> None:
        self.find_unused_parameters = find_unused_parameters
        self.process_group_backend = process_group_backend
        self.timeout = timeout_of(timeout)
        self.ddp_kwargs = ddp_kwargs
        self.cluster_environment = cluster_environment
        self._sharded = ShardedLoaders()
        self._sync_switch: _GradientSyncSwitch | None = None
        install_child_hooks()

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if not dist.is_available():
            return "this build of torch has no torch.distributed"
        return None

    # -- processes ----------------------------------------------------------------------------

    def environment(self, trainer: lit.Trainer) -> ClusterEnvironment:
        """Where this process sits in the job: ``cluster_environment`` if one was given (or
        detected before in this process), else detected from the environment variables."""
        if self.cluster_environment is None:
            return detect(trainer.num_devices, trainer.num_nodes)
        return place(self.cluster_environment, trainer.num_devices, trainer.num_nodes)

    def launch(self, function: Callable[[], Any]) -> Any:
        """Run the script again for every other local process (unless torchrun / srun started them),
        and ``function`` here as local rank zero."""
        trainer = self._attached()
        return ScriptLauncher().launch(self.environment(trainer), trainer.num_devices, function)

    @lit.hookimpl
    def lit_setup_environment(self, trainer: lit.Trainer) -> None:
        env = self.cluster_environment = self.environment(trainer)
        trainer.global_rank, trainer.local_rank = env.global_rank(), env.local_rank()
        trainer.node_rank, trainer.world_size = env.node_rank(), env.world_size()
        if dist.is_initialized():
            return
        os.environ["MASTER_ADDR"] = env.main_address
        os.environ["MASTER_PORT"] = str(env.main_port)
        device = trainer.accelerator.get_device(trainer.device_ids[env.local_rank() % len(trainer.device_ids)])
        backend = self.process_group_backend or ("nccl" if device.type == "cuda" else "gloo")
        dist.init_process_group(backend, rank=env.global_rank(), world_size=env.world_size(), timeout=self.timeout)
        # Kept for the next stages; torn down before the interpreter exits, not by its finalizers
        # (a gloo group left to them can abort the process: "terminate called without an active
        # exception", seen once here in `make test`, in a two-process `python train.py` job).
        atexit.register(_destroy_process_group)

    # -- the module ---------------------------------------------------------------------------

    @lit.hookimpl(wrapper=True)
    def lit_setup_module(self, trainer: lit.Trainer, module: lit.LightningModule) -> Generator[None, Any, Any]:
        model = yield
        if trainer.state.fn != TrainerFn.FITTING:
            return model  # evaluation needs no gradient sync: the steps run on the module itself
        if trainer.sync_batchnorm:
            if trainer.device.type == "cpu":
                raise MisconfigurationException(
                    "Trainer(sync_batchnorm=True) needs CUDA devices: torch's SyncBatchNorm synchronises GPU tensors "
                    "only. Train on GPUs (accelerator='cuda'), or drop sync_batchnorm=True on CPU."
                )
            module = torch.nn.SyncBatchNorm.convert_sync_batchnorm(module)
        device_ids = [trainer.device.index] if trainer.device.type == "cuda" else None
        ddp = DistributedDataParallel(StepForward(module), device_ids=device_ids,
                                      find_unused_parameters=self.find_unused_parameters, **self.ddp_kwargs)
        if trainer.accumulate_grad_batches > 1:
            self._sync_switch = _GradientSyncSwitch(ddp)
            trainer.plugin_manager.register(self._sync_switch, f"lit_ddp.no_sync:{id(self)}")
        return ddp

    @lit.hookimpl
    def lit_teardown(self, trainer: lit.Trainer) -> None:
        self._stage_done(trainer)
        if self.cluster_environment is not None:
            self.cluster_environment.teardown()

    @lit.hookimpl
    def lit_exception(self, trainer: lit.Trainer, exception: BaseException) -> None:
        self._stage_done(trainer)
        _exit_state["failed"] = True  # the others may never reach the exit barrier
        note_timeout(exception, self.timeout, trainer.global_rank)

    def _stage_done(self, trainer: lit.Trainer) -> None:
        """Undo what the stage set up: the gradient-sync switch, and the wrapper.

        After the stage ``trainer.model`` is the user's module again, as after Lightning's
        ``DDPStrategy.teardown``: ``trainer.model.state_dict()`` has the module's keys, not DDP's.
        """
        if isinstance(trainer.model, DistributedDataParallel):
            trainer.model = trainer.lightning_module
        if self._sync_switch is not None:
            trainer.plugin_manager.unregister(self._sync_switch)
            self._sync_switch = None

    # -- data ---------------------------------------------------------------------------------

    @lit.hookimpl
    def lit_train_epoch_start(self, trainer: lit.Trainer) -> None:
        if trainer.world_size > 1 and dist.is_initialized():
            check_even_batches(trainer, lambda count: self._on_comm_device(trainer, count))

    @lit.hookimpl(wrapper=True)
    def lit_process_dataloader(self, trainer: lit.Trainer, stage: str) -> Generator[None, Any, Any]:
        # A wrapper: device plugins may have copied the loader (pin_memory); shard their copy.
        loader = yield
        if not trainer.use_distributed_sampler or trainer.world_size == 1:
            return loader
        return self._sharded.get(loader, trainer.world_size, trainer.global_rank, stage)

    @lit.hookimpl(wrapper=True)
    def lit_run_stage(self, trainer: lit.Trainer, stage: str) -> Generator[None, Any, Any]:
        """``trainer.predict()`` returns every process's predictions in the loader's order (``predictions``)."""
        result = yield
        if stage != "predict" or result is None or trainer.world_size == 1 or not dist.is_initialized():
            return result
        return gather_predictions(result, len(trainer.predict_dataloaders))

    # -- collectives --------------------------------------------------------------------------

    def reduce(self, tensor: torch.Tensor, reduce_op: str = "mean") -> torch.Tensor:
        """``all_reduce`` over the process group (a ``"mean"`` of integers comes back as floats)."""
        if not dist.is_initialized():
            return super().reduce(tensor, reduce_op)
        if reduce_op not in _OPS:
            raise ValueError(f"reduce_op={reduce_op!r}: use 'mean', 'sum', 'max' or 'min'.")
        work = self._on_comm_device(self._attached(), tensor.detach().clone())
        if reduce_op == "mean" and not work.is_floating_point():
            work = work.float()
        dist.all_reduce(work, op=_OPS[reduce_op])
        if reduce_op == "mean":
            work /= dist.get_world_size()
        return work.to(tensor.device)

    def all_gather(self, tensor: torch.Tensor, sync_grads: bool = False) -> torch.Tensor:
        """``all_gather`` over the process group; differentiable with ``sync_grads=True``."""
        if not dist.is_initialized():
            return super().all_gather(tensor, sync_grads)
        work = self._on_comm_device(self._attached(), tensor).contiguous()
        gathered = _AllGatherWithGrad.apply(work) if sync_grads else _all_gather(work)
        return gathered.to(tensor.device)

    def barrier(self, name: str | None = None) -> None:
        """``dist.barrier`` (on this process's GPU with nccl)."""
        if not dist.is_initialized():
            return super().barrier(name)
        if dist.get_backend() == "nccl":
            dist.barrier(device_ids=[self._attached().device.index])
        else:
            dist.barrier()

    def broadcast(self, obj: Any, src: int = 0) -> Any:
        """``broadcast_object_list``: every process gets ``src``'s object, ``None`` included."""
        if not dist.is_initialized():
            return super().broadcast(obj, src)
        box = [obj]
        dist.broadcast_object_list(box, src=src)
        return box[0]

    def _attached(self) -> lit.Trainer:
        if self.trainer is None:
            raise RuntimeError(f"{self!r} is not attached to a Trainer yet: pass it as Trainer(strategy=...).")
        return self.trainer

    @staticmethod
    def _on_comm_device(trainer: lit.Trainer, tensor: torch.Tensor) -> torch.Tensor:
        # nccl communicates device tensors only; gloo takes CPU tensors.
        if dist.get_backend() == "nccl" and tensor.device.type != "cuda":
            return tensor.to(trainer.device)
        return tensor


def _all_gather(tensor: torch.Tensor) -> torch.Tensor:
    gathered = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, tensor)
    return torch.stack(gathered)


class _AllGatherWithGrad(torch.autograd.Function):
    """``all_gather`` that back-propagates: each rank's input gets the gradients every rank
    computed for its slice of the gathered tensor."""

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor) -> torch.Tensor:
        return _all_gather(tensor)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad)
        return grad[dist.get_rank()]


class DDPFindUnusedParametersStrategy(DDPStrategy):
    """``strategy="ddp_find_unused_parameters_true"``: DDP for modules that leave some
    parameters out of some steps (``find_unused_parameters=True``, slower)."""

    name = "ddp_find_unused_parameters_true"

    def __init__(self, find_unused_parameters: bool = True, **kwargs: Any) -> None:
        super().__init__(find_unused_parameters=find_unused_parameters, **kwargs)


class DDPSpawnStrategy(DDPStrategy):
    """``strategy="ddp_spawn"``: the processes are started with ``torch.multiprocessing``.

    Works where the script cannot be run again (notebooks, ``python -c``). Everything the
    Trainer holds (the module, data, callbacks, loggers) is pickled to each process; after the
    stage, this process gets back global rank zero's result, weights, callback states, epoch and
    step. Metrics (``trainer.callback_metrics``) stay in the processes: log them.

    :param start_method: ``"spawn"`` (default), ``"forkserver"`` or ``"fork"``.
    """

    name = "ddp_spawn"

    def __init__(self, start_method: str = "spawn", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_method = start_method

    def launch(self, function: Callable[[], Any]) -> Any:
        """Start every local process with ``torch.multiprocessing`` and take global rank zero's outcome
        back (``function()`` here when torchrun / srun started the processes)."""
        trainer = self._attached()
        env = self.environment(trainer)
        if env.creates_processes_externally:
            return function()
        return SpawnLauncher(self.start_method).launch(trainer, env, trainer.num_devices, function)


class DDPForkStrategy(DDPSpawnStrategy):
    """``strategy="ddp_fork"`` (and ``"ddp_notebook"``): the processes are forked from this one.

    Nothing is pickled, so it works from a Jupyter notebook, with models and data defined in its
    cells. Forking needs a process where CUDA is not initialised yet (a forked child cannot use
    the parent's CUDA context): the launch refuses otherwise, with what to change. Not on Windows
    (no ``fork`` there).
    """

    name = "ddp_fork"

    def __init__(self, start_method: str = "fork", **kwargs: Any) -> None:
        super().__init__(start_method=start_method, **kwargs)

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this platform cannot fork processes (``None`` where it can)."""
        reason = super().unavailable_reason()
        if reason is not None:
            return reason
        if "fork" not in torch.multiprocessing.get_all_start_methods():
            return "this platform cannot fork processes (Windows): use strategy='ddp_spawn', or 'ddp' from a script"
        return None


class DDPNotebookStrategy(DDPForkStrategy):
    """``strategy="ddp_notebook"``: ``ddp_fork`` under the name Lightning gives it for notebooks."""

    name = "ddp_notebook"


class _GradientSyncSwitch:
    """While gradients accumulate, DDP does not all-reduce them: only the batch that steps syncs.

    Sets the flag ``DistributedDataParallel.no_sync()`` sets, before each training batch (the
    forward pass reads it), from ``trainer.state.stepping``: whether the loop steps the
    optimizer after this batch (every ``accumulate_grad_batches`` batches and at the epoch's last).
    """

    def __init__(self, ddp: DistributedDataParallel) -> None:
        self.ddp = ddp

    @lit.hookimpl
    def lit_train_batch_start(self, trainer: lit.Trainer) -> None:
        self.ddp.require_backward_grad_sync = trainer.state.stepping


#: Whether a stage of this process failed: then no rank is waited for at exit.
_exit_state = {"failed": False}


def _destroy_process_group() -> None:
    """At interpreter exit (script-launched and torchrun processes): ``leave_process_group``."""
    leave_process_group(wait=not _exit_state["failed"])
