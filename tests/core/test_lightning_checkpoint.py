"""Resuming from checkpoints that Lightning 2.x wrote (issue 13 §3).

The files are written by hand here in Lightning's layout, as read in Lightning 2.x's sources
(``src/lightning/pytorch``): ``trainer/connectors/checkpoint_connector.py`` (``dump_checkpoint``:
``epoch``, ``global_step``, ``pytorch-lightning_version``, ``state_dict``, ``loops``, ``callbacks``
keyed by each callback's ``state_key``, ``optimizer_states``, ``lr_schedulers``, the precision
plugin's state under its class name); ``loops/loop.py`` (``_Loop.state_dict``: the loop's
``state_dict`` entry, then every progress tracker and sub-loop under dotted prefixes);
``loops/progress.py`` (``{"total": {...}, "current": {"ready", "started", "processed",
"completed"}}``, batch progress adding ``is_last_batch``); ``loops/training_epoch_loop.py``
(``_batches_that_stepped``); and ``loops/fit_loop.py``, which increments an epoch's ``processed``
before ``on_train_epoch_end`` (where checkpoints are saved) and its ``completed`` after, and
resumes at epoch ``processed``.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

import lit_core as lit
from lit_core.checkpoint import from_lightning


def progress(ready: int, started: int, processed: int, completed: int, total: dict[str, int] | None = None,
             **extra: Any) -> dict[str, Any]:
    current = {"ready": ready, "started": started, "processed": processed, "completed": completed}
    return {"total": dict(total or current), "current": current, **extra}


def fit_loop_state(epoch: dict[str, Any], batch: dict[str, Any], stepped: int) -> dict[str, Any]:
    """``FitLoop.state_dict()``: its own entry, its epoch progress, its epoch loop's (prefixed)."""
    optim_step = progress(stepped, stepped, stepped, stepped)
    return {
        "state_dict": {},
        "epoch_progress": epoch,
        "epoch_loop.state_dict": {"_batches_that_stepped": stepped},
        "epoch_loop.batch_progress": batch,
        "epoch_loop.scheduler_progress": progress(0, 0, 0, 0),
        "epoch_loop.automatic_optimization.state_dict": {},
        "epoch_loop.automatic_optimization.optim_progress": {
            "optimizer": {"step": optim_step, "zero_grad": optim_step},
        },
        "epoch_loop.manual_optimization.state_dict": {},
        "epoch_loop.manual_optimization.optim_step_progress": progress(0, 0, 0, 0),
        "epoch_loop.val_loop.state_dict": {},
        "epoch_loop.val_loop.batch_progress": progress(0, 0, 0, 0, is_last_batch=False),
    }


def lightning_checkpoint(module: lit.LightningModule, optimizer: torch.optim.Optimizer, scheduler: Any,
                         epoch: int, global_step: int, fit_loop: dict[str, Any],
                         callbacks: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "epoch": epoch,
        "global_step": global_step,
        "pytorch-lightning_version": "2.6.0",
        "state_dict": module.state_dict(),
        "loops": {
            "fit_loop": fit_loop,
            "validate_loop": {"state_dict": {}, "batch_progress": progress(0, 0, 0, 0, is_last_batch=False)},
            "test_loop": {"state_dict": {}, "batch_progress": progress(0, 0, 0, 0, is_last_batch=False)},
            "predict_loop": {"state_dict": {}, "batch_progress": progress(0, 0, 0, 0)},
        },
        "callbacks": callbacks or {},
        "optimizer_states": [optimizer.state_dict()],
        "lr_schedulers": [scheduler.state_dict()],
    }


@pytest.fixture
def model_class(boring_model):
    class Model(boring_model):
        """SGD with momentum and a per-epoch StepLR: both have state a resume must restore."""

        def configure_optimizers(self):
            opt = torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)
            return [opt], [torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)]

    return Model


class Counter(lit.Callback):
    """A stateful callback; Lightning's default ``state_key`` is the class's qualified name."""

    def __init__(self) -> None:
        self.batches = 0
        self.epochs: list[int] = []
        self.seen: list[tuple[int, int]] = []

    def on_train_epoch_start(self, trainer, pl_module):
        self.epochs.append(trainer.current_epoch)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.batches += 1
        self.seen.append((trainer.current_epoch, batch_idx))

    def state_dict(self):
        return {"batches": self.batches}

    def load_state_dict(self, state_dict):
        self.batches = state_dict["batches"]


def train(make_trainer: Any, model: Any, epochs: int, **flags: Any) -> tuple[lit.Trainer, Counter]:
    counter = Counter()
    trainer = make_trainer(max_epochs=epochs, limit_val_batches=0, callbacks=[counter], **flags)
    return trainer, counter


