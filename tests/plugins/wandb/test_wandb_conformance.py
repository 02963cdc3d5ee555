"""WandbLogger passes lit_core.testing's logger suite, offline, read back from the run file it writes."""

from __future__ import annotations

from wandb_reader import read_run

from lit_core.testing import LoggedRun, LoggerConformance
from lit_wandb import WandbLogger


class TestWandbLogger(LoggerConformance):
    plugin = WandbLogger
    name = "wandb"
    keep_installed = ("lit-wandb",)
    backend_modules = ("wandb",)

    def backend_status(self, status):
        return 0 if status == "success" else 1  # wandb's exit codes: "interrupted" is not told from "failed"

    def make(self, save_dir):
        return WandbLogger(save_dir=save_dir, offline=True)

    def read_back(self, logger, save_dir):
        if not save_dir.exists() or not any(save_dir.rglob("run-*.wandb")):
            return None
        run = read_run(str(save_dir))
        metrics: dict[str, list[tuple[int, float]]] = {}
        for row in run.history:
            for key, value in row.items():
                if not key.startswith("_") and key != "trainer/global_step":
                    metrics.setdefault(key, []).append((row["trainer/global_step"], value))
        return LoggedRun(metrics=metrics, hyperparams=run.config, status=run.exit_code)
