"""Where checkpoints go: fsspec URLs (``memory://``, ``file://``), atomic writes, and the order of
writes and deletions.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator

import fsspec
import pytest
import torch

import lit_core as lit
from lit_checkpoint import FsspecCheckpointIO, ModelCheckpoint, io
from lit_checkpoint.async_save import AsyncCheckpointIO

FAST = {"limit_train_batches": 1, "limit_val_batches": 1, "num_sanity_val_steps": 0}


@pytest.fixture
def memory_url() -> Iterator[str]:
    """A fresh folder on fsspec's in-memory filesystem, removed afterwards."""
    url = f"memory://lit-checkpoint-tests/{uuid.uuid4().hex}"
    yield url
    fs = fsspec.filesystem("memory")
    if fs.exists(url):
        fs.rm(url, recursive=True)


def memory_names(url: str) -> list[str]:
    return sorted(path.rsplit("/", 1)[-1] for path in fsspec.filesystem("memory").ls(url, detail=False))


def read(url: str) -> dict:
    with fsspec.open(url, "rb") as f:
        return torch.load(f, weights_only=True)


def test_memory_filesystem(make_trainer, scripted_model, memory_url, tmp_root):
    checkpoint = ModelCheckpoint(dirpath=memory_url, filename="{epoch}", monitor="val_loss", save_top_k=2, save_last=True)
    trainer = make_trainer(max_epochs=3, callbacks=[checkpoint], **FAST)
    model = scripted_model([3.0, 1.0, 2.0, 0.5])
    trainer.fit(model)
    assert memory_names(memory_url) == ["epoch=1.ckpt", "epoch=2.ckpt", "last.ckpt"]
    assert checkpoint.best_model_path == f"{memory_url}/epoch=1.ckpt"
    assert read(checkpoint.best_model_path)["global_step"] == 2
    assert read(checkpoint.last_model_path)["global_step"] == 3
    assert list(tmp_root.iterdir()) == []  # nothing landed on the local disk

    # trainer.save_checkpoint takes URLs once the callback has registered FsspecCheckpointIO.
    trainer.save_checkpoint(f"{memory_url}/manual/by-hand.ckpt")
    assert read(f"{memory_url}/manual/by-hand.ckpt")["global_step"] == 3

    resumed = ModelCheckpoint(dirpath=memory_url, filename="{epoch}", monitor="val_loss", save_top_k=2, save_last=True)
    again = make_trainer(max_epochs=4, callbacks=[resumed], **FAST)
    with pytest.warns(UserWarning, match="not empty"):
        again.fit(scripted_model([3.0, 1.0, 2.0, 0.5]), ckpt_path="last")
    assert again.global_step == 4
    assert memory_names(memory_url) == ["epoch=1.ckpt", "epoch=3.ckpt", "last.ckpt", "manual"]


def test_save_last_link_is_a_copy_on_other_filesystems(make_trainer, boring_model, memory_url):
    checkpoint = ModelCheckpoint(dirpath=memory_url, save_last="link")
    make_trainer(max_epochs=1, callbacks=[checkpoint], **FAST).fit(boring_model())
    fs = fsspec.filesystem("memory")
    assert memory_names(memory_url) == ["epoch=0-step=1.ckpt", "last.ckpt"]
    assert fs.cat(checkpoint.last_model_path) == fs.cat(checkpoint.best_model_path)


def test_file_urls_are_local_paths(make_trainer, boring_model, tmp_root, files):
    url = f"file://{tmp_root}/ckpts"
    checkpoint = ModelCheckpoint(dirpath=url, save_last="link")
    make_trainer(max_epochs=1, callbacks=[checkpoint], **FAST).fit(boring_model())
    assert checkpoint.best_model_path == f"{url}/epoch=0-step=1.ckpt"
    assert files(tmp_root / "ckpts") == ["epoch=0-step=1.ckpt", "last.ckpt"]
    assert os.readlink(tmp_root / "ckpts" / "last.ckpt") == "epoch=0-step=1.ckpt"  # local disk: a link
    assert torch.load(tmp_root / "ckpts" / "last.ckpt", weights_only=True)["global_step"] == 1

    again = make_trainer(max_epochs=2, callbacks=[ModelCheckpoint(dirpath=url)], **FAST)
    with pytest.warns(UserWarning, match="not empty"):
        again.fit(boring_model(), ckpt_path=f"{url}/last.ckpt")  # read through FsspecCheckpointIO, as a local path
    assert again.global_step == 2


def test_no_temporary_files_are_left(make_trainer, scripted_model, tmp_root, memory_url):
    for folder in (str(tmp_root / "local"), memory_url):
        checkpoint = ModelCheckpoint(dirpath=folder, monitor="val_loss", save_top_k=1, save_last="link")
        make_trainer(max_epochs=3, callbacks=[checkpoint], **FAST).fit(scripted_model([3.0, 2.0, 1.0]))
        assert io.listdir(folder) == ["epoch=2-step=3.ckpt", "last.ckpt"], folder


