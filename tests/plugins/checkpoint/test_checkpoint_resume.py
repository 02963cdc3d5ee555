"""The callback's state across a resume, ``ckpt_path="last"`` / ``"best"``, its default folder and
how the Trainer finds it (entry point, default callback).
"""

from __future__ import annotations

import os

import pytest
import torch

import lit_core as lit
from lit_checkpoint import ModelCheckpoint
from lit_core import registry

FAST = {"limit_train_batches": 1, "limit_val_batches": 1, "num_sanity_val_steps": 0}


def top2(folder) -> ModelCheckpoint:
    return ModelCheckpoint(dirpath=folder, filename="{epoch}", monitor="val_loss", save_top_k=2, save_last=True)


# ------------------------------------------------------------------------------------------
# State
# ------------------------------------------------------------------------------------------


def test_resumed_run_keeps_ranking_like_an_uninterrupted_one(make_trainer, scripted_model, tmp_root, files):
    scores = [4.0, 2.0, 3.0, 1.0]
    whole = top2(tmp_root / "whole")
    make_trainer(max_epochs=4, callbacks=[whole], **FAST).fit(scripted_model(scores))

    first = top2(tmp_root / "resumed")
    make_trainer(max_epochs=2, callbacks=[first], **FAST).fit(scripted_model(scores))
    second = top2(tmp_root / "resumed")
    with pytest.warns(UserWarning, match="not empty"):
        make_trainer(max_epochs=4, callbacks=[second], **FAST).fit(scripted_model(scores), ckpt_path=first.last_model_path)

    # epoch=0.ckpt, written by the first run, was displaced and deleted by the second: the ranking was restored.
    assert files(tmp_root / "resumed") == files(tmp_root / "whole") == ["epoch=1.ckpt", "epoch=3.ckpt", "last.ckpt"]
    for attribute in ("best_model_path", "kth_best_model_path", "last_model_path"):
        assert os.path.basename(getattr(second, attribute)) == os.path.basename(getattr(whole, attribute))
    assert {os.path.basename(p): s.item() for p, s in second.best_k_models.items()} == {"epoch=1.ckpt": 2.0, "epoch=3.ckpt": 1.0}
    assert second.best_model_score.item() == whole.best_model_score.item() == 1.0


def test_state_dict_round_trip_through_a_checkpoint(make_trainer, scripted_model, tmp_root):
    checkpoint = top2(tmp_root)
    make_trainer(max_epochs=2, callbacks=[checkpoint], **FAST).fit(scripted_model([2.0, 1.0]))
    saved = torch.load(checkpoint.last_model_path, weights_only=True)["callbacks"][checkpoint.state_key]
    assert saved == {**checkpoint.state_dict(), "best_k_models": saved["best_k_models"]}
    assert saved["best_k_models"] == checkpoint.best_k_models

    fresh = top2(tmp_root)
    fresh.dirpath = checkpoint.dirpath  # as setup() resolves it
    fresh.load_state_dict(saved)
    for key in ("best_model_path", "best_model_score", "best_k_models", "kth_best_model_path", "kth_value",
                "last_model_path", "current_score"):
        assert getattr(fresh, key) == getattr(checkpoint, key), key


def test_state_from_another_folder_restores_only_best_model_path(make_trainer, scripted_model, tmp_root):
    checkpoint = top2(tmp_root / "a")
    make_trainer(max_epochs=2, callbacks=[checkpoint], **FAST).fit(scripted_model([2.0, 1.0]))
    elsewhere = top2(tmp_root / "b")
    with pytest.warns(UserWarning, match=r"dirpath=.*only best_model_path is restored"):
        elsewhere.load_state_dict(checkpoint.state_dict())
    assert elsewhere.best_model_path == checkpoint.best_model_path
    assert elsewhere.best_k_models == {} and elsewhere.last_model_path == "" and elsewhere.best_model_score is None


# ------------------------------------------------------------------------------------------
# ckpt_path="last" / "best"
# ------------------------------------------------------------------------------------------


