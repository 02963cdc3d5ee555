"""Bad input gets an error that says what is wrong and how to fix it."""

from __future__ import annotations

import os
import stat
from datetime import timedelta

import pytest

from lit_checkpoint import ModelCheckpoint
from lit_core.exceptions import MisconfigurationException

FAST = {"limit_train_batches": 1, "limit_val_batches": 1, "num_sanity_val_steps": 0}


def test_a_monitor_that_is_never_logged(make_trainer, boring_model, tmp_root):
    checkpoint = ModelCheckpoint(dirpath=tmp_root, monitor="val_los")
    with pytest.raises(MisconfigurationException, match=(
        r"ModelCheckpoint\(monitor='val_los'\) could not find 'val_los' in the logged metrics \(trainer.callback_metrics\): "
        r"\['val_loss'\]\. Did you mean 'val_loss'\? Log it with self.log\('val_los', value\) in your LightningModule, "
        r"or fix the monitor name\.")):
        make_trainer(max_epochs=1, callbacks=[checkpoint], **FAST).fit(boring_model())
    assert os.listdir(tmp_root) == []


def test_a_monitor_that_is_never_logged_without_validation(make_trainer, boring_model, tmp_root):
    checkpoint = ModelCheckpoint(dirpath=tmp_root, monitor="train_acc")
    with pytest.raises(MisconfigurationException, match=r"could not find 'train_acc' in the logged metrics .*: \[\]"):
        make_trainer(max_epochs=1, limit_val_batches=0, callbacks=[checkpoint]).fit(boring_model())


def test_a_monitor_not_logged_yet_is_waited_for(make_trainer, boring_model, tmp_root):
    # Saving every 2 steps, val_loss exists only after the first validation (end of epoch 0).
    checkpoint = ModelCheckpoint(dirpath=tmp_root, monitor="val_loss", filename="{step}", every_n_train_steps=2, save_top_k=-1)
    with pytest.warns(UserWarning, match="could not find 'val_loss'.*No top-k checkpoint is saved until it is logged"):
        make_trainer(max_epochs=2, limit_val_batches=1, num_sanity_val_steps=0, callbacks=[checkpoint]).fit(boring_model())
    assert sorted(os.listdir(tmp_root)) == ["step=6.ckpt", "step=8.ckpt"]


def test_save_top_k_above_one_needs_a_monitor():
    with pytest.raises(MisconfigurationException, match=(
        r"ModelCheckpoint\(save_top_k=3\) needs a monitor to rank checkpoints by\. Without one, save_top_k=1 keeps the "
        r"latest checkpoint, -1 keeps every one and 0 none\. Pass monitor=.*or use save_top_k=-1")):
        ModelCheckpoint(save_top_k=3)


def test_an_unknown_mode():
    with pytest.raises(MisconfigurationException, match=r"ModelCheckpoint\(mode='maximum'\): mode must be 'min' .* or 'max'"):
        ModelCheckpoint(monitor="acc", mode="maximum")


@pytest.mark.parametrize(("flags", "message"), [
    ({"save_top_k": -2}, r"save_top_k=-2\): use k >= 1 to keep the k best, -1 to keep all, 0 for none"),
    ({"save_last": "symlink"}, r"save_last='symlink'\): use True, False or 'link'"),
    ({"every_n_epochs": -1}, r"every_n_epochs=-1\) must be an int >= 0"),
    ({"train_time_interval": 60}, r"train_time_interval=60\) takes a datetime.timedelta"),
    ({"every_n_epochs": 2, "every_n_train_steps": 10}, r"every_n_train_steps=10, every_n_epochs=2 and train_time_interval=None are exclusive"),
    ({"every_n_train_steps": 10, "train_time_interval": timedelta(minutes=1)}, r"are exclusive: give one"),
])
def test_bad_flags(flags, message):
    with pytest.raises(MisconfigurationException, match=message):
        ModelCheckpoint(**flags)


def test_a_read_only_dirpath_fails_before_training(make_trainer, boring_model, tmp_root):
    locked = tmp_root / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)  # 0o500
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("this process may write to a 0o500 folder (running as root)")
        dirpath = locked / "ckpts"
        with pytest.raises(MisconfigurationException, match=(
            rf"ModelCheckpoint cannot write checkpoints to '{dirpath}': .*not a folder this process may write to\. "
            r"Pass ModelCheckpoint\(dirpath=...\) a writable folder, fix its permissions")):
            make_trainer(max_epochs=1, callbacks=[ModelCheckpoint(dirpath=dirpath)]).fit(boring_model())
    finally:
        locked.chmod(stat.S_IRWXU)


def test_a_file_in_the_way_of_dirpath_fails_before_training(make_trainer, boring_model, tmp_root):
    (tmp_root / "notes.txt").write_text("not a folder")
    dirpath = tmp_root / "notes.txt" / "ckpts"
    model = boring_model()
    with pytest.raises(MisconfigurationException, match=rf"cannot write checkpoints to '{dirpath}'"):
        make_trainer(max_epochs=1, callbacks=[ModelCheckpoint(dirpath=dirpath)]).fit(model)
    assert model.global_step == 0
