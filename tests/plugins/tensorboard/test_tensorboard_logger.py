"""TensorBoardLogger: what a run writes, read back with TensorBoard's ``EventAccumulator``."""

from __future__ import annotations

import csv
import os

import pytest
import torch
import yaml
from tensorboard.plugins.hparams import plugin_data_pb2

import lit_core as lit
from lit_tensorboard import TensorBoardLogger


def scalars(accumulator, tag):
    return [(e.step, pytest.approx(e.value)) for e in accumulator.Scalars(tag)]


def test_default_logger_by_name(tmp_root):
    trainer = lit.Trainer(default_root_dir=tmp_root, enable_progress_bar=False, enable_checkpointing=False)
    assert isinstance(trainer.logger, TensorBoardLogger), "installed, tensorboard is the default logger"
    assert trainer.logger.save_dir == str(tmp_root)
    assert trainer.log_dir == os.path.join(tmp_root, "lightning_logs", "version_0")


def test_metrics_land_at_the_logging_steps(tb_trainer, logging_model, events, tmp_root):
    model = logging_model()
    trainer = tb_trainer(max_epochs=2, log_every_n_steps=2)
    trainer.fit(model)
    assert trainer.log_dir == os.path.join(tmp_root, "lightning_logs", "version_0")
    run = events(trainer.log_dir)
    expected = [(step, pytest.approx(loss)) for step, loss in model.losses if (step + 1) % 2 == 0]
    assert [step for step, _ in expected] == [1, 3, 5, 7]
    assert scalars(run, "loss") == expected
    assert [step for step, _ in scalars(run, "val_loss")] == [3, 7], "validation at each epoch end"
    assert {step: value for step, value in scalars(run, "epoch")}[5] == 1


def test_versions_names_prefix_and_sub_dir(tb_trainer, logging_model, events, tmp_root):
    tb_trainer().fit(logging_model())
    trainer = tb_trainer()
    trainer.fit(logging_model())
    assert trainer.log_dir == os.path.join(tmp_root, "lightning_logs", "version_1"), "the next free version"

    logger = TensorBoardLogger(save_dir=tmp_root / "runs", name="exp", version="first", prefix="train_", sub_dir="events")
    assert logger.log_dir == os.path.join(tmp_root, "runs", "exp", "first", "events")
    tb_trainer(logger=logger, log_every_n_steps=1).fit(logging_model())
    run = events(logger.log_dir)
    assert "train_loss" in run.Tags()["scalars"] and "loss" not in run.Tags()["scalars"]
    assert TensorBoardLogger(save_dir=tmp_root, name="").log_dir == os.path.join(tmp_root, "version_0")


def test_experiment_is_a_lazy_summary_writer(tmp_root):
    from torch.utils.tensorboard import SummaryWriter

    logger = TensorBoardLogger(save_dir=tmp_root, flush_secs=5)
    assert os.listdir(tmp_root) == [], "nothing is written before the writer is needed"
    writer = logger.experiment
    assert isinstance(writer, SummaryWriter) and logger.experiment is writer
    assert writer.log_dir == logger.log_dir and writer.flush_secs == 5
    logger.finalize("success")
    assert any(name.startswith("events.out.tfevents") for name in os.listdir(logger.log_dir))


