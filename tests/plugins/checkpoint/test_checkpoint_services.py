"""Lightning's typed checkpoint services on lit's hooks: ``trainer.strategy.checkpoint_io`` (the
``lit_checkpoint_io`` service) and ``Logger.after_save_checkpoint(checkpoint_callback)`` (called on
the ``lit_checkpoint_saved`` event for loggers that override it)."""

from __future__ import annotations

import os

from lit_checkpoint import ModelCheckpoint
from lit_checkpoint.async_save import AsyncCheckpointIO
from lit_checkpoint.checkpoint_io import TorchCheckpointIO
from lit_core.loggers import CSVLogger
from lit_core.strategies import SingleDeviceStrategy


class RecordingCSVLogger(CSVLogger):
    """A real logger (it writes metrics.csv) that also records each ``after_save_checkpoint`` call."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.saves: list[tuple] = []

    def after_save_checkpoint(self, checkpoint_callback) -> None:
        best = checkpoint_callback.best_model_path
        self.saves.append((checkpoint_callback, os.path.basename(best), float(checkpoint_callback.best_model_score),
                           os.path.isfile(best), os.path.exists(checkpoint_callback.last_model_path)))


def test_strategy_checkpoint_io_is_the_checkpoint_io_service(make_trainer, boring_model):
    assert SingleDeviceStrategy().checkpoint_io is None, "not attached to a Trainer yet"
    assert make_trainer().strategy.checkpoint_io is None, "no CheckpointIO: lit's hook chain writes"
    user_io = TorchCheckpointIO()
    trainer = make_trainer(plugins=[user_io])
    assert trainer.strategy.checkpoint_io is user_io
    checkpoint = ModelCheckpoint(async_save=True)
    trainer = make_trainer(plugins=[user_io], callbacks=[checkpoint], enable_checkpointing=True)
    trainer.fit(boring_model())
    writer = trainer.strategy.checkpoint_io
    assert isinstance(writer, AsyncCheckpointIO) and writer is trainer.plugin_manager.hook.lit_checkpoint_io(trainer=trainer)
    assert os.path.isfile(checkpoint.best_model_path)


def fit_with_recording_logger(make_trainer, scripted_model, tmp_root, async_save):
    logger = RecordingCSVLogger(save_dir=tmp_root)
    checkpoint = ModelCheckpoint(dirpath=tmp_root / "ckpt", monitor="val_loss", save_top_k=1, save_last=True,
                                 filename="{epoch}", async_save=async_save)
    trainer = make_trainer(logger=logger, callbacks=[checkpoint], enable_checkpointing=True, max_epochs=3)
    trainer.fit(scripted_model([3.0, 1.0, 2.0]))
    assert all(callback is checkpoint for callback, *_ in logger.saves), "Lightning passes the ModelCheckpoint"
    assert os.path.isfile(os.path.join(logger.log_dir, "metrics.csv")), "it is a working logger too"
    return logger


def test_logger_after_save_checkpoint_is_called_for_each_saved_file(make_trainer, scripted_model, tmp_root):
    logger = fit_with_recording_logger(make_trainer, scripted_model, tmp_root, async_save=False)
    # Once per announced file (top-k, then last), each complete on disk when the logger hears of it.
    assert [save[1:] for save in logger.saves] == [
        ("epoch=0.ckpt", 3.0, True, False), ("epoch=0.ckpt", 3.0, True, True),
        ("epoch=1.ckpt", 1.0, True, True), ("epoch=1.ckpt", 1.0, True, True),
        ("epoch=1.ckpt", 1.0, True, True),  # epoch 2 (2.0) is not in the top 1: only last.ckpt
    ]


def test_logger_after_save_checkpoint_with_async_saves(make_trainer, scripted_model, tmp_root):
    # Called once each background write finished: as many calls, from the writer thread; the
    # callback may already describe a later save by then (Lightning's is a live object too).
    logger = fit_with_recording_logger(make_trainer, scripted_model, tmp_root, async_save=True)
    assert len(logger.saves) == 5
    assert logger.saves[-1][1:] == ("epoch=1.ckpt", 1.0, True, True)


def test_a_logger_that_does_not_override_it_gets_no_checkpoint_hook(make_trainer, tmp_root):
    plain, recording = CSVLogger(save_dir=tmp_root), RecordingCSVLogger(save_dir=tmp_root)
    trainer = make_trainer(logger=[plain, recording])
    listeners = [impl.plugin_name for impl in trainer.plugin_manager.hook.lit_checkpoint_saved.get_hookimpls()]
    assert listeners == [f"lit.logger-adapter:{id(recording)}"]
