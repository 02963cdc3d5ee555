"""Checkpoint files on disk: written atomically with a checksum, verified before they are read.

What every writer of lit checkpoints shares (lit-core's default local writer, lit-checkpoint's
``TorchCheckpointIO`` and fsspec writer, ``AsyncCheckpointIO``'s background writes):

* ``write``: ``torch.save`` into a stream, followed by a CRC32 of the whole file. The file stays
  a plain torch zip archive that ``torch.load`` reads as before: the checksum is the archive's
  *comment*, which zip readers skip. It is computed while torch writes (no second pass).
* ``atomic_save``: ``write`` to a temporary file beside the target, fsync, rename, fsync of the
  folder. The file gets the mode a plain ``open(path, "w")`` would (umask respected), and a
  full disk is reported as "no space left on <folder>", not torch's ``enforce fail``.
* ``verify``: before ``torch.load``, a file with lit's checksum is checked whole (a flipped bit
  anywhere is "corrupt"); other torch zip checkpoints (Lightning's, lit's older ones) have the
  CRC32 of each record checked. Bytes that are no torch checkpoint at all are "not a checkpoint".
  Checking a 100 MB checkpoint costs ~50 ms on top of ``torch.load``'s own time (see
  ``benchmarks/checkpoint.py``).
* ``temporary_path`` / ``is_stale``: temporary names carry the writer's process id and host, so
  cleaning up after a killed run never deletes the temporary file of a run still writing.
"""

from __future__ import annotations

import errno
import io
import os
import pickle
import re
import socket
import struct
import time
import uuid
import zipfile
import zlib
from typing import Any, BinaryIO

import torch

from .exceptions import CheckpointError

_EOCD = b"PK\x05\x06"  # zip "end of central directory" record: 22 bytes, then the comment
_EOCD_SIZE = 22
_MARKER = b"lit-crc32:"
_TRAILER_SIZE = len(_MARKER) + 8  # the comment: marker + 8 hex digits
_ZIP_MAGIC = b"PK\x03\x04"
#: torch's pre-1.6 (non-zip) format starts with its magic number, pickled with protocol 2.
_LEGACY_MAGIC = pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2)[:-1]
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)

# ------------------------------------------------------------------------------------------
# Writing
# ------------------------------------------------------------------------------------------


class _ChecksummedWriter:
    """The stream ``torch.save`` writes to: passes bytes on, keeps a CRC32 and the last 22 bytes.

    The last 22 bytes (torch's end-of-archive record, whose last two bytes are the comment
    length) are held out of the CRC until the comment length is known. An ``OSError`` from the
    stream is kept: torch replaces it with its own ``enforce fail`` error.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.crc = 0
        self.tail = b""
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        try:
            self.stream.write(view)
        except OSError as exc:
            self.error = exc
            raise
        if view.nbytes >= _EOCD_SIZE:
            self.crc = zlib.crc32(view[: view.nbytes - _EOCD_SIZE], zlib.crc32(self.tail, self.crc))
            self.tail = bytes(view[view.nbytes - _EOCD_SIZE :])
        else:
            joined = self.tail + bytes(view)
            cut = max(len(joined) - _EOCD_SIZE, 0)
            self.crc = zlib.crc32(joined[:cut], self.crc)
            self.tail = joined[cut:]
        return view.nbytes

    def flush(self) -> None:
        self.stream.flush()

    def finish(self) -> None:
        """Append the checksum as the archive's comment (nothing when torch wrote a comment itself)."""
        if len(self.tail) != _EOCD_SIZE or not self.tail.startswith(_EOCD) or self.tail[-2:] != b"\0\0":
            return  # not the archive layout this was written for: the zip records' own CRCs still check it
        record = self.tail[:-2] + struct.pack("<H", _TRAILER_SIZE)
        crc = zlib.crc32(record, self.crc)
        try:
            self.stream.seek(-2, os.SEEK_CUR)
            self.stream.write(record[-2:] + _MARKER + b"%08x" % crc)
        except OSError as exc:
            self.error = exc
            raise


