"""Lightning names lit's namespaces know but do not define: for error messages only.

This is a hint table, not a registry: what ``from lit_core.callbacks import X`` resolves to is
decided by the installed distributions' entry points (``lit_core.namespace``). When nothing
installed provides a Lightning name, these tables say what to do instead: which first-party
distribution to install (``lit_core.first_party``, the one table of first-party names), which
open issue brings the name, or that lit lacks it on purpose (the reasons are in
``docs/decisions.rst``, one section per name family).

Keys are entry-point groups (a namespace's own name, or ``lit_core.plugins.precision`` /
``.io`` / ``.environments`` for the plugin kinds).
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import metadata

from . import first_party

#: group -> Lightning name -> the open issue that brings it (none open now).
PLANNED: dict[str, dict[str, int]] = {}

#: group -> Lightning names lit lacks on purpose (each has its reason in docs/decisions.rst).
ABSENT: dict[str, frozenset[str]] = {
    "lit_core.accelerators": frozenset({"MPSAccelerator", "AcceleratorRegistry", "find_usable_cuda_devices"}),
    "lit_core.strategies": frozenset({"DeepSpeedStrategy", "ModelParallelStrategy", "ParallelStrategy",
                                      "SingleDeviceXLAStrategy", "StrategyRegistry"}),
    "lit_core.plugins": frozenset({"LayerSync", "TorchSyncBatchNorm"}),
    "lit_core.plugins.precision": frozenset({"BitsandbytesPrecision", "DeepSpeedPrecision", "FSDPPrecision",
                                             "TransformerEnginePrecision", "XLAPrecision"}),
    "lit_core.plugins.io": frozenset({"XLACheckpointIO"}),
    "lit_core.plugins.environments": frozenset({"LSFEnvironment", "MPIEnvironment", "XLAEnvironment"}),
    "lit_core.loggers": frozenset({"CometLogger", "NeptuneLogger", "LitLogger"}),
    "lit_core.tuner": frozenset({"batch_size_scaling"}),
    "lit_core.profilers": frozenset({"XLAProfiler"}),
    "lit_core.utilities": frozenset({"disable_possible_user_warnings", "find_shared_parameters", "set_shared_parameters", "is_shared_filesystem",
                                     "measure_flops"}),
}


def missing_message(module: str, groups: Iterable[str], name: str) -> str | None:
    """Why ``name`` cannot be imported from ``module`` (reading ``groups``), or ``None`` if no table knows it."""
    for group in groups:
        dist = first_party.provider(group, name)
        if dist is not None:
            if _installed(dist):
                return (f"{name} is in {dist}, which is installed but does not declare {name} in the {group!r} "
                        f"entry-point group: upgrade it (pip install -U {dist}).")
            return f"{name} is in {dist}: pip install {dist} (then `from {module} import {name}` works)."
        issue = PLANNED.get(group, {}).get(name)
        if issue is not None:
            return (f"{module}.{name} is not in lit yet: issue {issue} brings it. "
                    "docs/decisions.rst lists what lit has instead for now.")
        if name in ABSENT.get(group, ()):
            return (f"{module}.{name} is a Lightning name lit deliberately lacks; docs/decisions.rst says why "
                    "and what to use instead.")
    return None


def _installed(distribution: str) -> bool:
    try:
        metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True