class Journal:
    """Records checkpoint writes (after they complete) and deletions, with what existed at each deletion."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.events: list[tuple[str, str]] = []
        #: At each deletion: the files in the folder, and where last.ckpt pointed (None: not a link).
        self.existing_at_removal: list[set[str]] = []
        self.last_link_at_removal: list[str | None] = []
        remove = io.remove

        def recording_remove(path: str) -> None:
            folder = os.path.dirname(path)
            last = os.path.join(folder, "last.ckpt")
            self.existing_at_removal.append(set(os.listdir(folder)))
            self.last_link_at_removal.append(os.readlink(last) if os.path.islink(last) else None)
            self.events.append(("remove", path))
            remove(path)

        monkeypatch.setattr(io, "remove", recording_remove)

    @lit.hookimpl(wrapper=True)
    def lit_save_checkpoint(self, path: str):
        result = yield
        self.events.append(("saved", path))
        return result


def test_a_displaced_checkpoint_is_deleted_only_after_its_replacement_exists(make_trainer, scripted_model, tmp_root, monkeypatch):
    journal = Journal(monkeypatch)
    checkpoint = ModelCheckpoint(dirpath=tmp_root, filename="{epoch}", monitor="val_loss", save_top_k=1, save_last="link")
    make_trainer(max_epochs=3, callbacks=[checkpoint], plugins=[journal], **FAST).fit(scripted_model([3.0, 2.0, 1.0]))
    path = lambda name: str(tmp_root / name)  # noqa: E731
    # last.ckpt is a link made after each save; the displaced file goes once the link points at its successor.
    assert journal.events == [
        ("saved", path("epoch=0.ckpt")),
        ("saved", path("epoch=1.ckpt")), ("remove", path("epoch=0.ckpt")),
        ("saved", path("epoch=2.ckpt")), ("remove", path("epoch=1.ckpt")),
    ]
    assert journal.existing_at_removal == [{"epoch=0.ckpt", "epoch=1.ckpt", "last.ckpt"},
                                           {"epoch=1.ckpt", "epoch=2.ckpt", "last.ckpt"}]
    assert journal.last_link_at_removal == ["epoch=1.ckpt", "epoch=2.ckpt"]
    assert os.readlink(tmp_root / "last.ckpt") == "epoch=2.ckpt"


class SlowBackgroundWrites:
    """Writes off the main thread take 0.2 s: still going when the save point wants to delete."""

    @lit.hookimpl(wrapper=True)
    def lit_save_checkpoint(self):
        if threading.current_thread() is not threading.main_thread():
            time.sleep(0.2)
        return (yield)


def test_with_background_writes_deletion_waits_for_the_new_file(make_trainer, scripted_model, tmp_root, monkeypatch):
    journal = Journal(monkeypatch)
    checkpoint = ModelCheckpoint(dirpath=tmp_root, filename="{epoch}", monitor="val_loss", save_top_k=1)
    writer = AsyncCheckpointIO()
    try:
        make_trainer(max_epochs=3, callbacks=[checkpoint], plugins=[SlowBackgroundWrites(), writer], **FAST).fit(
            scripted_model([3.0, 2.0, 1.0]))
    finally:
        writer.close()
    assert [event for event, _ in journal.events].count("remove") == 2
    assert journal.existing_at_removal == [{"epoch=0.ckpt", "epoch=1.ckpt"}, {"epoch=1.ckpt", "epoch=2.ckpt"}]
    assert sorted(os.listdir(tmp_root)) == ["epoch=2.ckpt"]


def test_one_checkpoint_io_per_trainer(make_trainer, boring_model, tmp_root):
    trainer = make_trainer(max_epochs=1, callbacks=[ModelCheckpoint(dirpath=tmp_root / "a"), ModelCheckpoint(
        dirpath=tmp_root / "b", every_n_train_steps=1)], **FAST)
    trainer.fit(boring_model())
    with pytest.warns(UserWarning, match="not empty"):
        trainer.fit(boring_model())  # setup runs again
    assert sum(isinstance(p, FsspecCheckpointIO) for _, p in trainer.plugin_manager.list_name_plugin()) == 1


# ------------------------------------------------------------------------------------------
# io helpers
# ------------------------------------------------------------------------------------------


def test_paths_and_urls():
    assert io.local_path("/a/b") == "/a/b" and io.local_path("file:///a/b") == "/a/b" and io.local_path("s3://x/y") is None
    assert io.join("memory://x/", "y.ckpt") == "memory://x/y.ckpt" and io.join("/x", "y.ckpt") == "/x/y.ckpt"
    assert io.parent("s3://bucket/run/a.ckpt") == "s3://bucket/run" and io.parent("/run/a.ckpt") == "/run"
    assert io.normalize_dir("memory://x") == "memory://x"
    assert io.normalize_dir("~/x") == os.path.realpath(os.path.expanduser("~/x"))


def test_link_falls_back_to_a_copy_where_links_are_refused(tmp_path, monkeypatch):
    target = tmp_path / "a.ckpt"
    target.write_bytes(b"checkpoint")

    def refuse(*args, **kwargs):
        raise OSError("links are not allowed here")

    monkeypatch.setattr(os, "symlink", refuse)
    assert io.link_or_copy(str(target), str(tmp_path / "last.ckpt")) is False
    assert not os.path.islink(tmp_path / "last.ckpt") and (tmp_path / "last.ckpt").read_bytes() == b"checkpoint"
    assert sorted(os.listdir(tmp_path)) == ["a.ckpt", "last.ckpt"]


def test_is_writable(tmp_path):
    assert io.is_writable(str(tmp_path / "new" / "deeper"))
    (tmp_path / "file").write_text("")
    assert not io.is_writable(str(tmp_path / "file" / "ckpts"))
    assert io.is_writable("memory://anything")
