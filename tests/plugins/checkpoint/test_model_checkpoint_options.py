"""ModelCheckpoint's Lightning 2.6 surface: the signature, save_on_exception, the attributes users read."""

from __future__ import annotations

import inspect
import os

import pytest
import torch
import yaml

from lit_checkpoint import ModelCheckpoint

#: Lightning 2.6's parameters, in order (positional calls must mean the same).
LIGHTNING_PARAMETERS = [
    "dirpath", "filename", "monitor", "verbose", "save_last", "save_top_k", "save_on_exception",
    "save_weights_only", "mode", "auto_insert_metric_name", "every_n_train_steps", "train_time_interval",
    "every_n_epochs", "save_on_train_epoch_end", "enable_version_counter",
]


def test_signature_and_constants_match_lightning():
    names = list(inspect.signature(ModelCheckpoint.__init__).parameters)[1:]
    assert names[:len(LIGHTNING_PARAMETERS)] == LIGHTNING_PARAMETERS
    assert (ModelCheckpoint.CHECKPOINT_JOIN_CHAR, ModelCheckpoint.CHECKPOINT_EQUALS_CHAR, ModelCheckpoint.CHECKPOINT_NAME_LAST,
            ModelCheckpoint.FILE_EXTENSION, ModelCheckpoint.STARTING_VERSION) == ("-", "=", "last", ".ckpt", 1)
    checkpoint = ModelCheckpoint()
    assert (checkpoint.best_model_path, checkpoint.best_model_score, checkpoint.best_k_models, checkpoint.kth_best_model_path,
            checkpoint.last_model_path, checkpoint.save_on_exception) == ("", None, {}, "", "", False)
    assert checkpoint.kth_value == torch.tensor(float("inf")) and ModelCheckpoint(mode="max").kth_value == -torch.tensor(float("inf"))


class Failing:
    """A training step that raises ``error`` at global step ``at``."""

    @staticmethod
    def model(boring_model, error, at):
        class Model(boring_model):
            def training_step(self, batch, batch_idx):
                if self.global_step == at:
                    raise error
                return super().training_step(batch, batch_idx)

        return Model()


@pytest.mark.parametrize(("error", "escapes"), [(RuntimeError("out of memory"), RuntimeError), (KeyboardInterrupt(), SystemExit)])
def test_save_on_exception_saves_the_state_training_stopped_in(make_trainer, boring_model, tmp_root, files, error, escapes):
    checkpoint = ModelCheckpoint(dirpath=tmp_root / "ckpts", save_on_exception=True, save_last=True)
    trainer = make_trainer(max_epochs=3, callbacks=[checkpoint])
    model = Failing.model(boring_model, error, at=6)
    with pytest.raises(escapes):
        trainer.fit(model)
    # The epoch-end save of step 4 and, outside the top-k ranking, the exception's of step 6.
    assert files(tmp_root / "ckpts") == ["epoch=0-step=4.ckpt", "epoch=1-step=6.ckpt", "last.ckpt"]
    assert os.path.basename(checkpoint.best_model_path) == "epoch=0-step=4.ckpt"
    saved = torch.load(tmp_root / "ckpts" / "epoch=1-step=6.ckpt", weights_only=True)
    assert saved["global_step"] == 6 and saved["epoch"] == 1
    assert torch.equal(saved["state_dict"]["layer.weight"], model.layer.weight.detach())
    assert torch.load(checkpoint.last_model_path, weights_only=True)["global_step"] == 6


def test_without_save_on_exception_nothing_is_written_on_an_exception(make_trainer, boring_model, tmp_root, files):
    checkpoint = ModelCheckpoint(dirpath=tmp_root / "ckpts", save_last=True)
    with pytest.raises(RuntimeError):
        make_trainer(max_epochs=3, callbacks=[checkpoint]).fit(Failing.model(boring_model, RuntimeError("x"), at=6))
    assert files(tmp_root / "ckpts") == ["epoch=0-step=4.ckpt", "last.ckpt"]


def test_save_on_exception_does_not_save_twice_the_same_step(make_trainer, boring_model, tmp_root, files):
    checkpoint = ModelCheckpoint(dirpath=tmp_root / "ckpts", save_on_exception=True, every_n_train_steps=1)
    with pytest.raises(RuntimeError):
        make_trainer(max_epochs=3, callbacks=[checkpoint]).fit(Failing.model(boring_model, RuntimeError("x"), at=3))
    assert files(tmp_root / "ckpts") == ["epoch=0-step=3.ckpt"], "step 3 was saved by the schedule already"


def test_to_yaml_and_format_checkpoint_name(make_trainer, scripted_model, tmp_root):
    checkpoint = ModelCheckpoint(dirpath=tmp_root, filename="{epoch}-{val_loss:.1f}", monitor="val_loss", save_top_k=2)
    make_trainer(max_epochs=3, callbacks=[checkpoint], limit_train_batches=1, limit_val_batches=1,
                 num_sanity_val_steps=0).fit(scripted_model([3.0, 1.0, 2.0]))
    checkpoint.to_yaml()
    written = yaml.safe_load((tmp_root / "best_k_models.yaml").read_text())
    assert {os.path.basename(k): v for k, v in written.items()} == {"epoch=1-val_loss=1.0.ckpt": 1.0, "epoch=2-val_loss=2.0.ckpt": 2.0}
    assert checkpoint.format_checkpoint_name({"epoch": 4, "val_loss": torch.tensor(0.25)}, ver=2) == str(tmp_root / "epoch=4-val_loss=0.2-v2.ckpt")
    assert os.path.basename(checkpoint.kth_best_model_path) == "epoch=2-val_loss=2.0.ckpt" and checkpoint.kth_value == 2.0


def test_tilde_in_dirpath(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert ModelCheckpoint(dirpath="~/ckpts").dirpath == os.path.realpath(tmp_path / "ckpts")