def test_hyperparameters_in_the_hparams_tab_and_yaml(tb_trainer, logging_model, events):
    model = logging_model(lr=0.1, layers=[4, 1], optim={"name": "sgd", "momentum": 0.9}, act=torch.nn.ReLU)
    trainer = tb_trainer()
    trainer.fit(model)
    with open(os.path.join(trainer.log_dir, "hparams.yaml")) as f:
        assert yaml.safe_load(f) == {"lr": 0.1, "layers": [4, 1], "optim/name": "sgd", "optim/momentum": 0.9,
                                     "act": repr(torch.nn.ReLU)}
    run = events(trainer.log_dir)
    content = run.PluginTagToContent("hparams")
    assert set(content) == {"_hparams_/experiment", "_hparams_/session_start_info", "_hparams_/session_end_info"}
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
    values = {k: v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind")) for k, v in start.hparams.items()}
    assert values == {"lr": 0.1, "layers": "[4, 1]", "optim/name": "sgd", "optim/momentum": 0.9, "act": str(torch.nn.ReLU)}
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    assert [m.name.tag for m in experiment.metric_infos] == ["hp_metric"]
    assert scalars(run, "hp_metric") == [(0, -1)], "default_hp_metric records -1 until the model logs it"


def test_hp_metric_off_and_explicit_metrics(tmp_root, events):
    logger = TensorBoardLogger(save_dir=tmp_root, default_hp_metric=False)
    logger.log_hyperparams({"lr": 0.1})
    logger.finalize("success")
    run = events(logger.log_dir)
    with pytest.raises(KeyError):
        run.PluginTagToContent("hparams")
    assert "hp_metric" not in run.Tags()["scalars"]

    logger = TensorBoardLogger(save_dir=tmp_root)
    logger.log_hyperparams({"lr": 0.1}, metrics={"val_acc": 0.5})
    logger.finalize("success")
    run = events(logger.log_dir)
    assert scalars(run, "val_acc") == [(0, 0.5)]
    experiment = plugin_data_pb2.HParamsPluginData.FromString(run.PluginTagToContent("hparams")["_hparams_/experiment"]).experiment
    assert [m.name.tag for m in experiment.metric_infos] == ["val_acc"]


def test_graph(tb_trainer, logging_model, events, tmp_root):
    class WithInput(logging_model):
        def __init__(self):
            super().__init__()
            self.example_input_array = torch.zeros(2, 4)

    trainer = tb_trainer(logger=TensorBoardLogger(save_dir=tmp_root, log_graph=True))
    trainer.fit(WithInput())
    graph = events(trainer.log_dir).Graph()
    assert any("Linear" in node.op or "linear" in node.op.lower() or "addmm" in node.op for node in graph.node), [n.op for n in graph.node]

    trainer = tb_trainer(logger=TensorBoardLogger(save_dir=tmp_root, log_graph=True))
    with pytest.warns(UserWarning, match="could not log the graph: set `example_input_array`"):
        trainer.fit(logging_model())
    assert not events(trainer.log_dir).Tags()["graph"]


def test_tensorboard_and_csv_together(tb_trainer, logging_model, events):
    model = logging_model(lr=0.1)
    trainer = tb_trainer(logger=["tensorboard", "csv"], log_every_n_steps=2)
    trainer.fit(model)
    tensorboard, csv_logger = trainer.loggers
    assert isinstance(tensorboard, TensorBoardLogger) and trainer.log_dir == tensorboard.log_dir
    # Both fix their version when they join the Trainer, before either writes: one shared folder.
    assert csv_logger.log_dir == tensorboard.log_dir
    tb_steps = [step for step, _ in scalars(events(tensorboard.log_dir), "loss")]
    with open(csv_logger.metrics_file_path, newline="") as f:
        csv_steps = [int(row["step"]) for row in csv.DictReader(f) if row.get("loss")]
    assert tb_steps == csv_steps == [1, 3]


@pytest.mark.parametrize(("error", "status"), [(RuntimeError("boom"), "failed"), (KeyboardInterrupt(), "failed")])
def test_finalized_on_every_exit_path(tb_trainer, logging_model, events, tmp_root, error, status):
    statuses = []

    class Recording(TensorBoardLogger):
        def finalize(self, status):
            statuses.append((status, self._experiment is not None))
            super().finalize(status)

    class Failing(logging_model):
        def training_step(self, batch, batch_idx):
            if batch_idx == 2:
                raise error
            return super().training_step(batch, batch_idx)

    logger = Recording(save_dir=tmp_root)
    with pytest.raises(SystemExit if isinstance(error, KeyboardInterrupt) else type(error)):  # Ctrl+C: status 1
        tb_trainer(logger=logger, log_every_n_steps=1).fit(Failing())
    assert statuses == [(status, True)]
    assert logger._experiment is None, "closed"
    assert [step for step, _ in scalars(events(logger.log_dir), "loss")] == [0, 1], "what was logged before is on disk"


def test_rank_zero_only(tb_trainer, logging_model, tmp_root, monkeypatch):
    # A launched process knows its rank from the environment before the Trainer sets it (and the
    # Trainer copies global_rank into it): rank 1 does not claim a version folder either.
    monkeypatch.setattr(lit.rank_zero_only, "rank", 1)

    class Rank1:
        @lit.hookimpl
        def lit_setup_environment(self, trainer):
            trainer.global_rank = 1

    class UsesExperiment(logging_model):
        def training_step(self, batch, batch_idx):
            self.logger.experiment.add_scalar("direct", 1.0, batch_idx)
            return super().training_step(batch, batch_idx)

    trainer = tb_trainer(logger=TensorBoardLogger(save_dir=tmp_root, log_graph=True), plugins=[Rank1()], log_every_n_steps=1)
    trainer.fit(UsesExperiment(lr=0.1))
    assert os.listdir(tmp_root) == [], "rank 1 writes nothing"


def test_pickled_without_the_writer(tmp_root):
    import pickle

    logger = TensorBoardLogger(save_dir=tmp_root)
    logger.experiment
    copy = pickle.loads(pickle.dumps(logger))
    assert copy._experiment is None and copy.log_dir == logger.log_dir
    logger.finalize("success")
