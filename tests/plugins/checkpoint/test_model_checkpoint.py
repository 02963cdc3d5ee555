"""ModelCheckpoint's options, checked on the files real training runs leave behind."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
import torch

import lit_core as lit
from lit_checkpoint import ModelCheckpoint

FAST = {"limit_train_batches": 1, "limit_val_batches": 1, "num_sanity_val_steps": 0}


def load(path) -> dict:
    return torch.load(path, weights_only=True)


# ------------------------------------------------------------------------------------------
# What is kept
# ------------------------------------------------------------------------------------------


def test_without_monitor_keeps_only_the_latest(make_trainer, boring_model, tmp_root, files):
    checkpoint = ModelCheckpoint(dirpath=tmp_root / "ckpts")
    make_trainer(max_epochs=3, callbacks=[checkpoint]).fit(boring_model())
    assert files(tmp_root / "ckpts") == ["epoch=2-step=12.ckpt"]
    assert checkpoint.best_model_path == str(tmp_root / "ckpts" / "epoch=2-step=12.ckpt")
    assert checkpoint.best_model_score is None
    assert load(checkpoint.best_model_path)["global_step"] == 12


def test_save_top_k_minus_one_keeps_every_checkpoint(make_trainer, boring_model, tmp_root, files):
    checkpoint = ModelCheckpoint(dirpath=tmp_root, save_top_k=-1)
    make_trainer(max_epochs=3, callbacks=[checkpoint], **FAST).fit(boring_model())
    assert files(tmp_root) == ["epoch=0-step=1.ckpt", "epoch=1-step=2.ckpt", "epoch=2-step=3.ckpt"]


def test_save_top_k_zero_saves_only_last(make_trainer, boring_model, tmp_root, files):
    checkpoint = ModelCheckpoint(dirpath=tmp_root, save_top_k=0, save_last=True)
    make_trainer(max_epochs=2, callbacks=[checkpoint], **FAST).fit(boring_model())
    assert files(tmp_root) == ["last.ckpt"]
    assert checkpoint.best_model_path == ""


@pytest.mark.parametrize(
    ("mode", "kept", "best", "kth"),
    [
        ("min", ["epoch=3.ckpt", "epoch=4.ckpt"], ("epoch=3.ckpt", 1.0), ("epoch=4.ckpt", 2.0)),
        ("max", ["epoch=0.ckpt", "epoch=2.ckpt"], ("epoch=0.ckpt", 5.0), ("epoch=2.ckpt", 4.0)),
    ],
)
def test_top_k_keeps_the_k_best(make_trainer, scripted_model, tmp_root, files, mode, kept, best, kth):
    checkpoint = ModelCheckpoint(dirpath=tmp_root, filename="{epoch}", monitor="val_loss", mode=mode, save_top_k=2)
    make_trainer(max_epochs=5, callbacks=[checkpoint], **FAST).fit(scripted_model([5, 3, 4, 1, 2]))
    assert files(tmp_root) == kept
    assert sorted(os.path.basename(p) for p in checkpoint.best_k_models) == kept
    assert {os.path.basename(p): s.item() for p, s in checkpoint.best_k_models.items()} == {
        best[0]: best[1], kth[0]: kth[1]}
    assert os.path.basename(checkpoint.best_model_path) == best[0]
    assert isinstance(checkpoint.best_model_score, torch.Tensor) and checkpoint.best_model_score.item() == best[1]
    assert os.path.basename(checkpoint.kth_best_model_path) == kth[0] and checkpoint.kth_value.item() == kth[1]
    assert checkpoint.current_score.item() == (2.0 if mode == "min" else 4.0)  # the last score that entered


def test_a_nan_score_ranks_last(make_trainer, scripted_model, tmp_root):
    checkpoint = ModelCheckpoint(dirpath=tmp_root, filename="{epoch}", monitor="val_loss", save_top_k=2)
    make_trainer(max_epochs=3, callbacks=[checkpoint], **FAST).fit(scripted_model([float("nan"), 2.0, 3.0]))
    assert sorted(os.path.basename(p) for p in checkpoint.best_k_models) == ["epoch=1.ckpt", "epoch=2.ckpt"]


# ------------------------------------------------------------------------------------------
# File names
# ------------------------------------------------------------------------------------------


def test_filename_template_inserts_metric_names(make_trainer, scripted_model, tmp_root, files):
    checkpoint = ModelCheckpoint(dirpath=tmp_root, filename="{epoch}-{val_loss:.2f}", monitor="val_loss")
    make_trainer(max_epochs=1, callbacks=[checkpoint], **FAST).fit(scripted_model([0.1234]))
    assert files(tmp_root) == ["epoch=0-val_loss=0.12.ckpt"]


def test_filename_template_without_metric_names(make_trainer, scripted_model, tmp_root, files):
    checkpoint = ModelCheckpoint(dirpath=tmp_root, filename="ep{epoch:02d}_{step}_loss{val_loss:.1f}", monitor="val_loss",
                                 auto_insert_metric_name=False)
    make_trainer(max_epochs=1, callbacks=[checkpoint], **FAST).fit(scripted_model([0.25]))
    assert files(tmp_root) == ["ep00_1_loss0.2.ckpt"]


def test_metric_names_with_a_slash(make_trainer, scripted_model, tmp_root, files):
    # As in Lightning: an inserted name with "/" makes a sub-folder; without insertion the name is free.
    nested = ModelCheckpoint(dirpath=tmp_root / "nested", filename="{val/loss:.2f}", monitor="val/loss")
    flat = ModelCheckpoint(dirpath=tmp_root / "flat", filename="val_loss={val/loss:.2f}", monitor="val/loss",
                           auto_insert_metric_name=False)
    # Two runs: in one Trainer the two would share a state_key, which Lightning (and lit) refuse.
    for checkpoint in (nested, flat):
        make_trainer(max_epochs=2, callbacks=[checkpoint], **FAST).fit(scripted_model([0.5, 0.25], name="val/loss"))
    assert files(tmp_root / "nested") == [os.path.join("val", "loss=0.25.ckpt")]
    assert files(tmp_root / "flat") == ["val_loss=0.25.ckpt"]


def test_format_checkpoint_name():
    checkpoint = ModelCheckpoint(dirpath="/ckpts", filename="{epoch}-{val_loss:.2f}")
    assert checkpoint.format_checkpoint_name({"epoch": torch.tensor(3), "val_loss": torch.tensor(0.1234)}) == (
        "/ckpts/epoch=3-val_loss=0.12.ckpt")
    assert checkpoint.format_checkpoint_name({"epoch": 3}, ver=2) == "/ckpts/epoch=3-val_loss=0.00-v2.ckpt"
    assert ModelCheckpoint().format_checkpoint_name({"epoch": 1, "step": 8}) == "epoch=1-step=8.ckpt"


def test_class_attributes_shape_names(make_trainer, boring_model, tmp_root, files):
    class Underscored(ModelCheckpoint):
        CHECKPOINT_JOIN_CHAR = "_"
        CHECKPOINT_NAME_LAST = "{epoch}_final"
        FILE_EXTENSION = ".pt"

    checkpoint = Underscored(dirpath=tmp_root, save_last=True)
    make_trainer(max_epochs=1, callbacks=[checkpoint], **FAST).fit(boring_model())
    assert files(tmp_root) == ["epoch=0_final.pt", "epoch=0_step=1.pt"]


def test_version_counter_avoids_overwriting(make_trainer, boring_model, tmp_root, files):
    (tmp_root / "epoch=0-step=1.ckpt").write_bytes(b"someone else's file")
    with pytest.warns(UserWarning, match="exists and is not empty"):
        make_trainer(max_epochs=1, callbacks=[ModelCheckpoint(dirpath=tmp_root, save_top_k=-1)], **FAST).fit(boring_model())
    assert files(tmp_root) == ["epoch=0-step=1-v1.ckpt", "epoch=0-step=1.ckpt"]
    assert (tmp_root / "epoch=0-step=1.ckpt").read_bytes() == b"someone else's file"


def test_without_version_counter_the_file_is_replaced(make_trainer, boring_model, tmp_root, files):
    (tmp_root / "epoch=0-step=1.ckpt").write_bytes(b"old")
    checkpoint = ModelCheckpoint(dirpath=tmp_root, enable_version_counter=False)
    with pytest.warns(UserWarning, match="exists and is not empty"):
        make_trainer(max_epochs=1, callbacks=[checkpoint], **FAST).fit(boring_model())
    assert files(tmp_root) == ["epoch=0-step=1.ckpt"]
    assert load(tmp_root / "epoch=0-step=1.ckpt")["global_step"] == 1


# ------------------------------------------------------------------------------------------
# last.ckpt
# ------------------------------------------------------------------------------------------


def test_save_last_writes_the_newest_state(make_trainer, boring_model, tmp_root, files):
    checkpoint = ModelCheckpoint(dirpath=tmp_root, save_last=True)
    make_trainer(max_epochs=3, callbacks=[checkpoint], **FAST).fit(boring_model())
    assert files(tmp_root) == ["epoch=2-step=3.ckpt", "last.ckpt"]
    assert not os.path.islink(tmp_root / "last.ckpt")
    assert checkpoint.last_model_path == str(tmp_root / "last.ckpt")
    assert load(tmp_root / "last.ckpt")["global_step"] == 3


class LastObserver(lit.Callback):
    """After each epoch's save, what last.ckpt is: a link's target, or ``None`` for a file."""

    def __init__(self, folder):
        self.folder = folder
        self.seen: list[str | None] = []

    def on_train_epoch_end(self, trainer, pl_module):
        last = self.folder / "last.ckpt"
        self.seen.append(os.readlink(last) if os.path.islink(last) else None)


def test_save_last_link_points_at_the_checkpoint_of_this_step(make_trainer, scripted_model, tmp_root, files):
    checkpoint = ModelCheckpoint(dirpath=tmp_root, filename="{epoch}", monitor="val_loss", save_last="link")
    observer = LastObserver(tmp_root)
    make_trainer(max_epochs=3, callbacks=[checkpoint, observer], **FAST).fit(scripted_model([3, 1, 2]))
    # Epochs 0 and 1 entered the top 1: last.ckpt links to them (relative links). Epoch 2 did not:
    # linking would point at an older state, so last.ckpt is a real file then.
    assert observer.seen == ["epoch=0.ckpt", "epoch=1.ckpt", None]
    assert files(tmp_root) == ["epoch=1.ckpt", "last.ckpt"]
    assert load(tmp_root / "last.ckpt")["global_step"] == 3


def test_save_last_checkpoint_writes_a_real_file_now(make_trainer, boring_model, tmp_root, files):
    class SaveLastAtStep3(lit.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if trainer.global_step == 3:
                self.path = checkpoint.save_last_checkpoint(trainer)

    checkpoint = ModelCheckpoint(dirpath=tmp_root, save_top_k=0, save_last="link")
    saver = SaveLastAtStep3()
    make_trainer(max_epochs=1, limit_val_batches=0, callbacks=[checkpoint, saver]).fit(boring_model())
    assert saver.path == str(tmp_root / "last.ckpt")
    assert checkpoint.last_model_path == saver.path
    assert files(tmp_root) == ["last.ckpt"] and not os.path.islink(tmp_root / "last.ckpt")
    assert load(tmp_root / "last.ckpt")["global_step"] == 4  # saved again at the epoch's end, over it


# ------------------------------------------------------------------------------------------
# When
# ------------------------------------------------------------------------------------------


def test_every_n_train_steps(make_trainer, boring_model, tmp_root, files):
    checkpoint = ModelCheckpoint(dirpath=tmp_root, filename="{step}", every_n_train_steps=3, save_top_k=-1)
    make_trainer(max_epochs=2, limit_val_batches=1, num_sanity_val_steps=0, callbacks=[checkpoint]).fit(boring_model())
    assert files(tmp_root) == ["step=3.ckpt", "step=6.ckpt"]  # 8 steps; nothing at the epochs' ends


class SaveCounter:
    """Counts checkpoint writes."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    @lit.hookimpl(wrapper=True)
    def lit_save_checkpoint(self, path):
        self.paths.append(os.path.basename(path))
        return (yield)