def write(obj: Any, stream: BinaryIO, where: str = "") -> None:
    """``torch.save(obj, stream)`` followed by lit's checksum; ``stream`` must be seekable.

    :param where: the file's path, for the "no space left" message.
    """
    writer = _ChecksummedWriter(stream)
    try:
        torch.save(obj, writer)
        writer.finish()
    except (RuntimeError, OSError) as exc:
        cause = writer.error or (exc if isinstance(exc, OSError) else None)
        if cause is not None and cause.errno in _NO_SPACE:
            raise no_space(where, cause) from cause
        raise


def no_space(path: str, cause: OSError) -> CheckpointError:
    """The error for a save that found the disk (or the quota) full."""
    folder = os.path.dirname(os.path.abspath(path)) if path else "the checkpoint folder"
    return CheckpointError(
        f"Could not save checkpoint {path!r}: no space left on {folder} ({os.strerror(cause.errno)}). Nothing was "
        "replaced: the previous checkpoints are intact. Free some space, or save elsewhere (ModelCheckpoint(dirpath=...), "
        "fewer kept checkpoints with save_top_k)."
    )


def atomic_save(obj: Any, path: str | os.PathLike) -> None:
    """Write a checkpoint to ``path`` so that a crash at any moment leaves the old file or the new one.

    A temporary file beside ``path`` (see ``temporary_path``), fsync, rename over ``path``, fsync
    of the folder. The temporary file is created as ``open`` would create it (mode 0666 less the
    umask, 0644 under the usual umask 022), so the checkpoint gets the mode of a plain write.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = temporary_path(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as f:
            write(obj, f, path)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        if exc.errno in _NO_SPACE:
            raise no_space(path, exc) from exc
        raise
    finally:
        if os.path.lexists(tmp):
            os.remove(tmp)
    fsync_folder(folder)


def fsync_folder(folder: str) -> None:
    """Make a rename in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ------------------------------------------------------------------------------------------
# Temporary files
# ------------------------------------------------------------------------------------------

_HOST = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname().split(".")[0])[:32] or "host"
_OWNED = re.compile(r"\.pid(\d+)-([A-Za-z0-9]*)-[0-9a-f]{8}\.tmp$")
#: A temporary file whose owner cannot be asked (another host, or an older lit's name) counts as
#: abandoned once unmodified this long: a live writer writes (and so touches it) far more often.
STALE_AFTER_S = 3600.0


def temporary_path(path: str) -> str:
    """The hidden name, beside ``path``, that a write uses until it is renamed over ``path``.

    ``.<name>.pid<process id>-<host>-<random>.tmp``: who owns it can be told from the name.
    """
    if "://" in path:
        head, _, name = path.rstrip("/").rpartition("/")
    else:
        head, name = os.path.split(path)
    tag = f".{name}.pid{os.getpid()}-{_HOST}-{uuid.uuid4().hex[:8]}.tmp"
    return f"{head}/{tag}" if "://" in path else os.path.join(head, tag)


def is_stale(name: str, modified: float, now: float | None = None) -> bool:
    """Whether temporary file ``name`` (last written at ``modified``) was left by a writer that is gone.

    Written by a process of this host: stale when that process no longer exists. Otherwise
    (another host, or a name without an owner): stale when unmodified for ``STALE_AFTER_S``.
    """
    owner = _OWNED.search(name)
    if owner is not None and owner.group(2) == _HOST:
        return not _alive(int(owner.group(1)))
    return (time.time() if now is None else now) - modified > STALE_AFTER_S


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # this process may be writing it now (a background save)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    return True


# ------------------------------------------------------------------------------------------
# Verifying
# ------------------------------------------------------------------------------------------


def verify(data: bytes, name: str) -> None:
    """Check the bytes of a checkpoint before ``torch.load`` reads them; raise ``CheckpointError`` if bad.

    :param data: the whole file.
    :param name: the file, for messages.
    """
    _verify(io.BytesIO(data), len(data), name)


def verify_file(path: str) -> None:
    """``verify`` the file at ``path``, read in 1 MiB pieces (faster than a memory map: no page faults)."""
    with open(path, "rb", buffering=0) as f:
        _verify(f, os.fstat(f.fileno()).st_size, path)


