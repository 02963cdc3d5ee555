"""Fixtures for lit-mlflow's tests: a real ``mlflow server`` (started once per session), stores,
and a model that logs a training metric at every step.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

import lit_core as lit


def free_port() -> int:
    """A TCP port that nothing listens on at the moment of the call."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on."""
    return free_port()


@pytest.fixture(autouse=True)
def _mlflow_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No tracking URI or file-store opt-in from the environment; whatever a test sets is undone."""
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_ALLOW_FILE_STORE", "MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of an ``mlflow server`` (sqlite backend, proxied artifacts, one worker) in a scratch folder.

    The lean settings (no job execution, no telemetry, one worker) start in seconds with about
    500 MB; the process group is terminated after the session, so no worker outlives the tests.
    """
    if shutil.which("mlflow", path=os.path.dirname(sys.executable)) is None:
        pytest.skip("the mlflow server is not installed: pip install -e 'plugins/mlflow[test]'")
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true"}
    command = [os.path.join(os.path.dirname(sys.executable), "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
               "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}", "--artifacts-destination", str(root / "artifacts"),
               "--workers", "1"]
    with open(root / "server.log", "wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                pytest.fail(f"mlflow server exited with {server.returncode}:\n{(root / 'server.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server did not answer /health in 90 s:\n{(root / 'server.log').read_text()[-3000:]}")
            time.sleep(0.25)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.fixture(params=["file", "sqlite"])
def local_store(request: pytest.FixtureRequest, tmp_root: Path) -> str:
    """A local tracking URI: MLflow's folder store or a sqlite database, under the test's folder.

    A new sqlite store runs MLflow's schema migrations (seconds): tests use ``file_store`` unless
    the backend matters.
    """
    return f"file:{tmp_root / 'mlruns'}" if request.param == "file" else f"sqlite:///{tmp_root / 'mlflow.db'}"


@pytest.fixture
def file_store(tmp_root: Path) -> str:
    """MLflow's folder store under the test's folder."""
    return f"file:{tmp_root / 'mlruns'}"


@pytest.fixture
def logging_model(boring_model: type[lit.LightningModule]) -> Callable[..., lit.LightningModule]:
    """``logging_model(fail_at=None, **hparams)``: logs ``train_loss`` every step; raises ``fail_at`` (an exception) at step 1."""

    class Logging(boring_model):
        def __init__(self, fail_with: BaseException | None = None, **hparams: Any) -> None:
            super().__init__()
            self.fail_with = fail_with
            self.save_hyperparameters(hparams)

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            if self.fail_with is not None and self.global_step == 1:
                raise self.fail_with
            loss = self.loss(batch)
            self.log("train_loss", loss)
            return loss

    return Logging
