"""``FSDPStrategy``: fully sharded data parallel training with PyTorch's FSDP2 (``fully_shard``).

Each process holds ``1/N`` of every parameter, gradient and optimizer state; a layer's parameters are
all-gathered just before it runs and freed after. Processes, environments (script re-run, torchrun,
SLURM, multi-node), the distributed sampler and the collectives are lit-ddp's ``DDPStrategy``'s,
inherited. What this class changes:

``lit_setup_module``     (wrapper, every stage) ``fully_shard`` on the submodules the
                         ``auto_wrap_policy`` selects, innermost first, then on a ``StepForward``
                         root around the module (its own parameters); a module built on the meta
                         device in ``configure_model`` is sharded first and then materialised, shard by shard
``lit_load_checkpoint``  (wrapper) a full file, whoever read it, is sliced to each process's shards; a
                         sharded folder is read by every process into its shards (``_ShardedFolderReader``)
``save_checkpoint``      ``state_dict_type="full"``: gathered on global rank zero into lit's usual file;
                         ``"sharded"``: every process writes its shards into one folder (``checkpoint``)
``lit_checkpoint_io``    with sharded checkpoints, how ``ModelCheckpoint`` removes a checkpoint (a folder)

Gradient clipping needs nothing here: the gradients are ``DTensor`` shards and
``torch.nn.utils.clip_grad_norm_`` computes the norm over all of them, across processes.
"""

from __future__ import annotations

import inspect
from collections.abc import Generator
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed._composable import checkpoint as activation_checkpoint
from torch.distributed.device_mesh import DeviceMesh, init_device_mesh
from torch.distributed.fsdp import CPUOffloadPolicy, FSDPModule, MixedPrecisionPolicy, fully_shard

import lit_core as lit
from lit_core.plugin_api import ClusterEnvironment, MisconfigurationException, StepForward, TrainerFn
from lit_ddp import DDPStrategy

from . import policies
from .checkpoint import ShardedCheckpointIO, gather_full, is_sharded_checkpoint, load_sharded, save_sharded, shard_full

_STATE_DICT_TYPES = ("full", "sharded")
#: ``fully_shard``'s keyword arguments that ``FSDPStrategy(**fully_shard_kwargs)`` passes on (the others it sets itself).
_FULLY_SHARD_ARGS = frozenset(inspect.signature(fully_shard).parameters) - {"module", "reshard_after_forward", "mp_policy", "offload_policy"}


