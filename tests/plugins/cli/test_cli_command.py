"""``lit fit --config x.yaml``: the lit console script runs LightningCLI on the config's model.class_path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lit_core import commands, lightning_names, namespace


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({
        "model": {"class_path": "lit_cli_models.Regressor", "init_args": {"hidden": 3}},
        "data": {"class_path": "lit_cli_models.RegressionData", "init_args": {"batch_size": 2}},
        "trainer": {"max_epochs": 1, "limit_train_batches": 2, "limit_val_batches": 1, "limit_test_batches": 1,
                    "limit_predict_batches": 1, "logger": "csv", "enable_progress_bar": False,
                    "enable_model_summary": False, "default_root_dir": str(tmp_path), "accelerator": "cpu"},
    }))
    return path


def test_lit_fit_runs_the_configs_model_without_a_script(config, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    lit = Path(sys.executable).parent / "lit"
    command = [str(lit)] if lit.exists() else [sys.executable, "-m", "lit_core.commands"]
    done = subprocess.run([*command, "fit", "--config", str(config)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    run = tmp_path / "lightning_logs" / "version_0"
    assert yaml.safe_load((run / "config.yaml").read_text())["model"]["init_args"]["hidden"] == 3
    assert (run / "metrics.csv").read_text().count("\n") >= 2  # a header and logged rows


@pytest.mark.parametrize("subcommand", ["validate", "test", "predict"])
def test_lit_other_subcommands(config, subcommand, capsys):
    assert commands.main([subcommand, "--config", str(config)]) == 0


def test_lit_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit):
        commands.main(["--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in ("fit", "validate", "test", "predict", "plugins"))


def test_lit_fit_without_lit_cli_names_the_distribution(monkeypatch, capsys):
    everything = namespace.entry_points
    monkeypatch.setattr(namespace, "entry_points", lambda group: [] if group == "lit_core.cli" else everything(group))
    installed = lightning_names._installed
    monkeypatch.setattr(lightning_names, "_installed", lambda dist: dist != "lit-cli" and installed(dist))
    namespace.refresh()
    try:
        assert commands.main(["fit", "--config", "x.yaml"]) == 2
    finally:
        monkeypatch.undo()
        namespace.refresh()
    assert "pip install lit-cli" in capsys.readouterr().err
