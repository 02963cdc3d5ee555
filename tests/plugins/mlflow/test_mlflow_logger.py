"""MLFlowLogger against local stores (MLflow's folder store and sqlite): what a run records and how it ends."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import textwrap

import pytest
from mlflow import MlflowClient

import lit_core as lit
from lit_checkpoint import ModelCheckpoint
from lit_core.exceptions import MisconfigurationException
from lit_mlflow import MLFlowLogger


def history(logger: MLFlowLogger, key: str) -> list[tuple[int, float]]:
    return [(m.step, m.value) for m in MlflowClient(logger.tracking_uri).get_metric_history(logger.run_id, key)]


def run_of(logger: MLFlowLogger):
    return MlflowClient(logger.tracking_uri).get_run(logger.run_id)


def test_metrics_params_tags_and_name(make_trainer, logging_model, local_store):
    logger = MLFlowLogger(tracking_uri=local_store, experiment_name="exp", run_name="first", tags={"team": "lit"}, prefix="p")
    trainer = make_trainer(logger=logger, max_epochs=2, log_every_n_steps=3)
    trainer.fit(logging_model(lr=0.1, optimizer={"name": "sgd", "momentum": 0.9}, long="x" * 7000))
    run = run_of(logger)
    # 4 batches an epoch: flushed at steps 2 (the 3rd batch) and 5, and every epoch-end value at steps 3 and 7.
    assert [step for step, _ in history(logger, "p-train_loss")] == [2, 5]
    assert [step for step, _ in history(logger, "p-val_loss")] == [3, 7]
    assert [(s, v) for s, v in history(logger, "p-epoch")] == [(2, 0), (3, 0), (5, 1), (7, 1)]
    assert run.data.params == {"lr": "0.1", "optimizer/name": "sgd", "optimizer/momentum": "0.9"}, "flattened, strings; the 7000-char value is left out"
    assert run.data.tags["team"] == "lit" and run.info.run_name == "first"
    assert MlflowClient(logger.tracking_uri).get_experiment(logger.experiment_id).name == "exp"
    assert run.info.status == "FINISHED"
    assert trainer.log_dir == str(trainer.default_root_dir)


def test_hyperparams_are_batched_by_100(tmp_root, file_store):
    logger = MLFlowLogger(tracking_uri=file_store)
    with pytest.warns(RuntimeWarning, match="'long'"):
        logger.log_hyperparams({**{f"p{i}": i for i in range(250)}, "long": "x" * 7000})
    assert len(run_of(logger).data.params) == 250


def test_resume_by_run_id(make_trainer, logging_model, tmp_root):
    first = MLFlowLogger(save_dir=tmp_root)
    make_trainer(logger=first).fit(logging_model())
    again = MLFlowLogger(save_dir=tmp_root, run_id=first.run_id)
    make_trainer(logger=again, max_epochs=2).fit(logging_model(), ckpt_path=None)
    assert again.run_id == first.run_id and again.experiment_id == first.experiment_id
    assert [s for s, _ in history(again, "val_loss")] == [3, 3, 7], "the second fit logged into the same run"
    assert run_of(again).info.status == "FINISHED"


def test_by_name_with_csv(make_trainer, logging_model, tmp_root):
    trainer = make_trainer(logger=["mlflow", "csv"], log_every_n_steps=1)
    trainer.fit(logging_model())
    mlflow_logger, csv_logger = trainer.loggers
    assert isinstance(mlflow_logger, MLFlowLogger)
    assert mlflow_logger.tracking_uri == f"file:{tmp_root / 'mlruns'}", "the folder store under default_root_dir"
    with open(csv_logger.metrics_file_path) as f:
        rows = [row for row in csv.DictReader(f) if row["train_loss"]]
    assert [(int(r["step"]), pytest.approx(float(r["train_loss"]))) for r in rows] == history(mlflow_logger, "train_loss")
    assert os.environ["MLFLOW_ALLOW_FILE_STORE"] == "true", "the logger opts in to MLflow 3's folder store"


@pytest.mark.parametrize(("error", "status"), [(RuntimeError("boom"), "FAILED"), (KeyboardInterrupt(), "FAILED")])
def test_status_after_an_exception(make_trainer, logging_model, file_store, error, status):
    logger = MLFlowLogger(tracking_uri=file_store)
    with pytest.raises(SystemExit if isinstance(error, KeyboardInterrupt) else type(error)):  # Ctrl+C: status 1
        make_trainer(logger=logger, log_every_n_steps=1).fit(logging_model(fail_with=error))
    assert run_of(logger).info.status == status
    assert [s for s, _ in history(logger, "train_loss")] == [0], "what was logged before the error is kept"


def test_rank_zero_only(make_trainer, logging_model, tmp_root, monkeypatch):
    monkeypatch.setattr(lit.rank_zero_only, "rank", 0)  # the Trainer copies global_rank into it

    class RankOne:
        @lit.hookimpl
        def lit_setup_environment(self, trainer):
            trainer.global_rank = 1

    logger = MLFlowLogger(save_dir=tmp_root)
    make_trainer(logger=logger, plugins=[RankOne()], log_every_n_steps=1).fit(logging_model(lr=0.1))
    assert logger._client is None, "no run was opened on rank 1"
    assert not (tmp_root / "mlruns").exists()


def test_log_model(make_trainer, logging_model, file_store, tmp_root):
    checkpoint = ModelCheckpoint(dirpath=tmp_root / "ckpts", save_last=True)
    logger = MLFlowLogger(tracking_uri=file_store, log_model=True)
    make_trainer(logger=logger, callbacks=[checkpoint], enable_checkpointing=True, max_epochs=2).fit(logging_model())
    listed = MlflowClient(logger.tracking_uri).list_artifacts(logger.run_id, "checkpoints")
    assert sorted(os.path.basename(a.path) for a in listed) == sorted(os.listdir(tmp_root / "ckpts"))
    assert {os.path.basename(a.path) for a in listed} == {"epoch=1-step=8.ckpt", "last.ckpt"}


def test_log_model_all_uploads_as_they_are_written(make_trainer, logging_model, tmp_root):
    checkpoint = ModelCheckpoint(dirpath=tmp_root / "ckpts")  # keeps the latest only
    logger = MLFlowLogger(save_dir=tmp_root, log_model="all")
    make_trainer(logger=logger, callbacks=[checkpoint], enable_checkpointing=True, max_epochs=2).fit(logging_model())
    listed = MlflowClient(logger.tracking_uri).list_artifacts(logger.run_id, "checkpoints")
    assert sorted(os.path.basename(a.path) for a in listed) == ["epoch=0-step=4.ckpt", "epoch=1-step=8.ckpt"]
    assert os.listdir(tmp_root / "ckpts") == ["epoch=1-step=8.ckpt"], "epoch 0's was uploaded before it was replaced"


def test_bad_log_model():
    with pytest.raises(MisconfigurationException, match="log_model='best'"):
        MLFlowLogger(log_model="best")


def test_client_missing(make_trainer, tmp_root, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(MisconfigurationException, match=r"pip install lit-mlflow.*mlflow-skinny"):
        make_trainer(logger="mlflow")
    with pytest.raises(ImportError, match="pip install lit-mlflow"):
        MLFlowLogger().experiment


def test_mlflow_is_imported_only_when_used(tmp_path):
    code = textwrap.dedent(f"""
        import sys
        import lit_core as lit
        import lit_mlflow
        lit.Trainer(logger="csv", default_root_dir={str(tmp_path)!r})
        lit_mlflow.MLFlowLogger(save_dir={str(tmp_path)!r})
        assert not [m for m in sys.modules if m == "mlflow" or m.startswith("mlflow.")], "mlflow was imported"
    """)
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize("installed", [True, False])
def test_log_model_without_a_checkpointing_callback_warns_at_fit_start(make_trainer, logging_model, tmp_root, lit_plugins, installed):
    if not installed:  # as where lit-mlflow is installed without lit-checkpoint
        lit_plugins.hide("lit-checkpoint")
    fix = (r"turn checkpointing on \(Trainer\(enable_checkpointing=True\)" if installed
           else r"install a checkpointing plugin \(`pip install lit-checkpoint`\)")
    logger = MLFlowLogger(save_dir=tmp_root, log_model="all")
    with pytest.warns(UserWarning, match=r"MLFlowLogger\(log_model='all'\) uploads .* has none, so no checkpoint will be uploaded: " + fix):
        make_trainer(logger=logger, enable_checkpointing=False).fit(logging_model())
    assert MlflowClient(logger.tracking_uri).list_artifacts(logger.run_id, "checkpoints") == []


def test_log_model_with_a_checkpointing_callback_does_not_warn(make_trainer, logging_model, tmp_root, recwarn):
    logger = MLFlowLogger(save_dir=tmp_root, log_model=True)
    make_trainer(logger=logger, callbacks=[ModelCheckpoint(dirpath=tmp_root / "ckpts")], enable_checkpointing=True).fit(logging_model())
    assert not [w for w in recwarn if "log_model" in str(w.message)]
    assert len(MlflowClient(logger.tracking_uri).list_artifacts(logger.run_id, "checkpoints")) == 1
