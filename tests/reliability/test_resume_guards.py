"""What gets saved and what gets resumed (issue 14, cases 5, 7 and 13).

* 5: no checkpoint is written from a state whose latest loss is NaN or infinite;
* 7: ``ckpt_path="last"`` resumes only a checkpoint of this run's lineage, never another
  experiment's that shares the folder (a restarted or requeued run still resumes its own);
* 13: a mid-epoch checkpoint resumed on a dataset that shrank says what it skipped.

Real training on the suite's tiny model, real checkpoint files.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import torch

import lit_core as lit
from lit_checkpoint import ModelCheckpoint

QUIET = {"enable_progress_bar": False, "enable_model_summary": False}


def _all_finite(path: Path) -> bool:
    checkpoint = torch.load(path, weights_only=True)
    return all(torch.isfinite(t).all() for t in checkpoint["state_dict"].values())


# ------------------------------------------------------------------------------------------
# Case 5: NaN loss with a checkpoint at every step
# ------------------------------------------------------------------------------------------


@pytest.fixture
def nan_from_step_3(boring_model: type[lit.LightningModule]) -> type[lit.LightningModule]:
    """The loss turns NaN at the third batch (global step 3): every weight is NaN after that step."""

    class NanFromStep3(boring_model):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            loss = self.loss(batch)
            if self.global_step >= 2:
                loss = loss * float("nan")
            self.log("train_loss", loss)
            return loss

    return NanFromStep3


def test_case_05_no_checkpoint_is_written_from_a_nan_state(make_trainer, nan_from_step_3, tmp_root):
    folder = tmp_root / "ckpts"
    checkpoint = ModelCheckpoint(dirpath=folder, every_n_train_steps=1, save_last=True, save_top_k=2,
                                 monitor="train_loss", filename="{step}")
    trainer = make_trainer(max_epochs=2, limit_val_batches=0, callbacks=[checkpoint])
    with pytest.raises(FloatingPointError, match="NaN or infinite") as raised:
        trainer.fit(nan_from_step_3())
    # Stopped at the first save point after the loss turned NaN, naming the checkpoint it did not write.
    assert "global step 3" in str(raised.value) and "not written" in str(raised.value)
    written = sorted(p.name for p in folder.iterdir())
    assert written == ["last.ckpt", "step=1.ckpt", "step=2.ckpt"], written
    assert all(_all_finite(folder / name) for name in written)
    assert torch.load(folder / "last.ckpt", weights_only=True)["global_step"] == 2  # the last finite step


def test_case_05_save_on_exception_writes_no_nan_state(make_trainer, nan_from_step_3, tmp_root):
    folder = tmp_root / "ckpts"
    checkpoint = ModelCheckpoint(dirpath=folder, save_last=True, save_on_exception=True, filename="{step}")
    trainer = make_trainer(max_epochs=1, limit_val_batches=0, callbacks=[checkpoint])
    with pytest.raises(FloatingPointError), pytest.warns(UserWarning, match="not saved"):
        trainer.fit(nan_from_step_3())
    assert not folder.exists() or not any(folder.iterdir())


def test_case_05_trainer_save_checkpoint_refuses_a_nan_state(make_trainer, nan_from_step_3, tmp_root):
    class SaveAtStep3(lit.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if trainer.global_step == 3:
                trainer.save_checkpoint(tmp_root / "manual.ckpt")

    with pytest.raises(FloatingPointError, match=r"manual\.ckpt"):
        make_trainer(max_epochs=1, limit_val_batches=0, callbacks=[SaveAtStep3()]).fit(nan_from_step_3())
    assert not (tmp_root / "manual.ckpt").exists()


def test_case_05_saves_after_an_lr_search_check_the_runs_own_loss(make_trainer, nan_from_step_3, tmp_root):
    from lit_callbacks import LearningRateFinder

    # The search trains 2 steps on trial (finite losses) inside fit, then the run's loss turns NaN at step 3.
    finder = LearningRateFinder(num_training_steps=2, update_attr=False)
    checkpoint = ModelCheckpoint(dirpath=tmp_root / "ckpts", every_n_train_steps=1, save_last=True, filename="{step}")
    with pytest.raises(FloatingPointError, match="not written"):
        make_trainer(max_epochs=1, limit_val_batches=0, callbacks=[finder, checkpoint]).fit(nan_from_step_3())
    assert len(finder.optimal_lr.results["loss"]) == 2
    assert _all_finite(tmp_root / "ckpts" / "last.ckpt")
    assert torch.load(tmp_root / "ckpts" / "last.ckpt", weights_only=True)["global_step"] == 2


# ------------------------------------------------------------------------------------------
# Case 7: ckpt_path="last" and other experiments in the same root
# ------------------------------------------------------------------------------------------


@pytest.fixture
def experiment(boring_model: type[lit.LightningModule]) -> type[lit.LightningModule]:
    """A model with hyperparameters: ``lr`` for SGD and ``features``, the input width."""

    class Experiment(boring_model):
        def __init__(self, lr: float = 0.1, features: int = 4) -> None:
            super().__init__(features)
            self.save_hyperparameters()
            self.first_step: int | None = None

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            if self.first_step is None:
                self.first_step = self.global_step
            x, y = batch
            x = x.repeat(1, self.hparams.features)[:, : self.hparams.features]  # any input width
            return torch.nn.functional.mse_loss(self(x), y)

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    return Experiment


#: The Trainer's warning when ``"last"`` resolves to nothing: training starts from scratch.
FRESH = "ckpt_path='last': no last checkpoint found"


def _csv_trainer(root: Path, **flags: Any) -> lit.Trainer:
    """A trainer logging to ``root/lightning_logs/version_N`` with the default checkpoint folder."""
    flags = {"max_epochs": 1, "limit_val_batches": 0, "default_root_dir": root, "logger": "csv",
             "accelerator": "cpu", "callbacks": [ModelCheckpoint(save_last=True)], **QUIET, **flags}
    return lit.Trainer(**flags)


def test_case_07_last_never_resumes_another_experiments_checkpoint(tmp_root, experiment):
    _csv_trainer(tmp_root).fit(experiment(lr=0.1))  # experiment A: version_0
    theirs = tmp_root / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt"
    assert theirs.is_file()

    # Experiment B, another learning rate, in the same root: it must not take A's weights and lr.
    model = experiment(lr=0.5)
    trainer = _csv_trainer(tmp_root, max_epochs=2)
    with pytest.warns(UserWarning, match=r"(?s)not resumed.*lr.*0\.1.*0\.5"), pytest.warns(UserWarning, match=FRESH):
        trainer.fit(model, ckpt_path="last")
    assert model.first_step == 0, "resumed another experiment's state"
    assert trainer.optimizers[0].param_groups[0]["lr"] == 0.5
    assert trainer.global_step == 8


def test_case_07_last_of_a_differently_shaped_model_is_not_loaded(tmp_root, experiment):
    _csv_trainer(tmp_root).fit(experiment(features=4))
    model = experiment(features=6)  # a Linear(6, 1): loading the other checkpoint would fail
    trainer = _csv_trainer(tmp_root)
    with pytest.warns(UserWarning, match=r"(?s)not resumed.*features.*4.*6"), pytest.warns(UserWarning, match=FRESH):
        trainer.fit(model, ckpt_path="last")
    assert model.first_step == 0 and trainer.global_step == 4


def test_case_07_another_module_class_in_the_same_folder_is_not_resumed(make_trainer, experiment, tmp_root):
    class Other(experiment):
        pass

    folder = tmp_root / "shared"
    make_trainer(limit_val_batches=0, callbacks=[ModelCheckpoint(dirpath=folder, save_last=True)]).fit(experiment())
    model = Other()
    trainer = make_trainer(limit_val_batches=0, callbacks=[ModelCheckpoint(dirpath=folder, save_last=True)])
    with pytest.warns(UserWarning, match=r"(?s)not resumed.*Experiment.*Other"), pytest.warns(UserWarning, match=FRESH), \
            pytest.warns(UserWarning, match="not empty"):
        trainer.fit(model, ckpt_path="last")
    assert model.first_step == 0


def test_case_07_a_restarted_run_resumes_its_own_last_from_an_earlier_version(tmp_root, experiment):
    _csv_trainer(tmp_root).fit(experiment(lr=0.5))  # the run, stopped after epoch 0 (version_0)
    model = experiment(lr=0.5)  # the same experiment started again: a new process, version_1
    trainer = _csv_trainer(tmp_root, max_epochs=2)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "ModelCheckpoint: the checkpoint was written with dirpath")
        trainer.fit(model, ckpt_path="last")
    assert model.first_step == 4 and trainer.global_step == 8


def test_case_07_a_restart_resumes_though_a_tuner_changed_the_saved_hparams(tmp_root, experiment, random_loader):
    from lit_callbacks import LearningRateFinder

    def run(max_epochs: int, **fit: Any) -> tuple[lit.Trainer, lit.LightningModule]:
        model = experiment(lr=0.1)  # what the script builds, each time it starts
        finder = LearningRateFinder(num_training_steps=20, early_stop_threshold=None)  # sets hparams.lr in fit
        trainer = _csv_trainer(tmp_root, max_epochs=max_epochs, callbacks=[finder, ModelCheckpoint(save_last=True)])
        trainer.fit(model, train_dataloaders=random_loader(n=64), **fit)  # 32 batches
        return trainer, model

    run(1)
    saved = torch.load(tmp_root / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt", weights_only=True)
    assert saved["hyper_parameters"]["lr"] != 0.1  # the tuned rate, not what the script builds
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "ModelCheckpoint: the checkpoint was written with dirpath")
        warnings.filterwarnings("error", ".*not resumed")
        trainer, model = run(2, ckpt_path="last")  # the same script started again
    assert model.first_step == 32 and trainer.global_step == 64


def test_case_07_a_requeued_slurm_job_resumes_its_own_checkpoint_not_a_twins(tmp_root, experiment, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "101")
    _csv_trainer(tmp_root).fit(experiment())  # job 101: version_0
    monkeypatch.setenv("SLURM_JOB_ID", "202")
    _csv_trainer(tmp_root, max_epochs=2).fit(experiment())  # a twin (same class and hparams): version_1, newer
    ours = tmp_root / "lightning_logs" / "version_0" / "checkpoints" / "last.ckpt"
    assert torch.load(ours, weights_only=True)["lineage"]["job"] == "slurm:101"

    monkeypatch.setenv("SLURM_JOB_ID", "101")  # job 101 requeued: same job id, a new process
    trainer = _csv_trainer(tmp_root, max_epochs=2)
    model = experiment()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "ModelCheckpoint: the checkpoint was written with dirpath")
        trainer.fit(model, ckpt_path="last")
    assert model.first_step == 4  # job 101's epoch 0, not the twin's step 8


# ------------------------------------------------------------------------------------------
# Case 13: a mid-epoch checkpoint resumed on a dataset that shrank
# ------------------------------------------------------------------------------------------


def _mid_epoch_checkpoint(make_trainer, model: lit.LightningModule, loader: Any, path: Path, at_batch: int) -> None:
    class SaveThenStop(lit.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if batch_idx == at_batch - 1:
                trainer.save_checkpoint(path)
                trainer.should_stop = True

    make_trainer(max_epochs=3, limit_val_batches=0, callbacks=[SaveThenStop()]).fit(model, train_dataloaders=loader)
    assert not torch.load(path, weights_only=True)["loops"]["epoch_completed"]


def test_case_13_resuming_on_a_shrunken_dataset_warns_what_is_skipped(make_trainer, boring_model, random_loader, tmp_root):
    path = tmp_root / "mid.ckpt"
    _mid_epoch_checkpoint(make_trainer, boring_model(), random_loader(n=16), path, at_batch=7)  # 8 batches
    model = boring_model()
    trainer = make_trainer(max_epochs=2, limit_val_batches=0)
    message = ("resumed at batch 7 of epoch 0 but the train dataloader now has 5 batches: the rest of epoch 0 "
               "is skipped")
    with pytest.warns(UserWarning, match=message):
        trainer.fit(model, train_dataloaders=random_loader(n=10), ckpt_path=path)
    assert trainer.global_step == 7 + 5  # epoch 0 ended at once; epoch 1 ran its 5 batches


def test_case_13_a_dataset_shrunk_to_exactly_the_saved_batch_still_warns(make_trainer, boring_model, random_loader, tmp_root):
    path = tmp_root / "mid.ckpt"
    _mid_epoch_checkpoint(make_trainer, boring_model(), random_loader(n=16), path, at_batch=5)  # 8 batches
    trainer = make_trainer(max_epochs=1, limit_val_batches=0)
    with pytest.warns(UserWarning, match="resumed at batch 5 of epoch 0 .* now has 5 batches: the rest of epoch 0"):
        trainer.fit(boring_model(), train_dataloaders=random_loader(n=10), ckpt_path=path)


def test_case_13_an_iterable_that_runs_out_before_the_saved_batch_warns(make_trainer, boring_model, random_loader, tmp_root):
    class Stream(torch.utils.data.IterableDataset):
        def __init__(self, n: int) -> None:
            self.data = list(random_loader(n=n))

        def __iter__(self):
            return iter(self.data)

    path = tmp_root / "mid.ckpt"
    _mid_epoch_checkpoint(make_trainer, boring_model(), torch.utils.data.DataLoader(Stream(16), batch_size=None), path, 6)
    trainer = make_trainer(max_epochs=1, limit_val_batches=0)
    with pytest.warns(UserWarning, match="resumed at batch 6 of epoch 0 but the train dataloader ran out after 3 batches"):
        trainer.fit(boring_model(), train_dataloaders=torch.utils.data.DataLoader(Stream(6), batch_size=None), ckpt_path=path)


def test_case_13_resuming_on_the_same_dataset_does_not_warn(make_trainer, boring_model, random_loader, tmp_root):
    path = tmp_root / "mid.ckpt"
    _mid_epoch_checkpoint(make_trainer, boring_model(), random_loader(n=16), path, at_batch=8)  # after the last batch
    trainer = make_trainer(max_epochs=2, limit_val_batches=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        trainer.fit(boring_model(), train_dataloaders=random_loader(n=16), ckpt_path=path)
    assert trainer.global_step == 16  # epoch 0 was complete: nothing skipped, epoch 1 ran its 8 batches
