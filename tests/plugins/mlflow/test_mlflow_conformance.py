"""MLFlowLogger passes lit_core.testing's logger suite against MLflow's folder store, read back with MlflowClient."""

from __future__ import annotations

from mlflow import MlflowClient

from lit_core.testing import LoggedRun, LoggerConformance
from lit_mlflow import MLFlowLogger


class TestMLFlowLogger(LoggerConformance):
    plugin = MLFlowLogger
    name = "mlflow"
    keep_installed = ("lit-mlflow",)
    backend_modules = ("mlflow",)

    def backend_status(self, status):
        return {"success": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}[status]

    def make(self, save_dir):
        return MLFlowLogger(save_dir=save_dir, tracking_uri=f"file:{save_dir / 'mlruns'}")

    def read_back(self, logger, save_dir):
        if not (save_dir / "mlruns").exists():
            return None
        client = MlflowClient(f"file:{save_dir / 'mlruns'}")
        runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
        if not runs:
            return None
        (run,) = runs
        metrics = {key: [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, key)] for key in run.data.metrics}
        return LoggedRun(metrics=metrics, hyperparams=run.data.params, status=run.info.status)
