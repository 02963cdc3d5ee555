"""examples/cli.py with examples/configs/*.yaml: a short real fit, and the same config through ``lit fit``."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
SHORT = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=3", "--trainer.limit_val_batches=2",
         "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]


def load_example():
    spec = importlib.util.spec_from_file_location("examples_cli", EXAMPLES / "cli.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_example_fits_with_both_configs_merged(tmp_path):
    example = load_example()
    with pytest.warns(UserWarning, match="configure_optimizers` will be overridden"):  # cli_adam.yaml's optimizer
        cli = example.main(["fit", "--config", str(EXAMPLES / "configs" / "cli.yaml"),
                            "--config", str(EXAMPLES / "configs" / "cli_adam.yaml"), "--data.classes=4",
                            f"--trainer.default_root_dir={tmp_path}", *SHORT])
    assert cli.model.net[-1].out_features == 4  # linked from data.classes
    assert type(cli.trainer.optimizers[0]).__name__ == "Adam" and cli.trainer.global_step == 3
    assert {type(cb).__name__ for cb in cli.trainer.callbacks} >= {"EarlyStopping", "LearningRateMonitor"}
    saved = yaml.safe_load((tmp_path / "lightning_logs" / "version_0" / "config.yaml").read_text())
    assert saved["seed_everything"] == 42 and saved["optimizer"]["class_path"] == "torch.optim.Adam"


def test_the_config_runs_through_lit_fit_with_a_class_path(tmp_path):
    config = yaml.safe_load((EXAMPLES / "configs" / "cli.yaml").read_text())
    config["model"] = {"class_path": "cli.Classifier", "init_args": {**config["model"], "classes": 3}}
    config["data"] = {"class_path": "cli.ClusterData", "init_args": config["data"]}
    path = tmp_path / "lit.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "PYTHONPATH": str(EXAMPLES)}
    done = subprocess.run([sys.executable, "-m", "lit_core.commands", "fit", "--config", str(path),
                           f"--trainer.default_root_dir={tmp_path}", *SHORT], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "lightning_logs" / "version_0" / "metrics.csv").is_file()
