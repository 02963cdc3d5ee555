"""WandbLogger: real wandb runs in offline mode, read back from the run file they wrote."""

from __future__ import annotations

import os
import sys
import time

import pytest
import torch

import lit_core as lit
from lit_checkpoint import ModelCheckpoint
from lit_core.exceptions import MisconfigurationException
from lit_wandb import WandbLogger


def rows_with(run, key):
    return [(row["trainer/global_step"], row[key]) for row in run.history if key in row]


def test_metrics_config_and_steps(wandb_trainer, logging_model, offline_run, tmp_root):
    started = time.monotonic()
    logger = WandbLogger(project="proj", name="first", save_dir=tmp_root / "runs", offline=True)
    model = logging_model(lr=0.1, optim={"name": "sgd", "momentum": 0.9}, act=torch.nn.ReLU)
    trainer = wandb_trainer(logger=logger, max_epochs=2, log_every_n_steps=2)
    trainer.fit(model)
    run = offline_run(tmp_root / "runs")
    assert (run.project, run.name, run.id) == ("proj", "first", logger.version)
    assert run.config == {"lr": 0.1, "optim": {"name": "sgd", "momentum": 0.9}, "act": repr(torch.nn.ReLU)}
    expected = [(step, pytest.approx(loss)) for step, loss in model.losses if (step + 1) % 2 == 0]
    assert rows_with(run, "loss") == expected and [s for s, _ in expected] == [1, 3, 5, 7]
    assert [step for step, _ in rows_with(run, "val_loss")] == [3, 7]
    assert run.exit_code == 0 and logger._experiment is None, "finalize finished the run"
    assert trainer.log_dir == os.path.join(tmp_root, "runs", "proj", logger.version)
    assert time.monotonic() - started < 30


def test_by_name_with_watch(wandb_trainer, logging_model, offline_run, tmp_root):
    trainer = wandb_trainer(log_every_n_steps=1)  # offline through WANDB_MODE
    logger = trainer.logger
    assert isinstance(logger, WandbLogger) and logger.save_dir == str(tmp_root)
    model = logging_model()
    logger.watch(model, log="gradients", log_freq=1)
    trainer.fit(model)
    run = offline_run(tmp_root)
    assert run.project == "lightning_logs" and run.id == logger.version
    assert any(key.startswith("gradients/") for row in run.history for key in row), "watch logged gradients"
    assert len(rows_with(run, "loss")) == 4