class FSDPStrategy(DDPStrategy):
    """Fully sharded data parallel on ``torch.distributed.fsdp.fully_shard``: ``strategy="fsdp"``.

    :param auto_wrap_policy: which submodules get their own parameter group (all-gathered and freed
        on their own, so only one group is whole at a time): a set of module classes
        (``{nn.TransformerEncoderLayer}``), a minimum parameter count, or ``policy(module) -> bool``.
        ``None``: one group, the whole module (parameters, gradients and optimizer states are still sharded).
    :param activation_checkpointing_policy: which submodules recompute their activations in backward
        instead of storing them: a set of module classes or ``policy(module) -> bool``.
    :param cpu_offload: keep the sharded parameters, gradients and optimizer states in CPU memory
        (``True`` or a ``CPUOffloadPolicy``); the optimizer steps on the CPU.
    :param mixed_precision: a ``MixedPrecisionPolicy``; by default the one ``Trainer(precision=...)`` implies
        (``bf16-mixed``: parameters in bfloat16, gradients reduced in float32).
    :param sharding_strategy: ``"FULL_SHARD"`` (free the parameters after forward), ``"SHARD_GRAD_OP"``
        (keep them until backward), ``"HYBRID_SHARD"`` (shard within a node, replicate across nodes).
    :param state_dict_type: ``"full"`` (one file, written by global rank zero, loadable without FSDP) or
        ``"sharded"`` (one folder, every process writing its shards: faster, for large models).
    :param process_group_backend: see ``DDPStrategy``; ``timeout``, ``cluster_environment`` too.
    :param fully_shard_kwargs: any other ``fully_shard`` argument (``shard_placement_fn``, ``mesh``...).
    """

    name = "fsdp"

    def __init__(self, auto_wrap_policy: policies.Policy = None, activation_checkpointing_policy: policies.Policy = None,
                 cpu_offload: bool | CPUOffloadPolicy = False, mixed_precision: MixedPrecisionPolicy | None = None,
                 sharding_strategy: Any = "FULL_SHARD", state_dict_type: str = "full", process_group_backend: str | None = None,
                 timeout: timedelta | float = timedelta(minutes=30), cluster_environment: ClusterEnvironment | None = None,
                 **fully_shard_kwargs: Any) -> None:
        super().__init__(process_group_backend=process_group_backend, timeout=timeout, cluster_environment=cluster_environment)
        if state_dict_type not in _STATE_DICT_TYPES:
            raise ValueError(f"FSDPStrategy(state_dict_type={state_dict_type!r}): use 'full' or 'sharded'.")
        self.auto_wrap_policy = auto_wrap_policy
        self.activation_checkpointing_policy = activation_checkpointing_policy
        self.sharding_strategy = sharding_strategy
        self.state_dict_type = state_dict_type
        self.mixed_precision = mixed_precision
        self.cpu_offload = cpu_offload
        unknown = sorted(set(fully_shard_kwargs) - _FULLY_SHARD_ARGS)
        if unknown:
            raise TypeError(
                f"FSDPStrategy got {unknown}, which are neither its options nor fully_shard's ({sorted(_FULLY_SHARD_ARGS)}). "
                "FSDP1-only options (use_orig_params, limit_all_gathers, sync_module_states, forward_prefetch...) have no "
                "FSDP2 equivalent: drop them (docs/fsdp.rst has the mapping)."
            )
        self.fully_shard_kwargs = fully_shard_kwargs
        # Checked now, not at the first fit: a wrong option fails where it is written.
        self._reshard_after_forward = policies.reshard_after_forward(sharding_strategy)
        self._offload = policies.offload_policy(cpu_offload)
        policies.selector(auto_wrap_policy, "auto_wrap_policy")
        policies.selector(activation_checkpointing_policy, "activation_checkpointing_policy")
        if mixed_precision is not None:
            policies.mixed_precision_policy(mixed_precision, None)
        self._root: StepForward | None = None
        self._sync: _GradientSyncSwitch | None = None
        self._io = ShardedCheckpointIO(self)

    # -- the module ---------------------------------------------------------------------------

    @lit.hookimpl(wrapper=True, trylast=True)
    def lit_setup_module(self, trainer: lit.Trainer, module: lit.LightningModule) -> Generator[None, Any, Any]:
        # trylast: the innermost wrapper, after precision plugins converted the module (bf16-true).
        if trainer.sync_batchnorm:
            raise MisconfigurationException(
                "Trainer(sync_batchnorm=True) is not supported by strategy='fsdp': use strategy='ddp' for SyncBatchNorm, "
                "or drop sync_batchnorm=True."
            )
        if self._offload is not None and trainer.device.type == "cpu":
            raise MisconfigurationException(
                "FSDPStrategy(cpu_offload=True) moves the shards from the accelerator's memory to the CPU's; training "
                "on the CPU they are there already (and torch's offload needs an accelerator to pin memory for). "
                "Drop cpu_offload=True, or train on GPUs (accelerator='cuda')."
            )
        if self._root is None or self._root.module is not module:
            if _on_meta(module):
                # Built on the meta device (configure_model): shard first, then allocate only this process's shards.
                self._root = self._shard(trainer, module)
                _materialise(module, trainer.device)
                yield  # the device move finds the shards on the device already
            else:
                yield
                self._root = self._shard(trainer, module)
        else:
            yield  # a later stage: the module is sharded already
        reader = f"lit_fsdp.sharded_reader:{id(self)}"
        if not trainer.plugin_manager.has_plugin(reader):
            trainer.plugin_manager.register(_ShardedFolderReader(self), reader)
        if trainer.state.fn == TrainerFn.FITTING and trainer.accumulate_grad_batches > 1:
            self._sync = _GradientSyncSwitch(self._root)
            trainer.plugin_manager.register(self._sync, f"lit_fsdp.gradient_sync:{id(self)}")
        return self._root

    def _shard(self, trainer: lit.Trainer, module: lit.LightningModule) -> StepForward:
        """Apply activation checkpointing, then ``fully_shard`` innermost first, then on the root."""
        for layer in policies.selected_modules(module, policies.selector(self.activation_checkpointing_policy,
                                                                          "activation_checkpointing_policy")):
            activation_checkpoint(layer)
        kwargs: dict[str, Any] = {"reshard_after_forward": self._reshard_after_forward, **self.fully_shard_kwargs}
        kwargs.setdefault("mesh", self._mesh(trainer))
        mp_policy = policies.mixed_precision_policy(self.mixed_precision, getattr(trainer.precision_plugin, "name", None))
        if mp_policy is not None:
            kwargs["mp_policy"] = mp_policy
        if self._offload is not None:
            kwargs["offload_policy"] = self._offload
        for layer in policies.selected_modules(module, policies.selector(self.auto_wrap_policy, "auto_wrap_policy")):
            fully_shard(layer, **kwargs)
        root = StepForward(module)
        fully_shard(root, **kwargs)
        return root

    def _mesh(self, trainer: lit.Trainer) -> DeviceMesh:
        """All processes in one dimension; ``HYBRID_SHARD``: (nodes, processes per node), replicated across nodes."""
        device_type = trainer.device.type
        if policies.sharding_name(self.sharding_strategy).startswith(("HYBRID", "_HYBRID")):
            nodes = trainer.num_nodes
            if trainer.world_size % nodes:
                raise MisconfigurationException(
                    f"sharding_strategy={self.sharding_strategy!r} needs as many processes on every node: world size "
                    f"{trainer.world_size} does not divide into num_nodes={nodes}."
                )
            return init_device_mesh(device_type, (nodes, trainer.world_size // nodes), mesh_dim_names=("replicate", "shard"))
        return init_device_mesh(device_type, (trainer.world_size,))

    @lit.hookimpl
    def lit_teardown(self, trainer: lit.Trainer) -> None:
        self._stage_ended(trainer)
        super().lit_teardown(trainer)

    @lit.hookimpl
    def lit_exception(self, trainer: lit.Trainer, exception: BaseException) -> None:
        self._stage_ended(trainer)
        super().lit_exception(trainer, exception)

    def _stage_ended(self, trainer: lit.Trainer) -> None:
        """After the stage ``trainer.model`` is the module again (its parameters stay sharded, as after
        Lightning's FSDP stage); the gradient-sync switch goes."""
        if self._root is not None and trainer.model is self._root:
            trainer.model = trainer.lightning_module
        if self._sync is not None:
            trainer.plugin_manager.unregister(self._sync)
            self._sync = None

    # -- checkpoints --------------------------------------------------------------------------

    def save_checkpoint(self, checkpoint: dict[str, Any], filepath: str) -> None:
        """``"full"``: gather the shards (every process), global rank zero writes lit's usual file.
        ``"sharded"``: every process writes its shards into the folder ``filepath``."""
        trainer = self._trainer()
        if not self._owns_sharded_module(trainer):
            return super().save_checkpoint(checkpoint, filepath)
        if self.state_dict_type == "full":
            gather_full(checkpoint, keep=trainer.is_global_zero)
            return super().save_checkpoint(checkpoint, filepath)
        if "://" in filepath:
            raise MisconfigurationException(
                f"FSDPStrategy(state_dict_type='sharded') writes folders on a local or shared file system, not {filepath!r}. "
                "Save to a path, or use state_dict_type='full' (one file, written through the checkpoint IO)."
            )
        save_sharded(checkpoint, filepath, trainer.lightning_module, trainer.optimizers, trainer.is_global_zero, self.barrier)
        return None

    def load_sharded(self, path: str, map_location: Any = None) -> dict[str, Any]:
        """Read the sharded checkpoint folder ``path`` into the module (and, fitting, the optimizers)."""
        trainer = self._trainer()
        optimizers = trainer.optimizers if trainer.state.fn == TrainerFn.FITTING else []
        return load_sharded(path, trainer.lightning_module, optimizers, map_location)

    @lit.hookimpl(wrapper=True)
    def lit_load_checkpoint(self, trainer: lit.Trainer, path: str, map_location: Any) -> Generator[None, Any, Any]:
        # A wrapper: whichever plugin read a full file (lit-core, a CheckpointIO), each process keeps its slices.
        checkpoint = yield
        if self._owns_sharded_module(trainer) and not is_sharded_checkpoint(path):
            optimizers = trainer.optimizers if trainer.state.fn == TrainerFn.FITTING else []
            shard_full(checkpoint, trainer.lightning_module, optimizers)
        return checkpoint

    @lit.hookimpl(tryfirst=True)
    def lit_checkpoint_io(self, trainer: lit.Trainer) -> ShardedCheckpointIO | None:
        return self._io if self.state_dict_type == "sharded" else None

    def _owns_sharded_module(self, trainer: lit.Trainer) -> bool:
        return self._root is not None and self._root.module is trainer.lightning_module and dist.is_initialized()


    def _trainer(self) -> lit.Trainer:
        if self.trainer is None:
            raise RuntimeError(f"{self!r} is not attached to a Trainer yet: pass it as Trainer(strategy=...).")
        return self.trainer


class _ShardedFolderReader:
    """Reads a sharded checkpoint folder (``ckpt_path=``) into the sharded module, before any plugin that reads files."""

    def __init__(self, strategy: FSDPStrategy) -> None:
        self.strategy = strategy

    @lit.hookimpl(tryfirst=True)
    def lit_load_checkpoint(self, trainer: lit.Trainer, path: str, map_location: Any) -> dict[str, Any] | None:
        if self.strategy._owns_sharded_module(trainer) and is_sharded_checkpoint(path):
            return self.strategy.load_sharded(path, map_location)
        return None


class _GradientSyncSwitch:
    """While gradients accumulate, FSDP does not reduce-scatter them: only the batch that steps does
    (``set_requires_gradient_sync`` from ``trainer.state.stepping`` before each training batch)."""

    def __init__(self, root: FSDPModule) -> None:
        self.root = root

    @lit.hookimpl
    def lit_train_batch_start(self, trainer: lit.Trainer) -> None:
        self.root.set_requires_gradient_sync(trainer.state.stepping)


def _on_meta(module: nn.Module) -> bool:
    return any(t.is_meta for t in (*module.parameters(), *module.buffers()))


@torch.no_grad()
def _materialise(module: nn.Module, device: torch.device) -> None:
    """Allocate the (sharded) meta tensors on ``device`` and initialise them with each submodule's
    ``reset_parameters`` (torch's recipe for meta-device initialisation with FSDP2)."""
    module.to_empty(device=device)
    for layer in module.modules():
        reset = getattr(layer, "reset_parameters", None)
        if callable(reset):
            reset()