def test_epoch_end_checkpoint_continues_with_the_next_epoch(tmp_root, make_trainer, model_class):
    # One epoch trained by lit, written in Lightning's layout as ModelCheckpoint saves it at the epoch's end.
    first = model_class()
    trainer, _ = train(make_trainer, first, 1)
    trainer.fit(first)
    ckpt = lightning_checkpoint(
        first, trainer.optimizers[0], trainer.lr_scheduler_configs[0].scheduler, epoch=0, global_step=4,
        fit_loop=fit_loop_state(progress(1, 1, 1, 0), progress(4, 4, 4, 4, is_last_batch=True), stepped=4),
        callbacks={"Counter": {"batches": 4}},
    )
    path = tmp_root / "epoch=0-step=4.ckpt"
    torch.save(ckpt, path)

    resumed = model_class()
    trainer, counter = train(make_trainer, resumed, 2)
    trainer.fit(resumed, ckpt_path=str(path))
    assert counter.epochs == [1] and trainer.global_step == 8 and trainer.current_epoch == 2
    assert counter.batches == 8  # the callback's state was restored, then 4 more batches
    assert trainer.lr_scheduler_configs[0].scheduler.last_epoch == 2  # restored at 1, stepped once

    # The same as training two epochs straight (momentum and learning rate restored too).
    straight = model_class()
    trainer, _ = train(make_trainer, straight, 2)
    trainer.fit(straight)
    assert torch.allclose(resumed.layer.weight, straight.layer.weight) and torch.allclose(resumed.layer.bias, straight.layer.bias)


def test_mid_epoch_checkpoint_runs_the_rest_of_the_epoch_with_a_warning(tmp_root, make_trainer, model_class):
    model = model_class()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    ckpt = lightning_checkpoint(
        model, opt, sched, epoch=0, global_step=2,
        fit_loop=fit_loop_state(progress(1, 1, 0, 0), progress(2, 2, 2, 2, is_last_batch=False), stepped=2),
    )
    path = tmp_root / "step=2.ckpt"
    torch.save(ckpt, path)
    trainer, counter = train(make_trainer, model, 2)
    with pytest.warns(UserWarning, match=r"saved in the middle of epoch 0 \(after 2 batches\).*end-of-epoch checkpoint"):
        trainer.fit(model, ckpt_path=str(path))
    assert counter.seen == [(0, 2), (0, 3), (1, 0), (1, 1), (1, 2), (1, 3)]
    assert trainer.global_step == 8


def test_checkpoint_saved_after_fit_has_nothing_left_to_train(tmp_root, make_trainer, model_class):
    model = model_class()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1)
    ckpt = lightning_checkpoint(
        model, opt, sched, epoch=1, global_step=4,
        fit_loop=fit_loop_state(progress(1, 1, 1, 1), progress(4, 4, 4, 4, is_last_batch=True), stepped=4),
    )
    torch.save(ckpt, tmp_root / "last.ckpt")
    trainer, counter = train(make_trainer, model, 1)
    trainer.fit(model, ckpt_path=str(tmp_root / "last.ckpt"))
    assert counter.seen == [] and trainer.global_step == 4


def test_model_checkpoint_state_under_lightnings_state_key(tmp_root, make_trainer, model_class):
    lit_checkpoint = pytest.importorskip("lit_checkpoint")
    dirpath = str(tmp_root / "ckpts")
    mc = lit_checkpoint.ModelCheckpoint(dirpath=dirpath, monitor="train_loss", mode="min")
    key = ("ModelCheckpoint{'monitor': 'train_loss', 'mode': 'min', 'every_n_train_steps': 0, 'every_n_epochs': 1, "
           "'train_time_interval': None}")
    assert mc.state_key == key
    model = model_class()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    best = f"{dirpath}/epoch=0-step=4.ckpt"
    state = {"monitor": "train_loss", "best_model_score": torch.tensor(0.25), "best_model_path": best,
             "current_score": torch.tensor(0.25), "dirpath": dirpath, "best_k_models": {best: torch.tensor(0.25)},
             "kth_best_model_path": best, "kth_value": torch.tensor(0.25), "last_model_path": ""}
    ckpt = lightning_checkpoint(
        model, opt, torch.optim.lr_scheduler.StepLR(opt, step_size=1), epoch=0, global_step=4,
        fit_loop=fit_loop_state(progress(1, 1, 1, 0), progress(4, 4, 4, 4, is_last_batch=True), stepped=4),
        callbacks={key: state},
    )
    torch.save(ckpt, tmp_root / "l.ckpt")
    trainer = make_trainer(max_epochs=1, limit_val_batches=0, callbacks=[mc], enable_checkpointing=True)
    trainer.fit(model, ckpt_path=str(tmp_root / "l.ckpt"))
    assert mc.best_model_path == best and float(mc.best_model_score) == 0.25


def test_from_lightning_translation():
    lit_style = {"epoch": 0, "global_step": 4, "state_dict": {}, "loops": {"batches_that_stepped": 4, "epoch_completed": True}}
    assert from_lightning(lit_style) is lit_style  # lit's own checkpoints are left alone
    scaler = {"scale": 1024.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2000, "_growth_tracker": 3}
    ckpt = {"epoch": 2, "global_step": 30, "state_dict": {}, "MixedPrecision": scaler, "loops": {"fit_loop": fit_loop_state(
        progress(3, 3, 3, 2, total={"ready": 3, "started": 3, "processed": 3, "completed": 2}),
        progress(10, 10, 10, 10, total={"ready": 30, "started": 30, "processed": 30, "completed": 30}), stepped=15)}}
    out = from_lightning(ckpt)
    assert out["epoch"] == 3 and out["precision"] == scaler
    assert out["loops"]["batches_that_stepped"] == 15 and out["loops"]["total_batches_seen"] == 30
    assert out["loops"]["epoch_batches_done"] == 0 and out["loops"]["epoch_completed"] is False
    assert ckpt["epoch"] == 2  # the loaded dict is not modified
