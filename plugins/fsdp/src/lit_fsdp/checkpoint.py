"""Checkpoints of a sharded module: ``"full"`` (one ordinary lit file) and ``"sharded"`` (one folder).

**full** — every process all-gathers each sharded tensor (``DTensor.full_tensor``), global rank
zero keeps the whole tensors on the CPU and writes lit's usual file: the same keys and the same
optimizer-state layout (``optimizer.state_dict()``, parameters numbered) as a run without FSDP, so
``torch.load`` or ``Model.load_from_checkpoint`` read it anywhere. Loaded into a sharded module
(any number of processes), each process keeps its slice of every tensor.

**sharded** — a folder::

    epoch=0-step=8.ckpt/
        .metadata, __0_0.distcp, __1_0.distcp ...   torch.distributed.checkpoint: weights and optimizer
                                                    states, each process writing its own shards
        meta.ckpt                                   everything else (loops, callbacks, hyperparameters,
                                                    random state), written by global rank zero

It is written under a temporary name beside the target and renamed when every process has
finished: a crash never leaves a half-written folder under the checkpoint's name. Loading needs the
same model; ``torch.distributed.checkpoint`` reshards on load, so the number of processes may differ.
``consolidate`` turns a folder into a full file, offline.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed.checkpoint as dcp
from torch import nn
from torch.distributed.checkpoint.format_utils import dcp_to_torch_save
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_state_dict,
    set_model_state_dict,
    set_state_dict,
)
from torch.distributed.tensor import DTensor, distribute_tensor

from lit_core.plugin_api import checkpoint_files, load_checkpoint

#: The file of a sharded checkpoint folder that holds everything but the weights and optimizer states.
META_FILE = "meta.ckpt"
#: The keys of a lit checkpoint that the sharded folder stores with torch.distributed.checkpoint.
SHARDED_KEYS = ("state_dict", "optimizer_states")


def is_sharded_checkpoint(path: str) -> bool:
    """Whether ``path`` is a sharded checkpoint folder (it has torch.distributed.checkpoint's ``.metadata``)."""
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, ".metadata"))


# ---- full -----------------------------------------------------------------------------------

def gather_full(checkpoint: dict[str, Any], keep: bool) -> None:
    """Replace, in ``checkpoint``, every sharded tensor of the weights and optimizer states by the whole
    tensor on the CPU (``keep``) or drop it (``keep=False``: the processes that do not write).

    A collective: every process calls it, with the same checkpoint layout.
    """
    if "state_dict" in checkpoint:
        checkpoint["state_dict"] = _gathered(checkpoint["state_dict"], keep)
    if "optimizer_states" in checkpoint:
        checkpoint["optimizer_states"] = [
            {**state, "state": {idx: _gathered(values, keep) for idx, values in state["state"].items()}}
            for state in checkpoint["optimizer_states"]
        ]


def _gathered(tensors: dict[Any, Any], keep: bool) -> dict[Any, Any]:
    out = {}
    for key, value in tensors.items():
        if isinstance(value, DTensor):
            value = value.full_tensor()
            value = value.cpu() if keep else None
        out[key] = value
    return out


def shard_full(checkpoint: dict[str, Any], module: nn.Module, optimizers: list[torch.optim.Optimizer]) -> None:
    """Turn a full checkpoint's weights and optimizer states into this process's shards, in place, so that
    lit's ordinary restore (``module.load_state_dict``, ``optimizer.load_state_dict``) loads them.

    Every process read the whole file: each keeps its own slice, without communication.
    """
    own = module.state_dict()
    if "state_dict" in checkpoint:
        checkpoint["state_dict"] = {key: _like(value, own.get(key)) for key, value in checkpoint["state_dict"].items()}
    for opt, state in zip(optimizers, checkpoint.get("optimizer_states", [])):
        params = [p for group in opt.param_groups for p in group["params"]]
        state["state"] = {
            idx: {name: _like(value, params[idx] if isinstance(idx, int) and idx < len(params) else None)
                  for name, value in values.items()}
            for idx, values in state["state"].items()
        }


def _like(value: Any, reference: Any) -> Any:
    """``value`` (a whole tensor) sliced the way ``reference`` (a DTensor of the same shape) is sharded."""
    if not (isinstance(reference, DTensor) and isinstance(value, torch.Tensor) and not isinstance(value, DTensor)
            and value.shape == reference.shape):
        return value
    local = value.to(device=reference.to_local().device, dtype=reference.dtype)
    return distribute_tensor(local, reference.device_mesh, reference.placements, src_data_rank=None)


# ---- sharded --------------------------------------------------------------------------------

def save_sharded(checkpoint: dict[str, Any], path: str, module: nn.Module, optimizers: list[torch.optim.Optimizer],
                 is_global_zero: bool, barrier: Callable[[str], None]) -> None:
    """Write ``checkpoint`` as a sharded folder at ``path`` (every process calls it; see the module docstring)."""
    partial = f"{path}.partial"
    if is_global_zero:
        _remove(partial)  # left by a save that crashed
        os.makedirs(partial)
    barrier("lit_fsdp.save_sharded.start")
    dcp.save(_state(module, optimizers if "optimizer_states" in checkpoint else []), checkpoint_id=partial)
    if is_global_zero:
        meta = {key: value for key, value in checkpoint.items() if key not in SHARDED_KEYS}
        # An empty "state_dict" keeps meta.ckpt a lit checkpoint (lit's reader checks for one); the weights are the shards.
        meta.update(state_dict={}, sharded={"optimizers": "optimizer_states" in checkpoint})
        checkpoint_files.atomic_save(meta, os.path.join(partial, META_FILE))
    barrier("lit_fsdp.save_sharded.written")
    if is_global_zero:
        old = f"{path}.old"
        _remove(old)
        if os.path.lexists(path):
            os.replace(path, old)
        os.replace(partial, path)
        checkpoint_files.fsync_folder(os.path.dirname(os.path.abspath(path)))
        _remove(old)
    barrier("lit_fsdp.save_sharded.renamed")


