"""Lightning's checkpoint IO plugins: a user's ``CheckpointIO`` in ``plugins=[...]`` writes, reads and
removes every checkpoint; ``TorchCheckpointIO`` and ``AsyncCheckpointIO(checkpoint_io)``."""

from __future__ import annotations

import io
import os

import pytest
import torch

import lit_core as lit
from lit_core.callbacks import ModelCheckpoint
from lit_core.exceptions import UnsafeCheckpointError
from lit_core.plugins import AsyncCheckpointIO, CheckpointIO, TorchCheckpointIO


class DictCheckpointIO(CheckpointIO):
    """Checkpoints kept in memory, serialized, by path: a stand-in for an object store."""

    def __init__(self) -> None:
        self.store: dict[str, bytes] = {}
        self.calls: list[tuple[str, str]] = []
        self.torn_down = 0

    def save_checkpoint(self, checkpoint, path, storage_options=None):
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        self.store[str(path)] = buffer.getvalue()
        self.calls.append(("save", os.path.basename(path)))

    def load_checkpoint(self, path, map_location=None):
        self.calls.append(("load", os.path.basename(path)))
        return torch.load(io.BytesIO(self.store[str(path)]), map_location=map_location, weights_only=True)

    def remove_checkpoint(self, path):
        self.calls.append(("remove", os.path.basename(path)))
        del self.store[str(path)]

    def teardown(self):
        self.torn_down += 1


class ShardedFolderIO(TorchCheckpointIO):
    """A different folder layout: ``<dir>/epoch=0-step=4.ckpt`` is stored as ``<dir>/epoch=0-step=4/model.pt``."""

    @staticmethod
    def real(path):
        return os.path.join(os.path.splitext(str(path))[0], "model.pt")

    def save_checkpoint(self, checkpoint, path, storage_options=None):
        super().save_checkpoint(checkpoint, self.real(path))

    def load_checkpoint(self, path, map_location=None):
        return super().load_checkpoint(self.real(path), map_location)

    def remove_checkpoint(self, path):
        super().remove_checkpoint(self.real(path))
        os.rmdir(os.path.dirname(self.real(path)))


def trainer_for(root, plugin, epochs, **flags):
    return lit.Trainer(default_root_dir=root, plugins=[plugin], max_epochs=epochs, logger=False, enable_progress_bar=False,
                       enable_model_summary=False, callbacks=[ModelCheckpoint(dirpath=root / "ckpt", save_top_k=1, **flags)])


def test_user_checkpoint_io_saves_removes_and_resumes(tmp_root, boring_model):
    plugin = DictCheckpointIO()
    trainer = trainer_for(tmp_root, plugin, epochs=3)
    trainer.fit(boring_model())
    best = trainer.checkpoint_callback.best_model_path
    assert list(plugin.store) == [best]
    assert not list((tmp_root / "ckpt").glob("*.ckpt")), "nothing written to the folder by anyone else"
    assert [c for c in plugin.calls if c[0] == "save"] == [("save", f"epoch={e}-step={4 * (e + 1)}.ckpt") for e in range(3)]
    assert [c for c in plugin.calls if c[0] == "remove"] == [("remove", "epoch=0-step=4.ckpt"), ("remove", "epoch=1-step=8.ckpt")]
    assert plugin.torn_down == 1

    resumed = trainer_for(tmp_root, plugin, epochs=4)
    model = boring_model()
    resumed.fit(model, ckpt_path=best)
    assert plugin.calls[-3:] == [("load", "epoch=2-step=12.ckpt"), ("save", "epoch=3-step=16.ckpt"),
                                 ("remove", "epoch=2-step=12.ckpt")]
    assert resumed.global_step == 16 and resumed.current_epoch == 4
    saved = plugin.load_checkpoint(resumed.checkpoint_callback.best_model_path)
    assert torch.equal(saved["state_dict"]["layer.weight"], model.layer.weight)


def test_user_checkpoint_io_with_save_last_writes_last_itself(tmp_root, boring_model):
    plugin = DictCheckpointIO()
    trainer = trainer_for(tmp_root, plugin, epochs=2, save_last=True)
    trainer.fit(boring_model())
    assert sorted(os.path.basename(p) for p in plugin.store) == ["epoch=1-step=8.ckpt", "last.ckpt"]
    assert plugin.load_checkpoint(trainer.checkpoint_callback.last_model_path)["global_step"] == 8


def test_a_different_folder_layout_is_used_for_every_file(tmp_root, boring_model, files):
    trainer = trainer_for(tmp_root, ShardedFolderIO(), epochs=2)
    trainer.fit(boring_model())
    assert files(tmp_root / "ckpt") == ["epoch=1-step=8/model.pt"]
    resumed = trainer_for(tmp_root, ShardedFolderIO(), epochs=3)
    with pytest.warns(UserWarning, match="exists and is not empty"):
        resumed.fit(boring_model(), ckpt_path=trainer.checkpoint_callback.best_model_path)
    assert resumed.global_step == 12 and files(tmp_root / "ckpt") == ["epoch=2-step=12/model.pt"]


def test_torch_checkpoint_io_is_atomic_and_weights_only(tmp_root):
    plugin = TorchCheckpointIO()
    plugin.save_checkpoint({"state_dict": {"w": torch.ones(2)}}, tmp_root / "a" / "x.ckpt")
    assert os.listdir(tmp_root / "a") == ["x.ckpt"], "no temporary file left"
    assert torch.equal(plugin.load_checkpoint(tmp_root / "a" / "x.ckpt")["state_dict"]["w"], torch.ones(2))
    torch.save({"state_dict": {}, "f": os.getcwd}, tmp_root / "code.ckpt")  # a pickled function: not loadable with weights_only
    with pytest.raises(UnsafeCheckpointError, match="would run code"):
        plugin.load_checkpoint(tmp_root / "code.ckpt")
    with pytest.raises(TypeError, match="storage options"):
        plugin.save_checkpoint({}, tmp_root / "y.ckpt", storage_options={"acl": "private"})
    plugin.remove_checkpoint(tmp_root / "a" / "x.ckpt")
    assert os.listdir(tmp_root / "a") == []


def test_async_checkpoint_io_wraps_the_users_io(tmp_root, boring_model):
    inner = DictCheckpointIO()
    trainer = trainer_for(tmp_root, AsyncCheckpointIO(inner), epochs=3)
    trainer.fit(boring_model())
    assert list(inner.store) == [trainer.checkpoint_callback.best_model_path], "removed after the writes, by the inner IO"
    assert inner.torn_down == 1
    resumed = trainer_for(tmp_root, AsyncCheckpointIO(inner), epochs=4)
    resumed.fit(boring_model(), ckpt_path=trainer.checkpoint_callback.best_model_path)
    assert resumed.global_step == 16 and ("load", "epoch=2-step=12.ckpt") in inner.calls
    with pytest.raises(TypeError, match="give a CheckpointIO"):
        AsyncCheckpointIO(object())


def test_async_checkpoint_io_outside_a_trainer(tmp_root):
    plugin = AsyncCheckpointIO()
    weights = torch.zeros(3)
    plugin.save_checkpoint({"state_dict": {"w": weights}}, tmp_root / "x.ckpt")
    weights += 1  # after save_checkpoint returned: the saved copy is unchanged
    assert torch.equal(plugin.load_checkpoint(tmp_root / "x.ckpt")["state_dict"]["w"], torch.zeros(3))
    plugin.remove_checkpoint(tmp_root / "x.ckpt")
    plugin.teardown()
    assert not (tmp_root / "x.ckpt").exists()
    plugin.close()
