"""The contracts between checkpointing and other plugins: ``lit_checkpoint_saved`` /
``lit_checkpoint_removed`` announce files once they are on disk (what loggers upload), and
``lit_checkpoint_io`` names the checkpoint IO in use without scanning the plugin manager."""

from __future__ import annotations

import os
import threading

import pytest

import lit_core as lit
from lit_checkpoint import ModelCheckpoint
from lit_checkpoint.async_save import AsyncCheckpointIO
from lit_checkpoint.checkpoint_io import TorchCheckpointIO, active_checkpoint_io


class Listener:
    """Records the checkpoint events, and whether each announced file was complete on disk then."""

    def __init__(self) -> None:
        self.events: list[tuple] = []
        self.threads: set[str] = set()

    @lit.hookimpl
    def lit_checkpoint_saved(self, trainer, path, kind, score, monitor, is_best, source, settings):
        assert trainer.is_global_zero
        self.threads.add(threading.current_thread().name)
        on_disk = os.path.isfile(path) and os.path.getsize(path) > 0
        self.events.append(("saved", os.path.basename(path), kind, None if score is None else float(score), monitor,
                            is_best, source, settings["save_top_k"], on_disk))

    @lit.hookimpl
    def lit_checkpoint_removed(self, path, source):
        self.events.append(("removed", os.path.basename(path), source, os.path.exists(path)))


def fit(make_trainer, model, checkpoint, listener, **flags):
    make_trainer(callbacks=[checkpoint], plugins=[listener], enable_checkpointing=True, max_epochs=len(model.scores),
                 **flags).fit(model)


@pytest.mark.parametrize("async_save", [False, True])
def test_lit_checkpoint_saved(make_trainer, scripted_model, tmp_root, async_save):
    checkpoint = ModelCheckpoint(dirpath=tmp_root / "ckpt", monitor="val_loss", save_top_k=1, save_last=True,
                                 filename="{epoch}", async_save=async_save)
    listener = Listener()
    fit(make_trainer, scripted_model([3.0, 1.0, 2.0]), checkpoint, listener)
    key = checkpoint.state_key
    saved = [event[1:] for event in listener.events if event[0] == "saved"]
    assert saved == [
        ("epoch=0.ckpt", "top_k", 3.0, "val_loss", True, key, 1, True),
        ("last.ckpt", "last", None, "val_loss", False, key, 1, True),
        ("epoch=1.ckpt", "top_k", 1.0, "val_loss", True, key, 1, True),
        ("last.ckpt", "last", None, "val_loss", False, key, 1, True),
        # epoch 2 (2.0) is not in the top 1: only last.ckpt is written
        ("last.ckpt", "last", None, "val_loss", False, key, 1, True),
    ]
    if async_save:  # announced when the background write finished, from the writer thread
        assert {name.split("_")[0] for name in listener.threads} == {"lit-checkpoint-write"}
    else:
        assert listener.threads == {threading.main_thread().name}


def test_lit_checkpoint_saved_for_a_linked_last_and_on_exception(make_trainer, scripted_model, tmp_root):
    class Failing(scripted_model):
        def training_step(self, batch, batch_idx):
            if self.global_step == 5:  # not a step it saved at: the exception's checkpoint is written
                raise RuntimeError("boom")
            return super().training_step(batch, batch_idx)

    checkpoint = ModelCheckpoint(dirpath=tmp_root / "ckpt", save_last="link", every_n_train_steps=2, save_on_exception=True)
    listener = Listener()
    with pytest.raises(RuntimeError, match="boom"):
        fit(make_trainer, Failing([1.0, 1.0]), checkpoint, listener)
    kinds = [(name, kind, is_best, on_disk) for _, name, kind, _, _, is_best, _, _, on_disk in
             [e for e in listener.events if e[0] == "saved"]]
    assert kinds == [
        ("epoch=0-step=2.ckpt", "top_k", True, True), ("last.ckpt", "last", False, True),  # last: a link, once it exists
        ("epoch=0-step=4.ckpt", "top_k", True, True), ("last.ckpt", "last", False, True),
        ("epoch=1-step=5.ckpt", "exception", False, True), ("last.ckpt", "last", False, True),
    ]
    assert os.path.islink(tmp_root / "ckpt" / "last.ckpt")