def load_sharded(path: str, module: nn.Module, optimizers: list[torch.optim.Optimizer], map_location: Any) -> dict[str, Any]:
    """Read a sharded folder into ``module`` and ``optimizers`` (every process), and return the checkpoint
    dict lit's restore expects, its weights and optimizer states being this process's (now loaded) shards."""
    checkpoint = load_checkpoint(os.path.join(path, META_FILE), map_location=map_location)
    saved = checkpoint.pop("sharded", {})
    optimizers = optimizers if saved.get("optimizers") else []
    state = _state(module, optimizers)
    dcp.load(state, checkpoint_id=path)
    if optimizers:
        set_state_dict(module, optimizers, model_state_dict=state["state_dict"], optim_state_dict=state["optimizers"])
    else:
        set_model_state_dict(module, state["state_dict"], options=StateDictOptions(strict=True))
    checkpoint["state_dict"] = module.state_dict()
    if optimizers:
        checkpoint["optimizer_states"] = [opt.state_dict() for opt in optimizers]
    return checkpoint


def consolidate(folder: str | os.PathLike, filepath: str | os.PathLike) -> None:
    """Turn the sharded checkpoint ``folder`` into one full checkpoint file at ``filepath``, in this process
    (no process group, no GPU): what ``state_dict_type="full"`` would have written, loadable without FSDP
    (``torch.load``, ``Model.load_from_checkpoint``, ``ckpt_path=`` with any strategy).

    The whole state is read into this process's memory.

    Raises:
        ValueError: ``folder`` is not a sharded checkpoint, or it holds the states of several optimizers
            (stored merged, keyed by parameter name: the boundary between them is not recorded).
    """
    folder, filepath = os.fspath(folder), os.fspath(filepath)
    if not is_sharded_checkpoint(folder):
        raise ValueError(f"consolidate({folder!r}): not a sharded checkpoint folder (it has no .metadata). "
                         "Pass a folder FSDPStrategy(state_dict_type='sharded') wrote.")
    checkpoint = load_checkpoint(os.path.join(folder, META_FILE), map_location="cpu")
    saved = checkpoint.pop("sharded", {})
    with tempfile.TemporaryDirectory(prefix="lit-fsdp-") as scratch:
        whole = os.path.join(scratch, "whole.pt")
        dcp_to_torch_save(folder, whole)
        state = torch.load(whole, map_location="cpu", weights_only=True)
    checkpoint["state_dict"] = state["state_dict"]
    if saved.get("optimizers"):
        if len(checkpoint.get("optimizer_types", [])) != 1:
            raise ValueError(
                f"consolidate({folder!r}): the checkpoint holds {len(checkpoint.get('optimizer_types', []))} optimizers' "
                "states, merged by parameter name; one file cannot be made from them. Resume from the folder with "
                "strategy='fsdp', or save with FSDPStrategy(state_dict_type='full')."
            )
        checkpoint["optimizer_states"] = [_numbered(state["optimizers"])]
    checkpoint_files.atomic_save(checkpoint, filepath)


def _numbered(by_name: dict[str, Any]) -> dict[str, Any]:
    """An optimizer state keyed by parameter names (torch.distributed.checkpoint's) as ``optimizer.state_dict()``
    has it: parameters numbered in the order of the parameter groups."""
    index: dict[str, int] = {}
    groups = []
    for group in by_name["param_groups"]:
        numbers = [index.setdefault(name, len(index)) for name in group["params"]]
        groups.append({**group, "params": numbers})
    return {"state": {index[name]: value for name, value in by_name["state"].items()}, "param_groups": groups}


def _state(module: nn.Module, optimizers: list[torch.optim.Optimizer]) -> dict[str, Any]:
    """The tensors torch.distributed.checkpoint saves or fills: the weights, and the optimizers' states keyed by
    parameter names (so that they reshard when the number of processes changes)."""
    if not optimizers:
        return {"state_dict": get_model_state_dict(module)}
    model_state, optim_state = get_state_dict(module, optimizers)
    return {"state_dict": model_state, "optimizers": optim_state}


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


class ShardedCheckpointIO:
    """What ``ModelCheckpoint`` asks ``trainer.strategy.checkpoint_io`` for when checkpoints are folders:
    removing a displaced one removes its folder, and ``last`` is saved, never linked to another folder.

    Saving goes through ``FSDPStrategy.save_checkpoint`` (every process writes), loading through its
    ``lit_load_checkpoint``; these two methods are for code that calls the IO directly.
    """

    def __init__(self, strategy: Any) -> None:
        self.strategy = strategy

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None) -> None:
        """Write ``checkpoint`` as a sharded folder (every process must call it)."""
        self.strategy.save_checkpoint(checkpoint, os.fspath(path))

    def load_checkpoint(self, path: str | os.PathLike, map_location: Any = None) -> dict[str, Any]:
        """Read a sharded folder into the strategy's module and optimizers (every process must call it)."""
        return self.strategy.load_sharded(os.fspath(path), map_location)

    def remove_checkpoint(self, path: str | os.PathLike) -> None:
        """Delete a checkpoint folder (or file)."""
        _remove(os.fspath(path))
