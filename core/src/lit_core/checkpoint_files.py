"""Checkpoint files on disk: written atomically with a checksum, verified before they are read.

What every writer of lit checkpoints shares (lit-core's default local writer, lit-checkpoint's
``TorchCheckpointIO`` and fsspec writer, ``AsyncCheckpointIO``'s background writes):

* ``write``: ``torch.save`` into a stream, then lit's checksum. torch's zip writer already stores
  the CRC32 of each record (each tensor's bytes, the pickle); lit adds, as the archive's
  *comment*, a CRC32 of every other byte (local headers, data descriptors, central directory, end
  record), read back from the few kilobytes they take. Together they cover every byte of the
  file, for almost no cost at save time, and the file stays a plain ``torch.save`` archive that
  ``torch.load`` (and Lightning) read as before: zip readers skip the comment.
* ``atomic_save``: ``write`` to a temporary file beside the target, fsync, rename, fsync of the
  folder. The file gets the mode a plain ``open(path, "w")`` would (umask respected), and a
  full disk is reported as "no space left on <folder>", not torch's ``enforce fail``.
* ``verify``: before ``torch.load``, a file with lit's checksum has both parts checked (a flipped
  bit anywhere is "corrupt"); other torch zip checkpoints (Lightning's, older lit's) have their
  records' CRC32 checked. Bytes that are no torch checkpoint at all are "not a checkpoint".
  Checking reads the file once: about 30 ms per 100 MB on the development machine, against
  ``torch.load``'s own 60 ms (``benchmarks/checkpoint.py``).
* ``temporary_path``: temporary names carry the writer's process id and host,
  ``.<name>.pid<process id>-<host>-<random>.tmp``, so that cleaning up after a killed run
  (lit-checkpoint's ``ModelCheckpoint`` does) never deletes the temporary file of a run still writing.
"""

from __future__ import annotations

import errno
import io
import os
import pickle
import re
import socket
import struct
import uuid
import zipfile
import zlib
from typing import Any, BinaryIO, NamedTuple

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


def write(obj: Any, stream: BinaryIO, where: str = "") -> None:
    """``torch.save(obj, stream)`` followed by lit's checksum; ``stream`` must be readable and seekable.

    torch is asked to compute its records' CRC32 even where the user turned that off
    (``torch.serialization.set_crc32_options(False)``): lit's checksum relies on them.

    :param where: the file's path, for the "no space left" message.
    """
    get_option = getattr(torch.serialization, "get_crc32_options", None)
    switched = get_option is not None and not get_option()
    if switched:
        torch.serialization.set_crc32_options(True)
    try:
        torch.save(obj, stream)
        _append_checksum(stream)
    except (RuntimeError, OSError) as exc:
        cause = _no_space_cause(exc)
        if cause is not None:
            raise no_space(where, cause) from cause
        raise
    finally:
        if switched:
            torch.serialization.set_crc32_options(False)


def _append_checksum(stream: BinaryIO) -> None:
    """Set the archive's comment to lit's marker and the CRC32 of the bytes outside the records' data."""
    end = stream.seek(0, os.SEEK_END)
    if end < _EOCD_SIZE:
        return
    record = _read_at(stream, end - _EOCD_SIZE, _EOCD_SIZE)
    if not record.startswith(_EOCD) or record[-2:] != b"\0\0":
        return  # not the layout this was written for (torch wrote a comment?): the records' CRCs still check it
    records = _records(stream)
    stream.seek(end - 2)
    stream.write(struct.pack("<H", _TRAILER_SIZE))
    crc = _outside_records_crc(stream, records, end)
    stream.seek(end)
    stream.write(_MARKER + b"%08x" % crc)


def _no_space_cause(exc: BaseException | None) -> OSError | None:
    """The "no space" ``OSError`` behind ``exc`` (torch reports a failed write as its own ``RuntimeError``)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, OSError) and exc.errno in _NO_SPACE:
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


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
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)  # read too: the checksum reads headers back
        with os.fdopen(fd, "w+b") as f:
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


def temporary_path(path: str) -> str:
    """The hidden name, beside ``path``, that a write uses until it is renamed over ``path``.

    ``.<name>.pid<process id>-<host>-<random>.tmp``: who owns it can be told from the name.
    ``path`` is a local path (lit-checkpoint names the temporary files of URLs the same way).
    """
    head, name = os.path.split(path)
    return os.path.join(head, f".{name}.pid{os.getpid()}-{_HOST}-{uuid.uuid4().hex[:8]}.tmp")


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
            _verify_checksummed(f, size, tail, name, has_record and has_marker)
            return
    head = _read_at(f, 0, 262)
    if head.startswith(_ZIP_MAGIC):
        _verify_records_only(f, name)
    elif not (head.startswith(_LEGACY_MAGIC) or head[257:262] == b"ustar"):  # torch's pre-zip formats
        raise CheckpointError(
            f"{name!r} is not a checkpoint: {_describe(head)}. A checkpoint is a file written by torch.save "
            "(trainer.save_checkpoint, ModelCheckpoint). Check the path."
        )


def _read_at(f: BinaryIO, offset: int, n: int) -> bytes:
    f.seek(offset)
    return f.read(n)


class _Record(NamedTuple):
    name: str
    start: int  # where its data starts
    size: int
    crc: int
    compressed: bool


def _records(f: BinaryIO) -> list[_Record]:
    """The archive's records, in file order, from its central directory and local headers."""
    with zipfile.ZipFile(f) as archive:  # a file object passed in stays open
        infos = archive.infolist()
    found = []
    for info in infos:
        header = _read_at(f, info.header_offset, 30)
        if len(header) < 30 or not header.startswith(_ZIP_MAGIC):
            raise zipfile.BadZipFile(f"no local header for {info.filename!r} at offset {info.header_offset}")
        name_length, extra_length = struct.unpack("<HH", header[26:30])
        start = info.header_offset + 30 + name_length + extra_length
        found.append(_Record(info.filename, start, info.compress_size, info.CRC, info.compress_type != zipfile.ZIP_STORED))
    return sorted(found, key=lambda record: record.start)


