"""Fixtures for the reliability suite's checkpoint-file tests: a small disk that fills up for real.

``small_disk`` mounts a 1 MiB tmpfs (root only: the test is skipped otherwise); ``fill(folder,
leave=...)`` takes its free space, so the next write that needs more fails with ``ENOSPC`` from the
kernel itself, nothing faked.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs mounted at a fresh folder (unmounted afterwards); skips unless running as root."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    folder = tmp_path / "small_disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def fill() -> Callable[..., None]:
    """``fill(folder, leave=0)``: write a filler file in ``folder`` until only ``leave`` bytes are free."""

    def fill(folder: Path, leave: int = 0) -> None:
        stat = os.statvfs(folder)
        size = max(stat.f_bavail * stat.f_frsize - leave, 0)
        # Full a little earlier than statvfs said (an OSError, on write or on close): full all the same.
        with contextlib.suppress(OSError), open(folder / "filler", "wb", buffering=0) as f:
            f.write(b"\0" * size)

    return fill
