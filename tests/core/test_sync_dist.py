"""``self.log(..., sync_dist=True)``: step values are reduced across processes when logged, epoch
values once at the epoch's end (from the local values), both through the strategy's ``reduce``."""

from __future__ import annotations

import torch

from lit_core.logger import Logger
from lit_core.plugin_api import Strategy


class TwoEqualProcesses(Strategy):
    """A strategy whose ``reduce`` answers as if a second process had logged the same values."""

    name = "test_twoequalprocesses"

    def __init__(self) -> None:
        self.ops: list[str] = []

    def reduce(self, tensor: torch.Tensor, reduce_op: str = "mean") -> torch.Tensor:
        self.ops.append(reduce_op)
        return tensor * 2 if reduce_op == "sum" else tensor


class Rows(Logger):
    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []

    def log_metrics(self, metrics, step=None):
        self.rows.append(dict(metrics))

    def log_hyperparams(self, params, *args, **kwargs):
        pass


def test_step_and_epoch_values_are_reduced_once(make_trainer, boring_model):
    class Model(boring_model):
        def training_step(self, batch, batch_idx):
            self.log("synced", 1.0, on_step=True, on_epoch=True, reduce_fx="sum", sync_dist=True)
            self.log("local", 1.0, on_step=True, on_epoch=True, reduce_fx="sum")
            return super().training_step(batch, batch_idx)

    reducer, logger = TwoEqualProcesses(), Rows()
    trainer = make_trainer(strategy=reducer, logger=logger, log_every_n_steps=1, limit_val_batches=0)
    trainer.fit(Model())
    steps = [row for row in logger.rows if "synced_step" in row]
    assert [row["synced_step"] for row in steps] == [2.0] * 4 and [row["local_step"] for row in steps] == [1.0] * 4
    epoch = next(row for row in logger.rows if "synced_epoch" in row)
    assert (epoch["synced_epoch"], epoch["local_epoch"]) == (8.0, 4.0), "the epoch sums local values, then reduces once"
    assert reducer.ops == ["sum"] * 5, "one reduction per logged step value, one at the epoch's end"
