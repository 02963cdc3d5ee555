"""Fixtures for the reliability suite's checkpoint-file tests: a disk that fills up.

``full_disk`` comes in two kinds (the test runs with each):

* ``tmpfs``: a real 1 MiB tmpfs (root only; skipped otherwise). ``fill()`` takes its free space, so
  the next write fails with ``ENOSPC`` from the kernel itself.
* ``fsync``: an ordinary folder where, once ``fill()`` is called, ``os.fsync`` fails with ``ENOSPC``,
  as it does on NFS or with delayed allocation when the disk filled up after the data was
  buffered (the brief's "ENOSPC faked at the write", for machines where mounting is not allowed).
  In a subprocess, ``FULL_DISK_FSYNC=1`` in its environment does the same from its start.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


class FullDisk:
    """A folder on a disk that ``fill()`` makes full; ``env`` makes a subprocess see it full from its start."""

    def __init__(self, kind: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.kind, self.folder, self._monkeypatch = kind, folder, monkeypatch
        self.env = {"FULL_DISK_FSYNC": "1"} if kind == "fsync" else {}

    def fill(self) -> None:
        if self.kind == "tmpfs":
            stat = os.statvfs(self.folder)
            # Full a little earlier than statvfs said (an OSError, on write or on close): full all the same.
            with contextlib.suppress(OSError), open(self.folder / "filler", "wb", buffering=0) as f:
                f.write(b"\0" * (stat.f_bavail * stat.f_frsize))
        else:
            def no_space(fd: int) -> None:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

            self._monkeypatch.setattr(os, "fsync", no_space)


#: Put at the top of a subprocess's script: the ``fsync`` kind of ``full_disk`` there.
FULL_DISK_PRELUDE = """
import errno, os
if os.environ.get("FULL_DISK_FSYNC"):
    def _no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    os.fsync = _no_space
"""


@pytest.fixture(params=["tmpfs", "fsync"])
def full_disk(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FullDisk]:
    """A ``FullDisk`` of each kind (the ``tmpfs`` one needs root)."""
    folder = tmp_path / "disk"
    folder.mkdir()
    if request.param == "fsync":
        yield FullDisk("fsync", folder, monkeypatch)
        return
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (the fsync kind of this test still runs)")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield FullDisk("tmpfs", folder, monkeypatch)
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def full_disk_prelude() -> str:
    """``FULL_DISK_PRELUDE`` (a fixture: tests do not import from conftest)."""
    return FULL_DISK_PRELUDE
