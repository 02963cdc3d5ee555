"""lit-callbacks' ``LearningRateMonitor``: the values and names it logs, read back from metrics.csv."""

from __future__ import annotations

import csv
from typing import Any

import pytest
import torch

from lit_callbacks import LearningRateMonitor
from lit_core.exceptions import MisconfigurationException


def logged(trainer: Any, column: str) -> list[tuple[int, float]]:
    """``(step, value)`` of every metrics.csv row that has ``column``."""
    with open(trainer.logger.metrics_file_path, newline="") as f:
        return [(int(row["step"]), float(row[column])) for row in csv.DictReader(f) if row.get(column)]


@pytest.fixture
def optimized(boring_model: Any) -> Any:
    """``optimized(configure)``: the boring model whose configure_optimizers is ``configure(model)``."""

    def make(configure: Any) -> Any:
        class Model(boring_model):
            def configure_optimizers(self) -> Any:
                return configure(self)

        return Model()

    return make


def test_epoch_scheduler_logged_at_each_epoch_start(make_trainer: Any, optimized: Any) -> None:
    def configure(model: Any) -> Any:
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        return [opt], [torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)]

    monitor = LearningRateMonitor()
    trainer = make_trainer(max_epochs=3, logger="csv", log_every_n_steps=1, callbacks=[monitor])
    trainer.fit(optimized(configure))
    assert logged(trainer, "lr-SGD") == [(0, 0.1), (4, 0.05), (8, 0.025)]
    assert monitor.lrs == {"lr-SGD": [0.1, 0.05, 0.025]}


def test_step_interval_logs_every_log_every_n_steps(make_trainer: Any, optimized: Any) -> None:
    def configure(model: Any) -> Any:
        opt = torch.optim.SGD(model.parameters(), lr=1.0)
        scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1 / (step + 1))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": scheduler, "interval": "step", "name": "my_lr"}}

    trainer = make_trainer(max_epochs=2, logger="csv", log_every_n_steps=2, callbacks=[LearningRateMonitor("step")])
    trainer.fit(optimized(configure))
    assert logged(trainer, "my_lr") == [(1, 1 / 2), (3, 1 / 4), (5, 1 / 6), (7, 1 / 8)]


def test_names_groups_momentum_weight_decay(make_trainer: Any, optimized: Any) -> None:
    def configure(model: Any) -> Any:
        sgd = torch.optim.SGD([{"params": [model.layer.weight]}, {"params": [model.layer.bias], "lr": 0.01}],
                              lr=0.1, momentum=0.5, weight_decay=0.001)
        adam = torch.optim.Adam([{"params": [torch.nn.Parameter(torch.zeros(1))], "name": "extra"}], lr=0.2,
                                betas=(0.8, 0.99))
        adam2 = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=0.3)
        return [sgd, adam, adam2]

    monitor = LearningRateMonitor(logging_interval="epoch", log_momentum=True, log_weight_decay=True)
    trainer = make_trainer(max_epochs=1, logger="csv", callbacks=[monitor])
    model = optimized(configure)
    model.automatic_optimization = False  # three optimizers over unrelated parameters: nothing to step here
    model.training_step = lambda batch, batch_idx: None
    trainer.fit(model)
    row = {name: logged(trainer, name) for name in (
        "lr-SGD/pg1", "lr-SGD/pg2", "lr-SGD/pg1-momentum", "lr-SGD/pg2-weight_decay", "lr-Adam/extra",
        "lr-Adam/extra-momentum", "lr-Adam-1")}
    assert row == {"lr-SGD/pg1": [(0, 0.1)], "lr-SGD/pg2": [(0, 0.01)], "lr-SGD/pg1-momentum": [(0, 0.5)],
                   "lr-SGD/pg2-weight_decay": [(0, 0.001)], "lr-Adam/extra": [(0, 0.2)],
                   "lr-Adam/extra-momentum": [(0, 0.8)], "lr-Adam-1": [(0, 0.3)]}


def test_duplicate_group_names_are_an_error(make_trainer: Any, optimized: Any) -> None:
    def configure(model: Any) -> Any:
        return torch.optim.SGD([{"params": [model.layer.weight], "name": "a"}, {"params": [model.layer.bias], "name": "a"}],
                               lr=0.1)

    trainer = make_trainer(logger="csv", callbacks=[LearningRateMonitor()])
    with pytest.raises(MisconfigurationException, match="identical `name` values"):
        trainer.fit(optimized(configure))


def test_needs_a_logger(make_trainer: Any, boring_model: Any) -> None:
    with pytest.raises(MisconfigurationException, match="has no logger"):
        make_trainer(callbacks=[LearningRateMonitor()]).fit(boring_model())


def test_bad_interval() -> None:
    with pytest.raises(MisconfigurationException, match="`step` or `epoch` or `None`"):
        LearningRateMonitor(logging_interval="batch")


def test_usable_by_name(make_trainer: Any, boring_model: Any) -> None:
    trainer = make_trainer(logger="csv", log_every_n_steps=1, callbacks=["lr_monitor"])
    assert any(isinstance(cb, LearningRateMonitor) for cb in trainer.callbacks)
    trainer.fit(boring_model())
    # No scheduler: logged at the epoch's start and at every step (log_every_n_steps=1), as in Lightning.
    assert logged(trainer, "lr-SGD") == [(0, 0.1), (0, 0.1), (1, 0.1), (2, 0.1), (3, 0.1)]
