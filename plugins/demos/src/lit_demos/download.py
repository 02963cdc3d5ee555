"""Downloading a file so that a reader never sees half of it.

Shared by the demos' datasets (and ``examples/mnist.py``): the bytes go to a temporary file
beside the target, are checked against a digest when one is given, and are moved into place
with one atomic rename.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from pathlib import Path


class ChecksumError(ValueError):
    """A downloaded file does not match its expected checksum."""


def hash_name(checksum: str) -> str:
    """Tell the hash from the checksum's length: 32 hex digits is MD5, 64 is SHA-256."""
    names = {32: "md5", 64: "sha256"}
    if len(checksum) not in names:
        raise ValueError(f"checksum {checksum!r} is neither an MD5 nor a SHA-256 hex digest")
    return names[len(checksum)]


def fetch(url: str, target: str | os.PathLike[str], checksum: str | None = None, timeout: float = 10.0) -> Path:
    """Download ``url`` to ``target`` (moved into place whole, and only once ``checksum`` matches).

    Raises ``urllib.error.URLError`` / ``OSError`` when the server cannot be reached or answers
    with an error, and :class:`ChecksumError` when the bytes do not match ``checksum``.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # usedforsecurity=False: the digest only detects corruption here; FIPS builds allow that.
    digest = hashlib.new(hash_name(checksum), usedforsecurity=False) if checksum else None
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            for chunk in iter(lambda: response.read(1 << 16), b""):
                if digest is not None:
                    digest.update(chunk)
                out.write(chunk)
        if digest is not None and checksum is not None and digest.hexdigest() != checksum.lower():
            raise ChecksumError(f"checksum mismatch ({digest.hexdigest()} != {checksum})")
        os.replace(tmp_name, target)  # atomic on POSIX: a reader sees no file or a whole one
    finally:
        Path(tmp_name).unlink(missing_ok=True)  # no-op after a successful replace
    return target