def test_lit_resolve_checkpoint_path(make_trainer, scripted_model, tmp_root):
    checkpoint = top2(tmp_root)
    trainer = make_trainer(max_epochs=2, callbacks=[checkpoint], **FAST)
    trainer.fit(scripted_model([2.0, 1.0]))
    resolve = trainer.plugin_manager.hook.lit_resolve_checkpoint_path
    assert resolve(trainer=trainer, name="best") == checkpoint.best_model_path == str(tmp_root / "epoch=1.ckpt")
    assert resolve(trainer=trainer, name="last") == checkpoint.last_model_path == str(tmp_root / "last.ckpt")
    assert resolve(trainer=trainer, name="epoch=1.ckpt") is None  # only the two names
    os.remove(checkpoint.best_model_path)
    assert resolve(trainer=trainer, name="best") is None


def test_a_new_process_finds_the_last_checkpoint_of_a_killed_run(make_trainer, boring_model, tmp_root):
    class Killed(Exception):
        pass

    class KillAtStep6(lit.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if trainer.global_step == 6:
                raise Killed

    run = {"max_epochs": 3, "limit_val_batches": 0}
    with pytest.raises(Killed):
        make_trainer(callbacks=[ModelCheckpoint(save_last=True), KillAtStep6()], **run).fit(boring_model())
    assert sorted(os.listdir(tmp_root / "checkpoints")) == ["epoch=0-step=4.ckpt", "last.ckpt"]

    # A fresh callback, before fit: its default folder is resolved the same way and searched.
    fresh = ModelCheckpoint(save_last=True)
    trainer = make_trainer(callbacks=[fresh], **run)
    last = str(tmp_root / "checkpoints" / "last.ckpt")
    assert trainer.plugin_manager.hook.lit_resolve_checkpoint_path(trainer=trainer, name="last") == last
    with pytest.warns(UserWarning, match="not empty"):
        trainer.fit(boring_model(), ckpt_path="last")
    assert trainer.global_step == 12 and torch.load(last, weights_only=True)["global_step"] == 12


def test_last_is_found_in_an_earlier_logger_version(tmp_root, boring_model):
    flags = {"max_epochs": 1, "limit_val_batches": 0, "enable_progress_bar": False, "enable_model_summary": False,
             "default_root_dir": tmp_root, "logger": "csv"}
    lit.Trainer(callbacks=[ModelCheckpoint(save_last=True)], **flags).fit(boring_model())
    written = tmp_root / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt"
    assert written.is_file()

    # The new process logs to version_1; the run it resumes wrote to version_0.
    trainer = lit.Trainer(callbacks=[ModelCheckpoint(save_last=True)], **{**flags, "max_epochs": 2})
    assert trainer.plugin_manager.hook.lit_resolve_checkpoint_path(trainer=trainer, name="last") == str(written)
    with pytest.warns(UserWarning, match="only best_model_path is restored"):
        trainer.fit(boring_model(), ckpt_path="last")
    assert trainer.global_step == 8
    assert (tmp_root / "lightning_logs" / "version_1" / "checkpoints" / "last.ckpt").is_file()


def test_last_is_the_newest_of_every_callback(make_trainer, boring_model, tmp_root):
    epochs = ModelCheckpoint(dirpath=tmp_root / "epochs", save_last=True)
    steps = ModelCheckpoint(dirpath=tmp_root / "steps", every_n_train_steps=3, save_last=True)
    trainer = make_trainer(max_epochs=2, limit_val_batches=0, callbacks=[steps, epochs])
    trainer.fit(boring_model())
    # steps saved last at step 6, epochs at step 8: the latter is newer, though its callback comes second.
    os.utime(steps.last_model_path, (1, 1))
    assert trainer.plugin_manager.hook.lit_resolve_checkpoint_path(trainer=trainer, name="last") == epochs.last_model_path


def test_last_prefers_the_higher_version_written_in_the_same_instant(make_trainer, boring_model, tmp_root):
    def run() -> None:
        make_trainer(max_epochs=1, callbacks=[ModelCheckpoint(dirpath=tmp_root / "c", save_last=True)], **FAST).fit(boring_model())

    run()
    with pytest.warns(UserWarning, match="not empty"):
        run()  # a second run in the folder, not resuming: it writes last-v1.ckpt
    for name in ("last.ckpt", "last-v1.ckpt"):
        os.utime(tmp_root / "c" / name, (5, 5))
    trainer = make_trainer(callbacks=[ModelCheckpoint(dirpath=tmp_root / "c")])
    assert trainer.plugin_manager.hook.lit_resolve_checkpoint_path(trainer=trainer, name="last") == str(tmp_root / "c" / "last-v1.ckpt")


def test_ckpt_path_best_loads_the_best_checkpoint(make_trainer, scripted_model, tmp_root):
    checkpoint = top2(tmp_root)
    trainer = make_trainer(max_epochs=2, callbacks=[checkpoint], **FAST)
    model = scripted_model([1.0, 2.0, 3.0])  # validate() after fit runs at epoch 2
    trainer.fit(model)
    best = torch.load(checkpoint.best_model_path, weights_only=True)
    assert best["global_step"] == 1
    for run in (lambda: trainer.validate(model, ckpt_path="best", verbose=False),
                lambda: trainer.test(verbose=False)):  # no model, no ckpt_path: the kernel asks for "best"
        with torch.no_grad():
            model.layer.weight.zero_()
        run()
        torch.testing.assert_close(model.state_dict(), best["state_dict"])


# ------------------------------------------------------------------------------------------
# Default folder, entry point, default callback
# ------------------------------------------------------------------------------------------


def test_default_dirpath_without_a_logger(make_trainer, boring_model, tmp_root):
    checkpoint = ModelCheckpoint()
    make_trainer(max_epochs=1, callbacks=[checkpoint], **FAST).fit(boring_model())
    assert checkpoint.dirpath == str(tmp_root / "checkpoints")
    assert os.listdir(checkpoint.dirpath) == ["epoch=0-step=1.ckpt"]


def test_default_dirpath_with_a_logger(make_trainer, boring_model, tmp_root):
    checkpoint = ModelCheckpoint()
    trainer = make_trainer(max_epochs=1, callbacks=[checkpoint], logger="csv", **FAST)
    trainer.fit(boring_model())
    assert checkpoint.dirpath == os.path.join(trainer.log_dir, "checkpoints") == str(
        tmp_root / "lightning_logs" / "version_0" / "checkpoints")
    assert os.listdir(checkpoint.dirpath) == ["epoch=0-step=1.ckpt"]


def test_entry_point_and_default_callback(tmp_root, boring_model):
    entry = registry.installed("callback")["checkpoint"]
    assert entry.distribution == "lit-checkpoint" and entry.load() is ModelCheckpoint

    quiet = {"enable_progress_bar": False, "enable_model_summary": False, "logger": False, "default_root_dir": tmp_root}
    trainer = lit.Trainer(max_epochs=1, **quiet)
    defaults = [cb for cb in trainer.callbacks if isinstance(cb, ModelCheckpoint)]
    assert len(defaults) == 1
    trainer.fit(boring_model())
    assert os.listdir(tmp_root / "checkpoints") == ["epoch=0-step=4.ckpt"]

    assert not any(isinstance(cb, ModelCheckpoint) for cb in lit.Trainer(enable_checkpointing=False, **quiet).callbacks)
    mine = ModelCheckpoint(monitor="val_loss")
    assert [cb for cb in lit.Trainer(callbacks=[mine], **quiet).callbacks if isinstance(cb, ModelCheckpoint)] == [mine]
    assert isinstance(lit.Trainer(callbacks=["checkpoint"], enable_checkpointing=False, **quiet).callbacks[0], ModelCheckpoint)
