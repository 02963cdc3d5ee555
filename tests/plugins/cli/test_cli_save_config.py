"""SaveConfigCallback: the config written once to the log dir, refused overwrite, rank zero only."""

from __future__ import annotations

import pytest
import yaml

from lit_cli_models import RegressionData, Regressor
from lit_core.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback
from lit_core.testing import CallbackConformance
from lit_core.testing.models import TinyModel, quiet_trainer


def test_config_saved_to_the_log_dir_at_fit_start(quiet, tmp_path):
    cli = LightningCLI(Regressor, RegressionData, args=["fit", *quiet("--trainer.logger=csv", "--model.hidden=9")])
    saved = tmp_path / "lightning_logs" / "version_0" / "config.yaml"
    assert cli.trainer.log_dir == str(saved.parent)
    config = yaml.safe_load(saved.read_text())
    assert config["model"]["hidden"] == 9 and config["trainer"]["logger"] == "csv" and config["seed_everything"] == 0


def test_an_existing_config_is_refused_unless_overwrite(quiet, tmp_path):
    LightningCLI(Regressor, RegressionData, args=["fit", *quiet()])  # logger=False: the log dir is default_root_dir
    assert (tmp_path / "config.yaml").is_file()
    with pytest.raises(RuntimeError, match=r"config.yaml not to exist.*overwrite"):
        LightningCLI(Regressor, RegressionData, args=["fit", *quiet()])
    LightningCLI(Regressor, RegressionData, save_config_kwargs={"overwrite": True, "config_filename": "config.yaml"},
                 args=["fit", *quiet("--model.hidden=2")])
    assert yaml.safe_load((tmp_path / "config.yaml").read_text())["model"]["hidden"] == 2


def test_saved_once_per_callback_across_stages(quiet, tmp_path):
    cli = LightningCLI(Regressor, RegressionData, args=["fit", *quiet()])
    (callback,) = [cb for cb in cli.trainer.callbacks if isinstance(cb, SaveConfigCallback)]
    assert callback.already_saved
    cli.trainer.validate(cli.model, datamodule=cli.datamodule)  # setup again: no second write, no refusal


def test_fast_dev_run_and_none_save_nothing(quiet, tmp_path):
    LightningCLI(Regressor, RegressionData, args=["fit", *quiet("--trainer.fast_dev_run=true")])
    LightningCLI(Regressor, RegressionData, save_config_callback=None, args=["fit", *quiet()])
    assert not (tmp_path / "config.yaml").exists()


def test_only_global_rank_zero_writes(tmp_path):
    parser = LightningArgumentParser()
    parser.add_argument("--x", type=int, default=1)
    trainer = quiet_trainer(tmp_path)
    trainer.global_rank = 1  # what a DDP worker of rank 1 sees
    callback = SaveConfigCallback(parser, parser.parse_args([]))
    callback.setup(trainer, TinyModel(), "fit")
    assert not (tmp_path / "config.yaml").exists() and not callback.already_saved
    trainer.global_rank = 0
    callback.setup(trainer, TinyModel(), "fit")
    assert yaml.safe_load((tmp_path / "config.yaml").read_text()) == {"x": 1} and callback.already_saved


def test_save_to_log_dir_false_needs_a_save_config_override():
    parser = LightningArgumentParser()
    with pytest.raises(ValueError, match="save_to_log_dir=False"):
        SaveConfigCallback(parser, parser.parse_args([]), save_to_log_dir=False)

    class ToLogger(SaveConfigCallback):
        def save_config(self, trainer, pl_module, stage):
            pass

    ToLogger(parser, parser.parse_args([]), save_to_log_dir=False)


class TestSaveConfigCallback(CallbackConformance):
    plugin = SaveConfigCallback

    def make(self):
        parser = LightningArgumentParser()
        parser.add_argument("--lr", type=float, default=0.1)
        return SaveConfigCallback(parser, parser.parse_args([]), overwrite=True)  # the resumed run writes it again
