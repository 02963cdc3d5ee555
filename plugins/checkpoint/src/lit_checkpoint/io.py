"""Files for checkpoints: local paths through ``os``, URLs through fsspec, and the ``FsspecCheckpointIO`` plugin.

A path is *local* when it has no protocol (``/runs/a``, ``runs/a``) or is a ``file://`` URL; any
other URL (``memory://``, ``s3://``, ``gs://`` ...) goes through ``fsspec.core.url_to_fs``.
fsspec is imported only when a URL is met: a run that checkpoints to a local disk never pays
for it.

Every write that replaces a file does it atomically where the filesystem allows: a temporary
name in the same folder, then a rename over the target. A crash leaves the old file or the new
one, never a torn one.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

import lit_core as lit
from lit_core.plugin_api import checkpoint_files, load_checkpoint

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem


def protocol(path: str) -> str | None:
    """The URL scheme of ``path`` (``"s3"`` for ``s3://b/k``), or ``None`` for a plain path."""
    return path.split("://", 1)[0] if "://" in path else None


def local_path(path: str | os.PathLike) -> str | None:
    """The operating-system path of a local ``path`` (``file://`` URLs included), else ``None``."""
    path = os.fspath(path)
    scheme = protocol(path)
    if scheme is None:
        return path
    if scheme in ("file", "local"):
        return path.split("://", 1)[1]
    return None


def filesystem(path: str) -> tuple[AbstractFileSystem, str]:
    """The fsspec filesystem of URL ``path`` and the path inside it."""
    from fsspec.core import url_to_fs

    return url_to_fs(path)


def normalize_dir(path: str | os.PathLike) -> str:
    """A folder as checkpoints name it: local paths absolute with ``~`` and links resolved, URLs as given."""
    path = os.fspath(path)
    local = local_path(path)
    if local is None:
        return path
    resolved = os.path.realpath(os.path.expanduser(local))
    return resolved if local == path else f"file://{resolved}"


def join(folder: str, name: str) -> str:
    """``folder/name`` for local folders and URLs alike."""
    if protocol(folder) is None:
        return os.path.join(folder, name)
    return f"{folder.rstrip('/')}/{name}"


def parent(path: str) -> str:
    """The folder that holds ``path``."""
    if protocol(path) is None:
        return os.path.dirname(path)
    scheme, rest = path.split("://", 1)
    rest = rest.rstrip("/")
    return f"{scheme}://{rest.rsplit('/', 1)[0] if '/' in rest else ''}"


def exists(path: str) -> bool:
    """Whether a file or folder is at ``path`` (a link counts when its target exists)."""
    local = local_path(path)
    if local is not None:
        return os.path.exists(local)
    fs, inner = filesystem(path)
    return fs.exists(inner)


def makedirs(path: str) -> None:
    """Create folder ``path`` and its parents; nothing happens when it exists."""
    local = local_path(path)
    if local is not None:
        os.makedirs(local, exist_ok=True)
        return
    fs, inner = filesystem(path)
    fs.makedirs(inner, exist_ok=True)


def remove(path: str) -> None:
    """Delete the file (or link) at ``path``; nothing happens when there is none."""
    local = local_path(path)
    if local is not None:
        with suppress(FileNotFoundError):
            os.remove(local)
        return
    fs, inner = filesystem(path)
    if fs.exists(inner):
        fs.rm(inner)


def listdir(folder: str) -> list[str]:
    """The names in ``folder`` (not paths), sorted; empty when it does not exist."""
    local = local_path(folder)
    if local is not None:
        try:
            return sorted(os.listdir(local))
        except (FileNotFoundError, NotADirectoryError):
            return []
    fs, inner = filesystem(folder)
    if not fs.isdir(inner):
        return []
    return sorted(entry.rstrip("/").rsplit("/", 1)[-1] for entry in fs.ls(inner, detail=False))


def modified(path: str) -> float:
    """When ``path`` was last written (seconds since the epoch; a link's own time); 0 when unknown."""
    local = local_path(path)
    if local is not None:
        return os.lstat(local).st_mtime
    fs, inner = filesystem(path)
    try:
        return fs.modified(inner).timestamp()
    except (NotImplementedError, AttributeError, KeyError):
        return 0.0


@contextmanager
def open_file(path: str, mode: str = "rb") -> Iterator[Any]:
    """``open(path, mode)`` for a local path or a URL."""
    local = local_path(path)
    if local is not None:
        with open(local, mode) as f:
            yield f
        return
    fs, inner = filesystem(path)
    with fs.open(inner, mode) as f:
        yield f


def is_writable(path: str) -> bool:
    """Whether this process can create files in folder ``path`` (created if missing).

    Local folders: the folder, or the nearest existing folder above it, must be a folder this
    process may write to (``os.access``). URLs cannot be checked without writing to them: they
    count as writable, and a failed save reports the filesystem's own error.
    """
    local = local_path(path)
    if local is None:
        return True
    probe = os.path.abspath(local)
    while not os.path.lexists(probe):
        above = os.path.dirname(probe)
        if above == probe:
            return False
        probe = above
    return os.path.isdir(probe) and os.access(probe, os.W_OK | os.X_OK)


def _replace_local(tmp: str, target: str) -> None:
    os.replace(tmp, target)
    checkpoint_files.fsync_folder(os.path.dirname(os.path.abspath(target)))


def temporary_path(path: str) -> str:
    """The hidden name beside ``path`` (a local path or a URL) that a write uses until it is renamed over ``path``.

    ``.<name>.pid<process id>-<host>-<random>.tmp``, as ``lit_core.checkpoint_files.temporary_path``
    names those of local files: who owns it can be told from the name.
    """
    if protocol(path) is None:
        return checkpoint_files.temporary_path(path)
    head, _, name = path.rstrip("/").rpartition("/")
    return f"{head}/{checkpoint_files.temporary_path(name)}"


_OWNED = re.compile(r"\.pid(\d+)-([A-Za-z0-9]*)-[0-9a-f]{8}\.tmp$")
#: This host as the kernel's temporary names spell it (``lit_core.checkpoint_files.temporary_path``).
_HOST = _OWNED.search(checkpoint_files.temporary_path("probe")).group(2)  # type: ignore[union-attr]
#: A temporary file whose owner cannot be asked (another host, or an older lit's name) counts as
#: abandoned once unmodified this long: a live writer writes (and so touches it) far more often.
STALE_AFTER_S = 3600.0


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


def remove_stale_temporaries(folder: str, extension: str) -> list[str]:
    """Delete the temporary files (``.<name><extension>.*.tmp``) that killed writers left in ``folder``.

    Only those whose writer is gone (``is_stale``): the temporary
    file of another run still writing to this folder is left alone. Returns the names deleted.
    """
    removed = []
    for name in listdir(folder):
        if not (name.startswith(".") and name.endswith(".tmp") and extension in name):
            continue
        path = join(folder, name)
        try:
            written = modified(path)
        except FileNotFoundError:
            continue  # renamed into place meanwhile
        if is_stale(name, written):
            remove(path)
            removed.append(name)
    return removed


def copy(source: str, target: str) -> None:
    """Copy file ``source`` to ``target`` on the same filesystem, renamed into place once written."""
    tmp = temporary_path(target)
    local_source, local_tmp, local_target = local_path(source), local_path(tmp), local_path(target)
    if local_source is not None and local_tmp is not None and local_target is not None:
        try:
            shutil.copyfile(local_source, local_tmp)
            with open(local_tmp, "rb+") as f:
                os.fsync(f.fileno())
            _replace_local(local_tmp, local_target)
        finally:
            if os.path.lexists(local_tmp):
                os.remove(local_tmp)
        return
    fs, inner_source = filesystem(source)
    _, inner_tmp = filesystem(tmp)
    _, inner_target = filesystem(target)
    try:
        fs.copy(inner_source, inner_tmp)
        fs.mv(inner_tmp, inner_target)
    finally:
        if fs.exists(inner_tmp):
            fs.rm(inner_tmp)


def link_or_copy(target: str, link: str) -> bool:
    """Point ``link`` at file ``target``: a relative symbolic link on a local disk, else a copy.

    The link is made under a temporary name and renamed over ``link``, so ``link`` always names
    a checkpoint. Where links cannot be made (some network or Windows filesystems), or on other
    filesystems, the file is copied. Returns whether a link was made.
    """
    local_target, local_link = local_path(target), local_path(link)
    if local_target is not None and local_link is not None:
        tmp = local_path(temporary_path(link))
        assert tmp is not None
        try:
            os.symlink(os.path.relpath(local_target, os.path.dirname(local_link)), tmp)
        except OSError:
            pass  # links not allowed here: copy below
        else:
            try:
                _replace_local(tmp, local_link)
            finally:
                if os.path.lexists(tmp):
                    os.remove(tmp)
            return True
    copy(target, link)
    return False


def save(checkpoint: dict[str, Any], url: str) -> None:
    """Write ``checkpoint`` to URL ``url``: serialized in memory (with lit's checksum), written under a temporary name, moved."""
    buffer = io.BytesIO()
    checkpoint_files.write(checkpoint, buffer, url)
    fs, inner = filesystem(url)
    _, inner_tmp = filesystem(temporary_path(url))
    makedirs(parent(url))
    try:
        with fs.open(inner_tmp, "wb") as f:
            f.write(buffer.getbuffer())
        fs.mv(inner_tmp, inner)
    finally:
        if fs.exists(inner_tmp):
            fs.rm(inner_tmp)


#: The plugin name ``FsspecCheckpointIO.ensure_registered`` registers it under, once per trainer.
FSSPEC_PLUGIN_NAME = "lit_checkpoint.io"


class FsspecCheckpointIO:
    """Saves and loads checkpoints at fsspec URLs (``trainer.save_checkpoint("s3://...")``).

    A hook plugin, not Lightning's ``CheckpointIO`` (that is ``lit_checkpoint.CheckpointIO``,
    which a user subclasses to store checkpoints elsewhere).

    Plain local paths are left to lit-core's default, which writes them atomically (temporary
    file, fsync, rename, fsync of the folder); ``file://`` URLs are turned into local paths and
    handed back to the same hooks. ``ModelCheckpoint.setup`` registers one on the trainer.
    """

    @lit.hookimpl
    def lit_save_checkpoint(self, trainer: lit.Trainer, checkpoint: dict[str, Any], path: str) -> str | None:
        local = local_path(path)
        if local == path:
            return None
        if local is not None:
            return trainer.plugin_manager.hook.lit_save_checkpoint(trainer=trainer, checkpoint=checkpoint, path=local)
        save(checkpoint, path)
        return path

    @lit.hookimpl
    def lit_load_checkpoint(self, trainer: lit.Trainer, path: str, map_location: Any) -> dict[str, Any] | None:
        local = local_path(path)
        if local == path:
            return None
        if local is not None:
            return trainer.plugin_manager.hook.lit_load_checkpoint(trainer=trainer, path=local, map_location=map_location)
        return load_checkpoint(path, map_location)  # the kernel reads URLs through fsspec

    @classmethod
    def ensure_registered(cls, trainer: lit.Trainer) -> None:
        """Register one ``FsspecCheckpointIO`` on ``trainer`` unless one is there already."""
        # Found by the name it is registered under, not by scanning the plugins for the type.
        if not trainer.plugin_manager.has_plugin(FSSPEC_PLUGIN_NAME):
            trainer.plugin_manager.register(cls(), FSSPEC_PLUGIN_NAME)
