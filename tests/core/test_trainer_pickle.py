"""A Trainer pickles (launchers such as ``ddp_spawn`` send it to new processes): the copy has the
same plugins in the same order, its callbacks' hooks fire, and it trains like the original."""

from __future__ import annotations

import pickle

import lit_core as lit


class CountingCallback(lit.Callback):
    """Module-level (picklable): counts training batches."""

    def __init__(self) -> None:
        self.batches = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.batches += 1


def names(trainer: lit.Trainer) -> list[str]:
    return [name.split(":")[0] for name, _ in trainer.plugin_manager.list_name_plugin()]


def test_trainer_round_trips_through_pickle(make_trainer, boring_model):
    trainer = make_trainer(callbacks=[CountingCallback()], logger="csv")
    copy = pickle.loads(pickle.dumps(trainer))
    assert names(copy) == names(trainer), "the same plugins, registered in the same order"
    assert copy.strategy.trainer is copy and copy.loggers[0] in copy.plugin_manager.get_plugins()
    copy.fit(boring_model())
    assert copy.callbacks[0].batches == 4, "the copied callback's hooks are registered"
    assert trainer.callbacks[0].batches == 0
    assert copy.global_step == 4 and copy.state.finished

    # After a stage too: its compiled hot-path callers are left out, and rebuilt by the next stage.
    again = pickle.loads(pickle.dumps(copy))
    assert names(again) == names(copy) and again.global_step == 4
    assert again.validate(boring_model())[0].keys() == {"val_loss"}


class CopyingLauncher:
    """Runs each stage in a pickled copy of the Trainer, as a spawning launcher does in its processes."""

    @lit.hookimpl
    def lit_launch(self, function):
        return pickle.loads(pickle.dumps(function))()


def test_the_stage_function_pickles(make_trainer, boring_model):
    trainer = make_trainer(plugins=[CopyingLauncher()])
    results = trainer.validate(boring_model())
    assert list(results[0]) == ["val_loss"], "the copy ran the stage and its result came back"