def _outside_records_crc(f: BinaryIO, records: list[_Record], end: int) -> int:
    """The CRC32 of the bytes of ``f[:end]`` outside the records' data (headers, directory: a few KB)."""
    crc, position = 0, 0
    for record in records:
        if record.start < position or record.start + record.size > end:
            raise zipfile.BadZipFile(f"record {record.name!r} overlaps another or the end of the file")
        crc = _crc32(f, position, record.start, crc)
        position = record.start + record.size
    return _crc32(f, position, end, crc)


def _crc32(f: BinaryIO, start: int, stop: int, crc: int = 0) -> int:
    """The CRC32 of ``f[start:stop]`` continuing ``crc``, read in 1 MiB pieces (they stay in the CPU's cache)."""
    left = stop - start
    if left <= 0:
        return crc
    buffer = memoryview(bytearray(min(left, 2**20)))
    f.seek(start)
    while left > 0:
        n = f.readinto(buffer[: min(left, len(buffer))])
        if not n:
            raise EOFError("the file ends inside a record")
        crc = zlib.crc32(buffer[:n], crc)
        left -= n
    return crc


def _corrupt(name: str, what: str) -> CheckpointError:
    return CheckpointError(
        f"Checkpoint {name!r} is corrupt: {what} (bits changed on the disk, in memory or in a copy). Nothing was "
        "loaded. Use another checkpoint (an earlier one, or ckpt_path='last'), or copy the file again from where it "
        "came from."
    )


def _verify_checksummed(f: BinaryIO, size: int, tail: bytes, name: str, intact: bool) -> None:
    """A file lit wrote: the bytes outside the records against lit's checksum, each record against its CRC32."""
    try:
        expected = int(tail[-8:], 16) if intact else None
    except ValueError:
        expected = None
    length_ok = tail[_EOCD_SIZE - 2 : _EOCD_SIZE] == struct.pack("<H", _TRAILER_SIZE)
    if expected is None or not length_ok:
        raise _corrupt(name, "the checksum lit wrote at its end is damaged")
    try:
        records = _records(f)
        matches = _outside_records_crc(f, records, size - _TRAILER_SIZE) == expected
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error, NotImplementedError) as exc:
        raise _corrupt(name, f"its zip structure is damaged ({exc})") from exc
    if not matches:
        raise _corrupt(name, "its headers do not match the checksum lit wrote with it")
    _check_records(f, records, name)


def _check_records(f: BinaryIO, records: list[_Record], name: str) -> None:
    for record in records:
        if record.compressed:  # never written by torch.save: let zipfile decompress and check it
            with zipfile.ZipFile(f) as archive:
                bad = archive.testzip()
            if bad is not None:
                raise _corrupt(name, f"record {bad!r} does not match its CRC32")
            return
        try:
            crc = _crc32(f, record.start, record.start + record.size)
        except EOFError as exc:
            raise _corrupt(name, f"record {record.name!r} is cut short") from exc
        if crc != record.crc:
            raise _corrupt(name, f"record {record.name!r} does not match its CRC32")


def truncated(name: Any, why: str) -> CheckpointError:
    """The error for a file that ends early or is no torch archive (``why``: what the reader said)."""
    return CheckpointError(
        f"Could not read checkpoint {name!r}: the file is truncated or is not a torch checkpoint ({why}). A partly "
        "written file comes from a copy that was interrupted: lit's own writes are atomic, so take the previous "
        "checkpoint (e.g. ckpt_path='last') or copy the file again."
    )


def _verify_records_only(f: BinaryIO, name: str) -> None:
    """A zip checkpoint without lit's checksum (Lightning's, older lit's): check each record's CRC32.

    Records saved with torch's CRC32 turned off (all zero) cannot be checked and are not.
    """
    try:
        records = _records(f)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error, NotImplementedError) as exc:
        raise truncated(name, f"a damaged zip archive: {exc}") from exc
    if any(record.crc for record in records):
        _check_records(f, records, name)


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
