"""MLFlowLogger against a real ``mlflow server`` (started once per session), and against a port nothing listens on."""

from __future__ import annotations

import os
import time

import pytest
from mlflow import MlflowClient

from lit_checkpoint import ModelCheckpoint
from lit_mlflow import MLFlowLogger


def test_run_on_a_server(make_trainer, logging_model, mlflow_server, tmp_root):
    checkpoint = ModelCheckpoint(dirpath=tmp_root / "ckpts", save_last=True)
    logger = MLFlowLogger(tracking_uri=mlflow_server, experiment_name="served", run_name="remote", tags={"where": "server"},
                          log_model=True)
    make_trainer(logger=[logger, "csv"], callbacks=[checkpoint], enable_checkpointing=True, log_every_n_steps=2).fit(
        logging_model(lr=0.1, net={"width": 8}))
    client = MlflowClient(mlflow_server)
    run = client.get_run(logger.run_id)
    assert [m.step for m in client.get_metric_history(logger.run_id, "train_loss")] == [1, 3]
    assert [m.step for m in client.get_metric_history(logger.run_id, "val_loss")] == [3]
    assert run.data.params == {"lr": "0.1", "net/width": "8"}
    assert run.data.tags["where"] == "server" and run.info.run_name == "remote" and run.info.status == "FINISHED"
    assert {os.path.basename(a.path) for a in client.list_artifacts(logger.run_id, "checkpoints")} == {"epoch=0-step=4.ckpt", "last.ckpt"}
    assert not (tmp_root / "mlruns").exists(), "nothing went to a local store"


def test_failed_run_on_a_server(make_trainer, logging_model, mlflow_server):
    logger = MLFlowLogger(tracking_uri=mlflow_server)
    with pytest.raises(RuntimeError, match="boom"):
        make_trainer(logger=logger).fit(logging_model(fail_with=RuntimeError("boom")))
    assert MlflowClient(mlflow_server).get_run(logger.run_id).info.status == "FAILED"


def test_unreachable_server_fails_before_training(make_trainer, logging_model, closed_port):
    steps = []

    class Counting(logging_model):
        def training_step(self, batch, batch_idx):
            steps.append(batch_idx)
            return super().training_step(batch, batch_idx)

    url = f"http://127.0.0.1:{closed_port}"
    started = time.monotonic()
    with pytest.raises(ConnectionError, match=f"(?s)tracking_uri='{url}'.*No training step has run yet") as info:
        make_trainer(logger=MLFlowLogger(tracking_uri=url)).fit(Counting())
    assert time.monotonic() - started < 5, "no retries with backoff on the first contact"
    assert steps == []
    assert "mlflow server" in str(info.value)
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ, "the bound applies to the first contact only"
