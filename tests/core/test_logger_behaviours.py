"""Loggers as Lightning users call them: DummyLogger, ``log_hyperparams()`` without arguments, ``~`` in paths."""

from __future__ import annotations

import copy
import pickle
from argparse import Namespace

import yaml

from lit_core.builtins.csv_logger import CSVLogger
from lit_core.logger import DummyExperiment, DummyLogger


def test_dummy_logger_swallows_every_call(make_trainer, boring_model):
    logger = DummyLogger()
    assert logger.name == "" and logger.version == "" and logger.save_dir is None and logger.log_dir is None
    assert logger.experiment.add_image("x", object(), global_step=3) is None
    assert logger.experiment[0].log({"a": 1}) is None, "indexable, as Lightning's"
    logger.experiment["key"] = 1
    assert logger[0] is logger and logger.any_backend_method(1, k=2) is None
    assert isinstance(logger.experiment, DummyExperiment)
    assert copy.deepcopy(logger).name == "" and pickle.loads(pickle.dumps(logger)).version == ""

    class UsesExperiment(boring_model):
        def training_step(self, batch, batch_idx):
            self.logger.experiment.add_histogram("w", self.layer.weight, self.global_step)
            self.log("loss", 1.0)
            return super().training_step(batch, batch_idx)

    trainer = make_trainer(logger=logger, log_every_n_steps=1)
    trainer.fit(UsesExperiment())
    assert trainer.logger is logger and trainer.state.finished


def test_csv_log_hyperparams_without_arguments(tmp_root):
    logger = CSVLogger(tmp_root)
    logger.log_hyperparams()
    path = tmp_root / "lightning_logs" / "version_0" / "hparams.yaml"
    assert yaml.safe_load(path.read_text()) == {}
    logger.log_hyperparams(Namespace(lr=0.1))
    logger.log_hyperparams(None)
    assert yaml.safe_load(path.read_text()) == {"lr": 0.1}


def test_tilde_in_default_root_dir_and_save_dir(make_trainer, boring_model, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    trainer = make_trainer(default_root_dir="~/runs", logger=True, max_steps=2, log_every_n_steps=1)
    assert trainer.default_root_dir == str(tmp_path / "home" / "runs")
    logger = CSVLogger("~/logs")
    assert logger.save_dir == str(tmp_path / "home" / "logs")

    class Logging(boring_model):
        def training_step(self, batch, batch_idx):
            self.log("seen", float(batch_idx))
            return super().training_step(batch, batch_idx)

    trainer = make_trainer(logger=logger, max_steps=2, log_every_n_steps=1)
    trainer.fit(Logging())
    assert (tmp_path / "home" / "logs" / "lightning_logs" / "version_0" / "metrics.csv").is_file()
    assert not [p for p in tmp_path.rglob("~*")], "no folder literally named ~"
