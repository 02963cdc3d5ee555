"""LightningCLI parses flags and configs into a real run: subcommands, merged configs, --print_config, --help."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from lit_cli_models import RegressionData, Regressor
from lit_core.cli import LightningCLI


def test_fit_builds_the_classes_from_flags_and_trains(quiet):
    cli = LightningCLI(Regressor, RegressionData, args=["fit", *quiet("--model.hidden=5", "--data.batch_size=2")])
    assert isinstance(cli.model, Regressor) and cli.model.net[0].out_features == 5
    assert cli.datamodule.batch_size == 2
    assert cli.trainer.max_epochs == 1 and cli.trainer.global_step == 2
    assert cli.subcommand == "fit"


@pytest.mark.parametrize("subcommand,metric", [("validate", "val_loss"), ("test", "test_loss"), ("predict", None)])
def test_each_subcommand_runs_its_trainer_method(quiet, subcommand, metric):
    calls = []

    class RecordingCLI(LightningCLI):
        def before_instantiate_classes(self):
            calls.append("before_instantiate_classes")

        def after_instantiate_classes(self):
            calls.append("after_instantiate_classes")

    for name in ("fit", "validate", "test", "predict"):
        setattr(RecordingCLI, f"before_{name}", lambda self, n=name: calls.append(f"before_{n}"))
        setattr(RecordingCLI, f"after_{name}", lambda self, n=name: calls.append(f"after_{n}"))
    cli = RecordingCLI(Regressor, RegressionData, args=[subcommand, *quiet()])
    assert calls == ["before_instantiate_classes", "after_instantiate_classes", f"before_{subcommand}", f"after_{subcommand}"]
    assert cli.trainer.state.fn == subcommand
    if metric:
        assert metric in cli.trainer.callback_metrics
    else:
        assert len(cli.model.predicted) == 1 and cli.model.predicted[0].shape == (4, 1)


def test_two_configs_merge_in_order_and_the_command_line_wins(tmp_path, quiet):
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text("model:\n  hidden: 3\n  lr: 0.5\ndata:\n  batch_size: 8\n")
    second.write_text("model:\n  hidden: 6\n")
    cli = LightningCLI(Regressor, RegressionData, run=False,
                       args=["--config", str(first), "--config", str(second), "--data.batch_size=2"])
    assert (cli.model.hparams.hidden, cli.model.hparams.lr, cli.datamodule.batch_size) == (6, 0.5, 2)
    assert cli.subcommand is None and cli.trainer is not None


def test_print_config_round_trip_gives_the_same_run(tmp_path, quiet, capsys):
    args = ["fit", *quiet("--model.hidden=7", "--seed_everything=3", "--optimizer=Adam", "--optimizer.lr=0.02")]
    with pytest.raises(SystemExit) as exit_info:
        LightningCLI(Regressor, RegressionData, args=[*args, "--print_config"])
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    config = tmp_path / "printed.yaml"
    config.write_text(printed)
    assert yaml.safe_load(printed)["model"]["hidden"] == 7

    direct = LightningCLI(Regressor, RegressionData, args=args)
    replayed = LightningCLI(Regressor, RegressionData, save_config_kwargs={"overwrite": True},  # the same log dir
                            args=["fit", "--config", str(config)])
    dumped = [yaml.safe_load(c.parser.dump(c.config))["fit"] for c in (direct, replayed)]
    assert [{k: v for k, v in d.items() if k != "config"} for d in dumped] == [dumped[0]] * 2
    for a, b in zip(direct.model.parameters(), replayed.model.parameters()):
        assert torch.equal(a, b)  # same seed, same optimizer, same data: the same weights after training


def test_run_false_only_instantiates(quiet):
    cli = LightningCLI(Regressor, RegressionData, run=False, args=quiet())
    assert cli.trainer.global_step == 0 and not hasattr(cli.trainer, "fit_loop_done")
    assert cli.config.seed_everything == 0  # True: seed_everything() picked one, and the config records it


def test_trainer_defaults_and_seed(quiet):
    from lit_core.plugin_api import Callback

    class Marker(Callback):
        pass

    marker = Marker()
    cli = LightningCLI(Regressor, RegressionData, run=False, seed_everything_default=11,
                       trainer_defaults={"max_epochs": 4, "callbacks": [marker]},
                       args=[f"--trainer.default_root_dir={Path.cwd()}", "--trainer.logger=false"])
    assert cli.trainer.max_epochs == 4 and marker in cli.trainer.callbacks
    assert cli.config.seed_everything == 11


def test_help_lists_trainer_flags_and_model_arguments(capsys):
    with pytest.raises(SystemExit):
        LightningCLI(Regressor, RegressionData, args=["fit", "--help"])
    text = capsys.readouterr().out
    for flag in ("--trainer.max_epochs", "--trainer.precision", "--trainer.callbacks", "--trainer.logger",
                 "--model.hidden", "--data.batch_size", "--optimizer", "--lr_scheduler", "--ckpt_path", "--print_config"):
        assert flag in text, f"{flag} not in fit --help"
    assert "hidden width. (type: int, default: 8)" in text  # the model's hidden: its docstring, type hint and default
    # The Trainer's flags are described from its docstring too (with Lightning's meanings).
    flat = " ".join(text.split())
    assert "--trainer.accumulate_grad_batches ACCUMULATE_GRAD_BATCHES step the optimizer every N batches" in flat


def test_importing_lit_core_does_not_import_jsonargparse():
    script = ("import sys, lit_core, lit_core.cli, lit_core.commands; "
              "print('jsonargparse' in sys.modules, 'lit_cli' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


def test_a_root_level_config_with_a_section_per_subcommand(tmp_path, quiet):
    config = tmp_path / "all.yaml"
    config.write_text("fit:\n  model:\n    hidden: 5\nvalidate:\n  model:\n    hidden: 6\n")
    cli = LightningCLI(Regressor, RegressionData, args=["--config", str(config), "fit", *quiet()])
    assert cli.subcommand == "fit" and cli.model.hparams.hidden == 5 and cli.trainer.global_step == 2


@pytest.mark.parametrize("subclass_mode", [False, True])
def test_ckpt_path_gives_the_model_its_trained_arguments(quiet, tmp_path, subclass_mode):
    model = ["--model=lit_cli_models.Regressor"] if subclass_mode else []
    trained = LightningCLI(Regressor, RegressionData, subclass_mode_model=subclass_mode, save_config_callback=None,
                           args=["fit", *quiet(*model, "--model.hidden=5")])
    ckpt = tmp_path / "trained.ckpt"
    trained.trainer.save_checkpoint(ckpt)
    evaluated = LightningCLI(Regressor, RegressionData, subclass_mode_model=subclass_mode, save_config_callback=None,
                             args=["validate", *quiet(*model), f"--ckpt_path={ckpt}"])
    assert evaluated.model.hparams.hidden == 5 and "val_loss" in evaluated.trainer.callback_metrics

    class Adapted(LightningCLI):
        def adapt_checkpoint_hparams(self, subcommand, checkpoint_hparams):
            assert subcommand == "test"
            return {k: v for k, v in checkpoint_hparams.items() if k != "hidden"}

    adapted = Adapted(Regressor, RegressionData, subclass_mode_model=subclass_mode, save_config_callback=None,
                      args=["test", *quiet(*model, "--model.hidden=5"), f"--ckpt_path={ckpt}"])
    assert adapted.model.hparams.hidden == 5  # from the command line: the checkpoint's was dropped


def test_parser_class_and_env_variables(quiet, monkeypatch):
    from lit_core.cli import LightningArgumentParser

    class Parser(LightningArgumentParser):
        built = 0

        def __init__(self, *args, **kwargs):
            type(self).built += 1
            super().__init__(*args, **kwargs)

    monkeypatch.setenv("PL_FIT__MODEL__HIDDEN", "12")
    cli = LightningCLI(Regressor, RegressionData, parser_class=Parser, parser_kwargs={"default_env": True},
                       args=["fit", *quiet()])
    assert Parser.built >= 2 and cli.model.hparams.hidden == 12
