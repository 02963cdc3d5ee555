"""Finding torch_xla: installed, built for this torch, and which devices it will use.

Nothing here imports torch_xla until ``import_torch_xla()`` is called: importing it takes
seconds (and starts nothing useful on a machine that trains on the CPU), so ``lit plugins``,
``accelerator="auto"`` and ``import lit_xla`` read package metadata and environment variables
only.
"""

from __future__ import annotations

import functools
import glob
import os
import re
from importlib import metadata
from types import ModuleType

import torch

from lit_core.plugin_api import MisconfigurationException

#: torch_xla's own switch for the kind of device (``TPU``, ``CPU``, ``CUDA``...).
PJRT_DEVICE = "PJRT_DEVICE"
#: How many virtual devices ``PJRT_DEVICE=CPU`` offers.
CPU_NUM_DEVICES = "CPU_NUM_DEVICES"


def release(version: str) -> tuple[int, int]:
    """``(major, minor)`` of a version string: ``"2.9.0+cu128"`` -> ``(2, 9)``."""
    match = re.match(r"(\d+)\.(\d+)", version)
    if match is None:
        raise ValueError(f"Not a version: {version!r}")
    return int(match.group(1)), int(match.group(2))


#: The torch_xla releases on PyPI, as ``(major, minor)`` (``pip index versions torch-xla``, December 2026:
#: 2.1.0 to 2.9.0, one per torch minor release). torch_xla X.Y loads only with torch X.Y; torch releases
#: newer than the last one here have no torch_xla to match (yet). Add a release here when one is published.
RELEASES: tuple[tuple[int, int], ...] = tuple((2, minor) for minor in range(1, 10))

#: Where torch_xla says which of its releases matches which torch.
INSTALL_DOCS = "https://github.com/pytorch/xla#installation"


def matching_install(torch_version: str) -> str:
    """How to install the torch_xla that matches ``torch_version``: a release that exists, or how to find one.

    For a torch with a torch_xla release of its own, ``pip install torch-xla==X.Y.*``; for one
    without (newer than the last torch_xla, or older than the first), torch_xla's installation
    page and the newest pair that exists, never an invented ``torch-xla==2.13.*``.
    """
    pair = release(torch_version)
    if pair in RELEASES:
        return "the matching torch_xla release: `pip install torch-xla=={}.{}.*` (torch_xla X.Y pairs with torch X.Y)".format(*pair)
    newest = "{}.{}".format(*max(RELEASES))
    return (
        f"torch-xla matching your torch version (see {INSTALL_DOCS}); no torch_xla release that lit-xla knows of "
        f"matches torch {pair[0]}.{pair[1]} (the newest is {newest}, for torch {newest}): "
        f"`pip install torch=={newest}.* torch-xla=={newest}.*` installs a pair that exists"
    )


def version_problem(torch_version: str, xla_version: str | None) -> str | None:
    """Why torch_xla ``xla_version`` cannot run with torch ``torch_version``, or ``None`` when it can.

    torch_xla is compiled against one torch release: torch_xla ``X.Y.*`` loads only with torch
    ``X.Y.*``. ``xla_version=None`` means torch_xla is not installed.
    """
    torch_pair = "{}.{}".format(*release(torch_version))
    if xla_version is None:
        return (
            f"torch_xla is not installed (torch is {torch_version}); lit-xla trains through it. Install "
            f"{matching_install(torch_version)}."
        )
    xla_pair = "{}.{}".format(*release(xla_version))
    if xla_pair != torch_pair:
        return (
            f"torch_xla {xla_version} is built for torch {xla_pair}.*, but torch {torch_version} is installed, and "
            f"torch_xla cannot load with it. Install a matching pair: `pip install torch=={xla_pair}.* "
            f"torch-xla=={xla_version}`, or for torch {torch_pair}, {matching_install(torch_version)}."
        )
    return None


@functools.cache
def installed_version(distribution: str) -> str | None:
    """The installed version of ``distribution`` (from metadata, nothing imported), or ``None``.

    Remembered for the process: ``accelerator="auto"`` asks on every ``Trainer()``, and a metadata
    search of ``sys.path`` costs about a millisecond each time.
    """
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def installation_problem() -> str | None:
    """``version_problem`` for the torch and torch_xla installed here."""
    return version_problem(torch.__version__, installed_version("torch-xla") or installed_version("torch_xla"))


def import_torch_xla() -> ModuleType:
    """``import torch_xla``, or an error that says which versions are installed and what to install."""
    problem = installation_problem()
    if problem is not None:
        raise MisconfigurationException(f"accelerator='xla' cannot run: {problem}")
    try:
        import torch_xla
    except ImportError as exc:  # a broken or mismatched build (undefined symbols...) despite matching versions
        pair = "{}.{}".format(*release(torch.__version__))
        raise MisconfigurationException(
            f"accelerator='xla' cannot run: importing torch_xla {installed_version('torch-xla')} with torch "
            f"{torch.__version__} failed ({exc}). Reinstall a matching pair: "
            f"`pip install --force-reinstall torch=={pair}.* torch-xla=={pair}.*`."
        ) from exc
    return torch_xla


def tpu_visible() -> bool:
    """Whether this machine shows TPU chips (the device files torch_xla itself looks for)."""
    return bool(glob.glob("/dev/accel*") or glob.glob("/dev/vfio/[0-9]*"))


def device_kind() -> str | None:
    """The kind of XLA device this process will use: ``PJRT_DEVICE``, else ``"TPU"`` when chips are visible."""
    kind = os.environ.get(PJRT_DEVICE)
    if kind:
        return kind.upper()
    return "TPU" if tpu_visible() else None


def device_count() -> int:
    """How many XLA devices this host offers, without starting the XLA runtime.

    A started runtime cannot launch processes any more (``torch_xla.launch`` refuses), so the
    count comes from ``CPU_NUM_DEVICES`` on the CPU and from the device files on a TPU host.
    """
    kind = device_kind()
    if kind == "CPU":
        return int(os.environ.get(CPU_NUM_DEVICES, "1"))
    if kind == "TPU":
        import_torch_xla()
        from torch_xla._internal import tpu

        return tpu.num_available_devices()
    import_torch_xla()
    import torch_xla.runtime as xr

    return xr.global_runtime_device_count()
