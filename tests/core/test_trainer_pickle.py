"""A Trainer pickles (launchers such as ``ddp_spawn`` send it to new processes): the copy has the
same plugins in the same order, its callbacks' hooks fire, and it trains like the original."""

from __future__ import annotations

import pickle

import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

import lit_core as lit
from lit_core.strategies import SingleDeviceStrategy


class Regression(lit.LightningModule):
    """Module-level (picklable by reference, unlike a fixture's class): 4 training batches, validation."""

    def __init__(self) -> None:
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        return F.mse_loss(self.layer(batch[0]), batch[1])

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", F.mse_loss(self.layer(batch[0]), batch[1]))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def _loader(self, seed: int) -> DataLoader:
        g = torch.Generator().manual_seed(seed)
        return DataLoader(TensorDataset(torch.randn(8, 4, generator=g), torch.randn(8, 1, generator=g)), batch_size=2)

    def train_dataloader(self):
        return self._loader(1)

    def val_dataloader(self):
        return self._loader(2)


class CountingCallback(lit.Callback):
    """Module-level (picklable): counts training batches."""

    def __init__(self) -> None:
        self.batches = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.batches += 1


def names(trainer: lit.Trainer) -> list[str]:
    return [name.split(":")[0] for name, _ in trainer.plugin_manager.list_name_plugin()]


def test_trainer_round_trips_through_pickle(make_trainer):
    trainer = make_trainer(callbacks=[CountingCallback()], logger="csv")
    copy = pickle.loads(pickle.dumps(trainer))
    assert names(copy) == names(trainer), "the same plugins, registered in the same order"
    assert copy.strategy.trainer is copy and copy.loggers[0] in copy.plugin_manager.get_plugins()
    copy.fit(Regression())
    assert copy.callbacks[0].batches == 4, "the copied callback's hooks are registered"
    assert trainer.callbacks[0].batches == 0
    assert copy.global_step == 4 and copy.state.finished

    # After a stage too: its compiled hot-path callers are left out, and rebuilt by the next stage.
    again = pickle.loads(pickle.dumps(copy))
    assert names(again) == names(copy) and again.global_step == 4
    assert again.validate(Regression())[0].keys() == {"val_loss"}


class CopyingLauncher(SingleDeviceStrategy):
    """Runs each stage in a pickled copy of the Trainer, as a spawning launcher does in its processes."""

    def launch(self, function):
        return pickle.loads(pickle.dumps(function))()


def test_the_stage_function_pickles(make_trainer):
    trainer = make_trainer(strategy=CopyingLauncher())
    results = trainer.validate(Regression())
    assert list(results[0]) == ["val_loss"], "the copy ran the stage and its result came back"
