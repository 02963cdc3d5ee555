"""Errors name the flag, the expected type, and the config file and line the value came from."""

from __future__ import annotations

import pytest

from lit_cli_models import RegressionData, Regressor
from lit_core.cli import LightningCLI


def error_of(capsys, args, **kwargs) -> str:
    with pytest.raises(SystemExit) as exit_info:
        LightningCLI(Regressor, RegressionData, args=args, **kwargs)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_wrong_type_in_the_second_config_names_flag_type_file_and_line(capsys, tmp_path):
    first, second = tmp_path / "base.yaml", tmp_path / "override.yaml"
    first.write_text("trainer:\n  max_epochs: 3\n")
    second.write_text("model:\n  hidden: 4\ntrainer:\n  logger: false\n  max_epochs: three\n")
    err = error_of(capsys, ["fit", "--config", str(first), "--config", str(second)])
    assert f"--trainer.max_epochs expects int | None; got 'three' (from {second}, line 5)." in err


def test_wrong_type_on_the_command_line_says_so(capsys, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("model:\n  lr: 0.1\n")
    err = error_of(capsys, ["fit", "--config", str(config), "--model.lr=fast"])
    assert "--model.lr expects float; got 'fast' (from the command line)." in err


def test_unknown_key_in_a_config_names_file_line_and_close_options(capsys, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("trainer:\n  max_epochs: 1\n  max_epoch: 2\n")
    err = error_of(capsys, ["fit", "--config", str(config)])
    assert f"--trainer.max_epoch is not an option here (from {config}, line 3). Did you mean --trainer.max_epochs" in err


def test_unknown_flag_on_the_command_line(capsys):
    err = error_of(capsys, ["fit", "--trainer.lmit_train_batches=2"])
    assert "--trainer.lmit_train_batches is not an option here (from the command line). Did you mean " \
           "--trainer.limit_train_batches" in err


def test_unknown_plugin_name_is_lits_error_naming_what_is_installed(quiet):
    from lit_core.plugin_api import PluginError

    with pytest.raises(PluginError, match="nosuchlogger"):
        LightningCLI(Regressor, RegressionData, run=False, args=quiet("--trainer.logger=nosuchlogger"))


def test_unknown_subcommand(capsys):
    err = error_of(capsys, ["train"])
    assert "train" in err and "fit" in err


def test_wrong_type_in_a_root_level_config_finds_the_line_under_the_subcommand(capsys, tmp_path):
    config = tmp_path / "all.yaml"
    config.write_text("fit:\n  trainer:\n    max_epochs: many\n")
    err = error_of(capsys, ["--config", str(config), "fit"])
    assert f"--trainer.max_epochs expects int | None; got 'many' (from {config}, line 3)." in err