def _verify(f: BinaryIO, size: int, name: str) -> None:
    if size >= _EOCD_SIZE + _TRAILER_SIZE:
        tail = _read_at(f, size - _EOCD_SIZE - _TRAILER_SIZE, _EOCD_SIZE + _TRAILER_SIZE)
        has_record = tail.startswith(_EOCD)
        has_marker = tail[_EOCD_SIZE : _EOCD_SIZE + len(_MARKER)] == _MARKER
        if has_record or has_marker:  # lit wrote it: one flipped bit cannot erase both
            _verify_checksum(f, size, tail, name, has_record and has_marker)
            return
    head = _read_at(f, 0, 262)
    if head.startswith(_ZIP_MAGIC):
        _verify_records(f, name)
    elif not (head.startswith(_LEGACY_MAGIC) or head[257:262] == b"ustar"):  # torch's pre-zip formats
        raise CheckpointError(
            f"{name!r} is not a checkpoint: {_describe(head)}. A checkpoint is a file written by torch.save "
            "(trainer.save_checkpoint, ModelCheckpoint). Check the path."
        )


def _read_at(f: BinaryIO, offset: int, n: int) -> bytes:
    f.seek(offset)
    return f.read(n)


def _verify_checksum(f: BinaryIO, size: int, tail: bytes, name: str, intact: bool) -> None:
    try:
        expected = int(tail[-8:], 16) if intact else None
    except ValueError:
        expected = None
    length_ok = tail[_EOCD_SIZE - 2 : _EOCD_SIZE] == struct.pack("<H", _TRAILER_SIZE)
    if expected is None or not length_ok or _crc32(f, size - _TRAILER_SIZE) != expected:
        raise CheckpointError(
            f"Checkpoint {name!r} is corrupt: its content does not match the checksum lit wrote with it (bits "
            "changed on the disk, in memory or in a copy). Nothing was loaded. Use another checkpoint (an earlier "
            "one, or ckpt_path='last'), or copy the file again from where it came from."
        )


def _crc32(f: BinaryIO, length: int) -> int:
    """The CRC32 of the first ``length`` bytes of ``f``; a 1 MiB buffer stays in the CPU's cache."""
    buffer = bytearray(min(length, 2**20) or 1)
    view = memoryview(buffer)
    crc, left = 0, length
    f.seek(0)
    while left > 0:
        n = f.readinto(view[: min(left, len(buffer))])
        if not n:
            break
        crc = zlib.crc32(view[:n], crc)
        left -= n
    return crc


def _verify_records(f: BinaryIO, name: str) -> None:
    """A zip checkpoint without lit's checksum (Lightning's, older lit's): check each record's CRC32."""
    try:
        with zipfile.ZipFile(f) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error, NotImplementedError) as exc:
        raise CheckpointError(
            f"Could not read checkpoint {name!r}: the file is truncated or is not a torch checkpoint (a damaged zip "
            f"archive: {exc}). A partly written file comes from a copy that was interrupted: lit's own writes are "
            "atomic, so take the previous checkpoint (e.g. ckpt_path='last') or copy the file again."
        ) from exc
    if bad is not None:
        raise CheckpointError(
            f"Checkpoint {name!r} is corrupt: record {bad!r} does not match its CRC32 (bits changed on the disk or in "
            "a copy). Nothing was loaded. Use another checkpoint, or copy the file again."
        )


def _describe(head: bytes) -> str:
    if not head:
        return "the file is empty"
    try:
        text = head[:64].decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < 56:  # not just a character cut at the end of the piece read
            return f"it starts with the bytes {head[:8].hex(' ')}, which no torch.save output starts with"
        text = head[: exc.start].decode("utf-8")
    return f"it is text, starting {text[:40]!r}"


def cuda_requested(map_location: Any) -> bool:
    """Whether ``map_location`` (a device, a string, or a dict of them) sends tensors to a CUDA device."""
    if isinstance(map_location, dict):
        return any(cuda_requested(v) for v in map_location.values())
    if isinstance(map_location, (str, torch.device)):
        try:
            return torch.device(map_location).type == "cuda"
        except RuntimeError:
            return False
    return False