def test_never_saves_twice_at_one_step(make_trainer, boring_model, tmp_root):
    # Step 4 is both a step to save at and the epoch's end: one save point, not two.
    counter = SaveCounter()
    checkpoint = ModelCheckpoint(dirpath=tmp_root, filename="{step}", every_n_train_steps=2, save_top_k=-1, save_last=True)
    make_trainer(max_epochs=1, limit_val_batches=0, callbacks=[checkpoint], plugins=[counter]).fit(boring_model())
    assert counter.paths == ["step=2.ckpt", "last.ckpt", "step=4.ckpt", "last.ckpt"]


def test_every_n_epochs(make_trainer, boring_model, tmp_root, files):
    checkpoint = ModelCheckpoint(dirpath=tmp_root, filename="{epoch}", every_n_epochs=2, save_top_k=-1)
    make_trainer(max_epochs=5, callbacks=[checkpoint], **FAST).fit(boring_model())
    assert files(tmp_root) == ["epoch=1.ckpt", "epoch=3.ckpt"]


def test_train_time_interval(make_trainer, boring_model, tmp_root, files, monkeypatch):
    import lit_checkpoint.model_checkpoint as module

    class Clock:
        """Each training batch takes 10 seconds."""

        now = 0.0

        def monotonic(self):
            return self.now

    clock = Clock()
    monkeypatch.setattr(module, "time", clock)

    class Tick(lit.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            clock.now += 10.0

    interval = timedelta(seconds=25)
    checkpoint = ModelCheckpoint(dirpath=tmp_root / "a", filename="{step}", train_time_interval=interval, save_top_k=-1)
    make_trainer(max_epochs=2, limit_val_batches=0, callbacks=[Tick(), checkpoint]).fit(boring_model())
    assert files(tmp_root / "a") == ["step=3.ckpt", "step=6.ckpt"]  # at 30 s and 60 s

    # Accumulating 2 batches per step, a save due at 30 s (mid-accumulation) waits for the step at 40 s.
    clock.now = 0.0
    checkpoint = ModelCheckpoint(dirpath=tmp_root / "b", filename="{step}", train_time_interval=interval, save_top_k=-1)
    make_trainer(max_epochs=2, limit_val_batches=0, accumulate_grad_batches=2, callbacks=[Tick(), checkpoint]).fit(boring_model())
    assert files(tmp_root / "b") == ["step=2.ckpt", "step=4.ckpt"]  # at 40 s and 80 s


def test_step_saves_wait_for_the_end_of_an_accumulation_after_resuming(make_trainer, boring_model, tmp_root, files):
    def run(**flags):
        checkpoint = ModelCheckpoint(dirpath=tmp_root, filename="{step}", every_n_train_steps=1, save_top_k=-1)
        make_trainer(max_epochs=1, limit_val_batches=0, accumulate_grad_batches=2, callbacks=[checkpoint]).fit(
            boring_model(), **flags)

    run()
    assert files(tmp_root) == ["step=1.ckpt", "step=2.ckpt"]
    # Resumed after batch 2 of 4, the next batch does not step (global_step is still 1): no save until batch 4.
    with pytest.warns(UserWarning, match="not empty"):
        run(ckpt_path=str(tmp_root / "step=1.ckpt"))
    assert files(tmp_root) == ["step=1.ckpt", "step=2-v1.ckpt", "step=2.ckpt"]


@pytest.mark.parametrize(("flag", "steps"), [(None, ["step=2.ckpt", "step=4.ckpt"]), (True, ["step=4.ckpt"]),
                                             (False, ["step=2.ckpt", "step=4.ckpt"])])
def test_save_on_train_epoch_end_with_validation_twice_an_epoch(make_trainer, boring_model, tmp_root, files, flag, steps):
    checkpoint = ModelCheckpoint(dirpath=tmp_root, filename="{step}", save_top_k=-1, save_on_train_epoch_end=flag)
    make_trainer(max_epochs=1, val_check_interval=0.5, limit_val_batches=1, num_sanity_val_steps=0,
                 callbacks=[checkpoint]).fit(boring_model())
    assert files(tmp_root) == steps


@pytest.mark.parametrize(("flag", "at_epoch_end"), [(None, True), (True, True), (False, False)])
def test_save_on_train_epoch_end_with_validation_once_an_epoch(make_trainer, boring_model, tmp_root, flag, at_epoch_end):
    # Validation runs before on_train_epoch_end, so the default saves there, once the epoch is complete.
    checkpoint = ModelCheckpoint(dirpath=tmp_root, save_on_train_epoch_end=flag)
    make_trainer(max_epochs=1, callbacks=[checkpoint], **FAST).fit(boring_model())
    assert load(checkpoint.best_model_path)["loops"]["epoch_completed"] is at_epoch_end


def test_without_validation_saves_at_train_epoch_end(make_trainer, boring_model, tmp_root, files):
    checkpoint = ModelCheckpoint(dirpath=tmp_root, save_top_k=-1)
    make_trainer(max_epochs=2, limit_val_batches=0, callbacks=[checkpoint]).fit(boring_model())
    assert files(tmp_root) == ["epoch=0-step=4.ckpt", "epoch=1-step=8.ckpt"]


def test_nothing_is_saved_with_fast_dev_run(make_trainer, boring_model, tmp_root):
    checkpoint = ModelCheckpoint(dirpath=tmp_root / "ckpts", save_last=True)
    make_trainer(fast_dev_run=2, callbacks=[checkpoint]).fit(boring_model())
    assert not (tmp_root / "ckpts").exists()


def test_nothing_is_saved_during_the_sanity_check(make_trainer, boring_model, tmp_root, files):
    first = ModelCheckpoint(dirpath=tmp_root, filename="{step}", save_top_k=-1, save_on_train_epoch_end=False)
    make_trainer(max_epochs=1, callbacks=[first], **FAST).fit(boring_model())
    # Resumed at step 1, the sanity check's validation ends at a step nothing was saved at by this callback.
    again = ModelCheckpoint(dirpath=tmp_root, filename="{step}", save_top_k=-1, save_on_train_epoch_end=False)
    with pytest.warns(UserWarning, match="not empty"):
        make_trainer(max_epochs=2, limit_train_batches=1, limit_val_batches=1, num_sanity_val_steps=1,
                     callbacks=[again]).fit(boring_model(), ckpt_path=str(tmp_root / "step=1.ckpt"))
    assert files(tmp_root) == ["step=1.ckpt", "step=2.ckpt"]
    assert again.best_model_path.endswith("step=2.ckpt")


def test_validate_and_test_do_not_save(make_trainer, boring_model, tmp_root, files):
    checkpoint = ModelCheckpoint(dirpath=tmp_root, filename="{step}", save_top_k=-1, save_on_train_epoch_end=False)
    trainer = make_trainer(max_epochs=1, callbacks=[checkpoint], **FAST)
    model = boring_model()
    trainer.fit(model)
    checkpoint._last_global_step_saved = -1  # only the stage rule stands in the way now
    trainer.validate(model, verbose=False)
    trainer.test(model, verbose=False)
    assert files(tmp_root) == ["step=1.ckpt"]


# ------------------------------------------------------------------------------------------
# Content and several callbacks
# ------------------------------------------------------------------------------------------


def test_save_weights_only(make_trainer, boring_model, tmp_root):
    weights = ModelCheckpoint(dirpath=tmp_root / "weights", save_weights_only=True)
    full = ModelCheckpoint(dirpath=tmp_root / "full", monitor="val_loss")
    make_trainer(max_epochs=1, callbacks=[weights, full], **FAST).fit(boring_model())
    slim, complete = load(weights.best_model_path), load(full.best_model_path)
    assert "state_dict" in slim and "optimizer_states" not in slim and "callbacks" not in slim
    assert "optimizer_states" in complete and full.state_key in complete["callbacks"]
    torch.testing.assert_close(slim["state_dict"], complete["state_dict"])


def test_several_instances_save_on_their_own_schedules(make_trainer, scripted_model, tmp_root, files):
    best = ModelCheckpoint(dirpath=tmp_root, filename="best-{epoch}", monitor="val_loss")
    steps = ModelCheckpoint(dirpath=tmp_root, filename="{step}", every_n_train_steps=2, save_top_k=-1)
    make_trainer(max_epochs=2, limit_val_batches=1, num_sanity_val_steps=0, callbacks=[best, steps]).fit(
        scripted_model([2.0, 1.0]))
    assert files(tmp_root) == ["best-epoch=1.ckpt", "step=2.ckpt", "step=4.ckpt", "step=6.ckpt", "step=8.ckpt"]
    assert best.state_key == ("ModelCheckpoint{'monitor': 'val_loss', 'mode': 'min', 'every_n_train_steps': 0, "
                              "'every_n_epochs': 1, 'train_time_interval': None}")
    assert steps.state_key == ("ModelCheckpoint{'monitor': None, 'mode': 'min', 'every_n_train_steps': 2, "
                               "'every_n_epochs': 0, 'train_time_interval': None}")
    saved = load(best.best_model_path)["callbacks"]
    assert saved[best.state_key]["best_model_path"] == best.best_model_path
    assert saved[steps.state_key]["best_model_path"] == str(tmp_root / "step=8.ckpt")


def test_verbose_says_what_happens(make_trainer, scripted_model, tmp_root, capsys):
    checkpoint = ModelCheckpoint(dirpath=tmp_root, filename="{epoch}", monitor="val_loss", verbose=True)
    make_trainer(max_epochs=2, callbacks=[checkpoint], **FAST).fit(scripted_model([1.0, 2.0]))
    out = capsys.readouterr().out
    assert "Epoch 0, global step 1: 'val_loss' reached 1.00000 (best 1.00000), saving model to" in out
    assert "Epoch 1, global step 2: 'val_loss' was not in top 1" in out


def test_to_yaml(make_trainer, scripted_model, tmp_root):
    import yaml

    checkpoint = ModelCheckpoint(dirpath=tmp_root, filename="{epoch}", monitor="val_loss", save_top_k=2)
    make_trainer(max_epochs=2, callbacks=[checkpoint], **FAST).fit(scripted_model([0.5, 0.25]))
    checkpoint.to_yaml()
    saved = yaml.safe_load((tmp_root / "best_k_models.yaml").read_text())
    assert saved == {str(tmp_root / "epoch=0.ckpt"): 0.5, str(tmp_root / "epoch=1.ckpt"): 0.25}
