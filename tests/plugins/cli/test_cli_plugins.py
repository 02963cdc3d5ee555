"""Plugins by name and by class path, optimizer and scheduler groups, link_arguments, subclass mode."""

from __future__ import annotations

import pytest
import torch

from lit_cli_models import RegressionData, Regressor, WideRegressor
from lit_core.cli import LightningCLI, ReduceLROnPlateau
from lit_core.loggers import CSVLogger


def test_logger_callbacks_precision_and_plugins_by_name(quiet, tmp_path):
    from lit_callbacks import EarlyStopping, LearningRateMonitor

    cli = LightningCLI(Regressor, RegressionData, run=False, args=quiet(
        "--trainer.logger=csv", "--trainer.precision=64-true",
        "--trainer.callbacks+=EarlyStopping", "--trainer.callbacks.monitor=val_loss", "--trainer.callbacks.patience=7",
        "--trainer.callbacks+=lr_monitor"))
    assert isinstance(cli.trainer.logger, CSVLogger)
    assert cli.trainer.precision == "64-true"
    early = [cb for cb in cli.trainer.callbacks if isinstance(cb, EarlyStopping)]
    assert len(early) == 1 and (early[0].monitor, early[0].patience) == ("val_loss", 7)
    assert any(isinstance(cb, LearningRateMonitor) for cb in cli.trainer.callbacks)


def test_plugins_flag_takes_names(quiet):
    cli = LightningCLI(Regressor, RegressionData, run=False, args=quiet("--trainer.plugins=[csv, 64-true]"))
    assert isinstance(cli.trainer.logger, CSVLogger) and cli.trainer.precision == "64-true"


def test_bf16_mixed_by_name_when_lit_amp_is_installed(quiet):
    pytest.importorskip("lit_amp")
    cli = LightningCLI(Regressor, RegressionData, run=False, args=quiet("--trainer.precision=bf16-mixed"))
    assert cli.trainer.precision == "bf16-mixed"


def test_logger_by_class_name_and_by_class_path_with_init_args(quiet, tmp_path):
    for value in ("CSVLogger", "lit_core.builtins.csv_logger.CSVLogger"):
        cli = LightningCLI(Regressor, RegressionData, run=False,
                           args=quiet(f"--trainer.logger={value}", f"--trainer.logger.save_dir={tmp_path / 'logs'}",
                                      "--trainer.logger.name=exp"))
        assert isinstance(cli.trainer.logger, CSVLogger) and cli.trainer.logger.name == "exp"
        assert cli.trainer.logger.save_dir == str(tmp_path / "logs")


def test_callbacks_from_a_config_with_class_path_and_init_args(quiet, tmp_path):
    from lit_callbacks import EarlyStopping

    config = tmp_path / "callbacks.yaml"
    config.write_text("trainer:\n  callbacks:\n    - class_path: lit_callbacks.EarlyStopping\n"
                      "      init_args:\n        monitor: train_loss\n        mode: max\n    - timer\n")
    cli = LightningCLI(Regressor, RegressionData, args=["fit", *quiet(), "--config", str(config)])
    (early,) = [cb for cb in cli.trainer.callbacks if isinstance(cb, EarlyStopping)]
    assert early.mode == "max" and cli.trainer.global_step == 2
    assert any(type(cb).__name__ == "Timer" for cb in cli.trainer.callbacks)


def test_optimizer_and_lr_scheduler_groups_configure_the_model(quiet):
    with pytest.warns(UserWarning, match="Regressor.configure_optimizers` will be overridden"):
        cli = LightningCLI(Regressor, RegressionData, args=["fit", *quiet(
            "--optimizer=Adam", "--optimizer.lr=0.01", "--lr_scheduler=StepLR", "--lr_scheduler.step_size=1",
            "--lr_scheduler.gamma=0.5")])
    (optimizer,) = cli.trainer.optimizers
    assert isinstance(optimizer, torch.optim.Adam)
    (config,) = cli.trainer.lr_scheduler_configs
    assert isinstance(config.scheduler, torch.optim.lr_scheduler.StepLR)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.005)  # one epoch: one step of gamma 0.5


def test_reduce_lr_on_plateau_monitors_its_metric(quiet):
    cli = LightningCLI(Regressor, RegressionData, args=["fit", *quiet(
        "--optimizer=SGD", "--optimizer.lr=0.1", "--lr_scheduler=ReduceLROnPlateau", "--lr_scheduler.monitor=train_loss")])
    (config,) = cli.trainer.lr_scheduler_configs
    assert isinstance(config.scheduler, ReduceLROnPlateau) and config.monitor == "train_loss"


def test_without_optimizer_flag_the_models_own_configure_optimizers_stands(quiet):
    cli = LightningCLI(Regressor, RegressionData, args=["fit", *quiet("--model.lr=0.3")])
    assert isinstance(cli.trainer.optimizers[0], torch.optim.SGD) and cli.trainer.optimizers[0].defaults["lr"] == 0.3


def test_auto_configure_optimizers_false_has_no_optimizer_flag(quiet, capsys):
    with pytest.raises(SystemExit):
        LightningCLI(Regressor, RegressionData, auto_configure_optimizers=False, args=["fit", *quiet("--optimizer=Adam")])
    assert "--optimizer" in capsys.readouterr().err


def test_link_arguments_in_add_arguments_to_parser(quiet):
    class LinkedCLI(LightningCLI):
        def add_arguments_to_parser(self, parser):
            parser.link_arguments("data.features", "model.features")

    cli = LinkedCLI(Regressor, RegressionData, args=["fit", *quiet("--data.features=6")])
    assert cli.model.net[0].in_features == 6 and cli.trainer.global_step == 2


def test_subclass_mode_model_takes_a_class_by_name_with_its_arguments(quiet):
    cli = LightningCLI(Regressor, RegressionData, subclass_mode_model=True,
                       args=["fit", *quiet("--model=lit_cli_models.WideRegressor", "--model.dropout=0.25")])
    assert type(cli.model) is WideRegressor and cli.model.dropout == 0.25 and cli.model.net[0].out_features == 32


def test_no_model_class_takes_model_and_data_class_paths(quiet):
    cli = LightningCLI(args=["fit", *quiet("--model=lit_cli_models.Regressor", "--model.hidden=3",
                                           "--data=lit_cli_models.RegressionData")])
    assert type(cli.model) is Regressor and cli.model.net[0].out_features == 3
    assert type(cli.datamodule) is RegressionData and cli.trainer.global_step == 2


def test_a_broken_callback_distribution_does_not_stop_the_cli(quiet, monkeypatch):
    from importlib import metadata

    from lit_core import namespace

    broken = metadata.EntryPoint(name="BrokenCallback", value="no_such_module_for_lit_cli:Broken", group="lit_core.callbacks")
    everything = namespace.entry_points
    monkeypatch.setattr(namespace, "entry_points",
                        lambda group: [*everything(group), broken] if group == "lit_core.callbacks" else everything(group))
    namespace.refresh()
    try:
        cli = LightningCLI(Regressor, RegressionData, run=False, args=quiet("--trainer.callbacks+=lr_monitor"))
    finally:
        monkeypatch.undo()
        namespace.refresh()
    assert any(type(cb).__name__ == "LearningRateMonitor" for cb in cli.trainer.callbacks)