@pytest.mark.parametrize("log_model", [True, "all"])
def test_log_model(wandb_trainer, logging_model, offline_run, tmp_root, log_model):
    checkpoint = ModelCheckpoint(dirpath=tmp_root / "ckpt", monitor="val_loss", save_top_k=1, save_last=True, filename="{epoch}")
    logger = WandbLogger(save_dir=tmp_root, offline=True, log_model=log_model)
    uploaded_by_epoch = []

    class Spy(lit.Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            uploaded_by_epoch.append(len(logger._logged_checkpoints))

    trainer = wandb_trainer(logger=logger, callbacks=[checkpoint, Spy()], enable_checkpointing=True, max_epochs=3)
    trainer.fit(logging_model())
    run = offline_run(tmp_root)
    names = [a["metadata"]["original_filename"] for a in run.artifacts]
    assert {a["name"] for a in run.artifacts} == {f"model-{logger.version}"} and {a["type"] for a in run.artifacts} == {"model"}
    assert all(a["files"] == ["model.ckpt"] for a in run.artifacts)
    best = os.path.basename(checkpoint.best_model_path)
    if log_model is True:
        assert uploaded_by_epoch == [0, 0, 0], "uploaded at the end only"
        assert sorted(names) == sorted({best, "last.ckpt"})
    else:
        assert uploaded_by_epoch[0] == 0 and uploaded_by_epoch[1] > 0, "uploaded as they are saved"
        assert "epoch=0.ckpt" in names and best in names
    (best_artifact,) = [a for a in run.artifacts if "best" in a["aliases"]][-1:]
    assert best_artifact["metadata"]["original_filename"] == best
    assert best_artifact["metadata"]["score"] == pytest.approx(checkpoint.best_model_score.item())
    assert best_artifact["metadata"]["ModelCheckpoint"]["monitor"] == "val_loss"


def test_log_model_all_with_background_writes(wandb_trainer, logging_model, offline_run, tmp_root):
    """With ``async_save``, each checkpoint is uploaded once its background write finished (the event
    comes from the writer thread); a file deleted from the top k stays uploaded."""
    checkpoint = ModelCheckpoint(dirpath=tmp_root / "ckpt", monitor="val_loss", save_top_k=1, filename="{epoch}", async_save=True)
    logger = WandbLogger(save_dir=tmp_root, offline=True, log_model="all")
    trainer = wandb_trainer(logger=logger, callbacks=[checkpoint], enable_checkpointing=True, max_epochs=3)
    trainer.fit(logging_model())
    names = [a["metadata"]["original_filename"] for a in offline_run(tmp_root).artifacts]
    assert "epoch=0.ckpt" in names and os.path.basename(checkpoint.best_model_path) in names
    assert len(names) == len(set(names)) == len(logger._logged_checkpoints), "each file once"


def test_a_failing_run_is_finished_as_failed(wandb_trainer, logging_model, offline_run, tmp_root):
    statuses = []

    class Recording(WandbLogger):
        def finalize(self, status):
            statuses.append(status)
            super().finalize(status)

    class Failing(logging_model):
        def training_step(self, batch, batch_idx):
            if batch_idx == 2:
                raise RuntimeError("boom")
            return super().training_step(batch, batch_idx)

    checkpoint = ModelCheckpoint(dirpath=tmp_root / "ckpt", save_last=True, every_n_train_steps=1)
    logger = Recording(save_dir=tmp_root, offline=True, log_model=True)
    with pytest.raises(RuntimeError, match="boom"):
        wandb_trainer(logger=logger, callbacks=[checkpoint], enable_checkpointing=True, log_every_n_steps=1).fit(Failing())
    run = offline_run(tmp_root)
    assert statuses == ["failed"] and run.exit_code == 1
    assert [step for step, _ in rows_with(run, "loss")] == [0, 1]
    assert run.artifacts == [], "a failed run uploads no checkpoint"


def test_rank_zero_only(wandb_trainer, logging_model, tmp_root, monkeypatch):
    monkeypatch.setattr(lit.rank_zero_only, "rank", 0)  # the Trainer copies global_rank into it

    class Rank1:
        @lit.hookimpl
        def lit_setup_environment(self, trainer):
            trainer.global_rank = 1

    class UsesExperiment(logging_model):
        def training_step(self, batch, batch_idx):
            self.logger.experiment.log({"direct": 1.0})
            self.logger.experiment.config.update({"a": 1})
            return super().training_step(batch, batch_idx)

    logger = WandbLogger(save_dir=tmp_root / "runs", offline=True, log_model=True)
    wandb_trainer(logger=logger, plugins=[Rank1()], log_every_n_steps=1).fit(UsesExperiment(lr=0.1))
    assert not (tmp_root / "runs").exists(), "rank 1 writes nothing"
    assert "wandb" not in sys.modules or sys.modules["wandb"].run is None


@pytest.fixture
def fresh_wandb_settings():
    """wandb reads the environment once per process (``wandb.setup()``): start over, before and after."""
    import wandb

    wandb.teardown()
    yield
    wandb.teardown()


def test_no_api_key_is_a_clear_error(tmp_root, monkeypatch, fresh_wandb_settings):
    monkeypatch.delenv("WANDB_MODE")
    logger = WandbLogger(save_dir=tmp_root)
    started = time.monotonic()
    with pytest.raises(MisconfigurationException, match=(
        r"WandbLogger could not start a run: No API key configured.* Run `wandb login`, or set the WANDB_API_KEY "
        r"environment variable, or log without an account with WandbLogger\(offline=True\)")):
        logger.experiment
    assert time.monotonic() - started < 15, "fails fast, without waiting on the network"


def test_bad_log_model(tmp_root):
    with pytest.raises(MisconfigurationException, match=r"log_model='best'.*True \(at the end\), 'all'"):
        WandbLogger(save_dir=tmp_root, log_model="best")


@pytest.mark.parametrize("installed", [True, False])
def test_log_model_without_a_checkpointing_callback_warns_at_fit_start(wandb_trainer, logging_model, offline_run, tmp_root,
                                                                        lit_plugins, installed):
    if not installed:  # as where lit-wandb is installed without lit-checkpoint
        lit_plugins.hide("lit-checkpoint")
    fix = (r"turn checkpointing on \(Trainer\(enable_checkpointing=True\)" if installed
           else r"install a checkpointing plugin \(`pip install lit-checkpoint`\)")
    logger = WandbLogger(save_dir=tmp_root, offline=True, log_model=True)
    trainer = wandb_trainer(logger=logger, enable_checkpointing=False)
    with pytest.warns(UserWarning, match=r"WandbLogger\(log_model=True\) uploads .* has none, so no checkpoint will be uploaded: " + fix):
        trainer.fit(logging_model())
    assert offline_run(tmp_root).artifacts == []


def test_log_model_with_a_checkpointing_callback_does_not_warn(wandb_trainer, logging_model, tmp_root, recwarn):
    logger = WandbLogger(save_dir=tmp_root, offline=True, log_model=True)
    wandb_trainer(logger=logger, callbacks=[ModelCheckpoint(dirpath=tmp_root / "ckpt")], enable_checkpointing=True).fit(logging_model())
    assert not [w for w in recwarn if "log_model" in str(w.message)]
    assert len(logger._logged_checkpoints) == 1