def test_lit_checkpoint_removed(make_trainer, scripted_model, tmp_root, files):
    checkpoint = ModelCheckpoint(dirpath=tmp_root / "ckpt", monitor="val_loss", save_top_k=2, filename="{epoch}")
    listener = Listener()
    fit(make_trainer, scripted_model([3.0, 1.0, 2.0, 0.5]), checkpoint, listener)
    key = checkpoint.state_key
    order = [(event[0], event[1]) for event in listener.events]
    assert order == [("saved", "epoch=0.ckpt"), ("saved", "epoch=1.ckpt"), ("saved", "epoch=2.ckpt"),
                     ("removed", "epoch=0.ckpt"), ("saved", "epoch=3.ckpt"), ("removed", "epoch=2.ckpt")]
    removed = [event for event in listener.events if event[0] == "removed"]
    assert all(source == key and not exists for _, _, source, exists in removed), "announced after the deletion"
    announced = {name for kind, name in order if kind == "saved"} - {name for kind, name in order if kind == "removed"}
    assert sorted(announced) == files(tmp_root / "ckpt") == ["epoch=1.ckpt", "epoch=3.ckpt"]


class MemoryIO(TorchCheckpointIO):
    """lit's own writer under another class: a user's ``CheckpointIO`` in ``plugins=[...]``."""


def test_lit_checkpoint_io(make_trainer, boring_model):
    trainer = make_trainer()
    assert trainer.plugin_manager.hook.lit_checkpoint_io(trainer=trainer) is None, "no CheckpointIO: lit's hook chain writes"
    user_io = MemoryIO()
    trainer = make_trainer(plugins=[user_io])
    assert trainer.plugin_manager.hook.lit_checkpoint_io(trainer=trainer) is user_io
    assert active_checkpoint_io(trainer) is user_io
    # ModelCheckpoint(async_save=True) puts an AsyncCheckpointIO in front, writing through the user's IO.
    checkpoint = ModelCheckpoint(async_save=True)
    trainer = make_trainer(plugins=[user_io], callbacks=[checkpoint], enable_checkpointing=True)
    trainer.fit(boring_model())
    writer = trainer.plugin_manager.hook.lit_checkpoint_io(trainer=trainer)
    assert isinstance(writer, AsyncCheckpointIO) and AsyncCheckpointIO.ensure_registered(trainer) is writer
    assert active_checkpoint_io(trainer) is user_io, "the async writer writes through the user's IO"
    assert os.path.isfile(checkpoint.best_model_path)


@pytest.mark.filterwarnings("ignore:Checkpoint directory .* exists and is not empty")
def test_lit_checkpoint_saved_after_a_resume_announces_the_restored_files(make_trainer, scripted_model, tmp_root):
    def run(epochs, **fit_kwargs):
        checkpoint = ModelCheckpoint(dirpath=tmp_root / "ckpt", monitor="val_loss", save_top_k=1, save_last=True, filename="{epoch}")
        listener = Listener()
        make_trainer(callbacks=[checkpoint], plugins=[listener], enable_checkpointing=True,
                     max_epochs=epochs).fit(scripted_model([3.0, 1.0, 2.0]), **fit_kwargs)
        return [(event[1], event[2], event[3], event[5]) if event[0] == "saved" else event[:2] for event in listener.events]

    run(2)
    # The resumed process announces the best file and last.ckpt of the earlier one (loggers upload
    # them, as Lightning's read them off the callback), then what it saves itself.
    assert run(3, ckpt_path=str(tmp_root / "ckpt" / "last.ckpt")) == [
        ("epoch=1.ckpt", "top_k", 1.0, True), ("last.ckpt", "last", None, False),
        ("last.ckpt", "last", None, False),  # epoch 2 (2.0) is not in the top 1
    ]
