"""What ``FSDPStrategy``'s options mean for ``fully_shard``: which submodules get their own
parameter group, which recompute their activations, and the keyword arguments of each call.

Lightning's options were made for FSDP1's wrapper class; FSDP2 (``torch.distributed.fsdp.fully_shard``)
has equivalents for most (the table is in docs/fsdp.rst):

``auto_wrap_policy``               which submodules ``fully_shard`` is applied to (then the root)
``activation_checkpointing_policy`` which submodules ``torch.distributed._composable.checkpoint`` wraps
``sharding_strategy``              ``reshard_after_forward`` and the device mesh's shape
``cpu_offload``                    ``offload_policy=CPUOffloadPolicy()``
``mixed_precision``                ``mp_policy=MixedPrecisionPolicy(...)``, by default from ``Trainer(precision=...)``
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn
from torch.distributed.fsdp import CPUOffloadPolicy, MixedPrecisionPolicy

from lit_core.plugin_api import MisconfigurationException

#: ``auto_wrap_policy`` / ``activation_checkpointing_policy``: module classes, a minimum parameter
#: count (wrap only), or ``policy(module) -> bool``.
Policy = Iterable[type[nn.Module]] | int | Callable[[nn.Module], bool] | None

#: Lightning's ``sharding_strategy`` names and what ``reshard_after_forward`` each becomes.
RESHARD_AFTER_FORWARD = {"FULL_SHARD": True, "SHARD_GRAD_OP": False, "HYBRID_SHARD": True, "_HYBRID_SHARD_ZERO2": False}

#: ``Trainer(precision=...)`` -> (parameter dtype in forward/backward, gradient reduction dtype).
#: The ``-true`` precisions convert the module itself (lit-core, lit-amp): FSDP keeps their dtype.
_MIXED = {"bf16-mixed": (torch.bfloat16, torch.float32), "16-mixed": (torch.float16, torch.float32)}


def selector(policy: Policy, option: str) -> Callable[[nn.Module], bool] | None:
    """``policy`` as a predicate on modules (``None``: no module is selected).

    Raises:
        TypeError: ``policy`` is none of a set of classes, an ``int`` (``auto_wrap_policy`` only), a callable.
    """
    if policy is None:
        return None
    if isinstance(policy, int) and not isinstance(policy, bool):
        if option != "auto_wrap_policy":
            raise TypeError(f"{option}={policy!r}: a parameter count selects only auto_wrap_policy's modules. "
                            "Pass a set of module classes, or a callable policy(module) -> bool.")
        return _MinParams(policy)
    if isinstance(policy, type) and issubclass(policy, nn.Module):
        policy = {policy}
    if isinstance(policy, (set, frozenset, list, tuple)):
        classes = tuple(policy)
        if not all(isinstance(c, type) and issubclass(c, nn.Module) for c in classes):
            raise TypeError(f"{option}={policy!r}: every item must be an nn.Module subclass (like nn.TransformerEncoderLayer).")
        return lambda module: isinstance(module, classes)
    if callable(policy):
        return policy
    raise TypeError(
        f"{option}={policy!r} is not a policy: pass a set of nn.Module classes ({{nn.TransformerEncoderLayer}}), "
        + ("a minimum parameter count (int), " if option == "auto_wrap_policy" else "")
        + "or a callable policy(module) -> bool."
    )


class _MinParams:
    """Select a module once the parameters it holds, not counting those of selected submodules, reach ``count``.

    Called bottom-up (``selected_modules``), so a block's count excludes its already selected layers, as
    FSDP1's ``size_based_auto_wrap_policy`` counted "non-wrapped" parameters.
    """

    def __init__(self, count: int) -> None:
        if count < 1:
            raise ValueError(f"auto_wrap_policy={count}: a minimum parameter count must be at least 1.")
        self.count = count
        self.claimed: set[int] = set()

    def __call__(self, module: nn.Module) -> bool:
        own = [p for p in module.parameters() if id(p) not in self.claimed]
        if sum(p.numel() for p in own) < self.count:
            return False
        self.claimed.update(id(p) for p in own)
        return True


def selected_modules(root: nn.Module, select: Callable[[nn.Module], bool] | None) -> list[nn.Module]:
    """The submodules of ``root`` (not ``root``) that ``select`` picks, innermost first (the order
    ``fully_shard`` must be applied in: a module's parameter group excludes its sharded children's)."""
    if select is None:
        return []
    inner_first = reversed(list(root.modules())[1:])
    return [m for m in inner_first if select(m)]


def reshard_after_forward(sharding_strategy: Any) -> bool:
    """``fully_shard``'s ``reshard_after_forward`` for Lightning's ``sharding_strategy`` (name or FSDP1 enum).

    Raises:
        MisconfigurationException: ``NO_SHARD`` (DDP's job) or an unknown name.
    """
    name = sharding_name(sharding_strategy)
    if name == "NO_SHARD":
        raise MisconfigurationException(
            "FSDPStrategy(sharding_strategy='NO_SHARD'): FSDP2 has no unsharded mode; it is data parallel "
            "training without sharding, which strategy='ddp' does. Use strategy='ddp', or 'FULL_SHARD' / 'SHARD_GRAD_OP'."
        )
    if name not in RESHARD_AFTER_FORWARD:
        raise MisconfigurationException(
            f"FSDPStrategy(sharding_strategy={sharding_strategy!r}) is not known: use one of "
            f"{sorted(RESHARD_AFTER_FORWARD)} (or 'NO_SHARD' with strategy='ddp')."
        )
    return RESHARD_AFTER_FORWARD[name]


def sharding_name(sharding_strategy: Any) -> str:
    """The upper-case name of a ``sharding_strategy`` given as a string or an FSDP1 ``ShardingStrategy``."""
    return str(getattr(sharding_strategy, "name", sharding_strategy)).upper()


def mixed_precision_policy(given: MixedPrecisionPolicy | None, precision: str | None) -> MixedPrecisionPolicy | None:
    """``given``, else the policy ``Trainer(precision=...)`` implies (``None``: full precision or ``-true``).

    ``bf16-mixed`` / ``16-mixed``: parameters are all-gathered and used in 16 bits, gradients
    reduced in float32 onto the float32 sharded parameters the optimizer steps (lit-amp's autocast
    still runs around each step).
    """
    if given is not None:
        if not isinstance(given, MixedPrecisionPolicy):
            raise TypeError(f"FSDPStrategy(mixed_precision={given!r}): pass a torch.distributed.fsdp.MixedPrecisionPolicy.")
        return given
    if precision in _MIXED:
        param_dtype, reduce_dtype = _MIXED[precision]
        return MixedPrecisionPolicy(param_dtype=param_dtype, reduce_dtype=reduce_dtype)
    return None


def offload_policy(cpu_offload: bool | CPUOffloadPolicy | Any) -> CPUOffloadPolicy | None:
    """``cpu_offload=True`` (or an FSDP1 ``CPUOffload(offload_params=True)``, or a ``CPUOffloadPolicy``)."""
    if isinstance(cpu_offload, CPUOffloadPolicy):
        return cpu_offload
    if isinstance(cpu_offload, bool):
        return CPUOffloadPolicy() if cpu_offload else None
    if hasattr(cpu_offload, "offload_params"):  # FSDP1's CPUOffload, as Lightning accepts it
        return CPUOffloadPolicy() if cpu_offload.offload_params else None
    raise TypeError(f"FSDPStrategy(cpu_offload={cpu_offload!r}): pass True / False or a CPUOffloadPolicy.")
