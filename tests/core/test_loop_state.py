"""``trainer.state``: the one public loop-state object the loops write and plugins read."""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from torch.nn import functional as F

import lit_core as lit
from lit_core.loop_state import LoopState

CORE = Path(lit.__file__).parent


def test_the_loops_touch_no_private_trainer_field() -> None:
    source = (CORE / "loops.py").read_text()
    private = re.findall(r"\btrainer\._\w+", source)
    assert private == [], f"loops.py reads or writes private Trainer fields {sorted(set(private))}: use trainer.state"


def test_the_stepping_rule_is_written_once() -> None:
    """Only the loop computes "this batch steps the optimizer"; DDP and checkpointing read ``state.stepping``."""
    rule = re.compile(r"%\s*(trainer\.)?accumulate(_grad_batches)?\s*==\s*0")
    root = CORE.parents[2]
    writers = [
        str(path.relative_to(root))
        for path in [CORE / "loops.py", *root.glob("plugins/ddp/src/**/*.py"), *root.glob("plugins/checkpoint/src/**/*.py")]
        if rule.search(path.read_text())
    ]
    assert writers == ["core/src/lit_core/loops.py"]


class StateRecorder:
    """Records the loop state at each training batch's start and end."""

    def __init__(self) -> None:
        self.starts: list[tuple[Any, ...]] = []
        self.ends: list[tuple[Any, ...]] = []

    @lit.hookimpl
    def lit_train_batch_start(self, trainer: lit.Trainer, batch_idx: int) -> None:
        s = trainer.state
        self.starts.append((batch_idx, s.batch_idx, s.stepping, s.is_last_batch, s.global_step, s.batches_that_stepped))

    @lit.hookimpl
    def lit_train_batch_end(self, trainer: lit.Trainer, batch_idx: int) -> None:
        s = trainer.state
        assert (trainer.global_step, trainer.is_last_batch, trainer.current_epoch) == (s.global_step, s.is_last_batch, s.current_epoch)
        self.ends.append((batch_idx, s.stepping, s.global_step, s.batches_that_stepped, s.epoch_batches_done, s.total_batches_seen))


def test_state_during_a_fit_with_accumulate_grad_batches_3(make_trainer, boring_model, random_loader) -> None:
    recorder = StateRecorder()
    # 7 batches per epoch: steps after batches 3 and 6, and after the 7th (the epoch's last).
    trainer = make_trainer(plugins=[recorder], max_epochs=2, accumulate_grad_batches=3, limit_val_batches=0)
    trainer.fit(boring_model(), random_loader(n=14, batch_size=2))

    stepping = [False, False, True, False, False, True, True]
    last = [False] * 6 + [True]
    # At batch start the rule is already decided; the counters are still those of the previous batch.
    assert [(i, idx, st, ls) for i, idx, st, ls, *_ in recorder.starts[:7]] == [
        (i, i, stepping[i], last[i]) for i in range(7)
    ]
    assert [row[4:] for row in recorder.starts[:7]] == [(0, 0), (0, 0), (0, 0), (1, 1), (1, 1), (1, 1), (2, 2)]
    # At batch end: the batch is counted, and a stepping batch has stepped.
    assert recorder.ends[:7] == [
        (0, False, 0, 0, 1, 1), (1, False, 0, 0, 2, 2), (2, True, 1, 1, 3, 3),
        (3, False, 1, 1, 4, 4), (4, False, 1, 1, 5, 5), (5, True, 2, 2, 6, 6), (6, True, 3, 3, 7, 7),
    ]
    # The second epoch counts on from the first.
    assert recorder.ends[7:] == [
        (0, False, 3, 3, 1, 8), (1, False, 3, 3, 2, 9), (2, True, 4, 4, 3, 10),
        (3, False, 4, 4, 4, 11), (4, False, 4, 4, 5, 12), (5, True, 5, 5, 6, 13), (6, True, 6, 6, 7, 14),
    ]
    state = trainer.state
    assert (state.current_epoch, state.global_step, state.batches_that_stepped, state.total_batches_seen) == (2, 6, 6, 14)
    assert (trainer.current_epoch, trainer.global_step) == (2, 6)
    assert state.epoch_batches_total == 7 == trainer.num_training_batches
    assert state.metrics is None  # the logging session is closed after the fit


def test_the_logging_session_is_the_state_s_store(make_trainer, boring_model, random_loader) -> None:
    seen: list[tuple[bool, bool]] = []

    class Logs(boring_model):
        def training_step(self, batch, batch_idx):
            seen.append((self.trainer.state.metrics is self.trainer.state.train_metrics, self.trainer.state.log_on_step))
            self.log("loss_seen", 1.0)
            return super().training_step(batch, batch_idx)

    trainer = make_trainer(limit_val_batches=0)
    trainer.fit(Logs(), random_loader(n=4, batch_size=2))
    assert seen == [(True, True), (True, True)]
    assert "loss_seen" in trainer.state.train_metrics.metrics
    assert "loss_seen" in trainer.callback_metrics


def test_lightning_properties_write_through_to_the_state(make_trainer) -> None:
    trainer = make_trainer()
    trainer.should_stop = True
    trainer.current_epoch = 3
    trainer.global_step = 5
    assert (trainer.state.should_stop, trainer.state.current_epoch, trainer.state.global_step) == (True, 3, 5)
    assert isinstance(trainer.state, LoopState)
    assert trainer.state.fn is None and trainer.state.stage is None  # Lightning's TrainerState fields are kept


class Picklable(lit.LightningModule):
    """Module-level, so a Trainer holding it pickles (a fixture's class does not)."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        return F.mse_loss(self.layer(batch[0]), batch[0][:, :1])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_a_pickled_trainer_keeps_the_position_and_drops_the_stage_bindings(make_trainer, random_loader) -> None:
    trainer = make_trainer(limit_val_batches=0)
    trainer.fit(Picklable(), random_loader(n=6, batch_size=2))
    assert trainer.state.to_device is not None and vars(trainer.state.events)
    restored = pickle.loads(pickle.dumps(trainer))
    assert (restored.state.global_step, restored.state.current_epoch, restored.state.batches_that_stepped) == (3, 1, 3)
    assert restored.state.events == SimpleNamespace() and restored.state.to_device is None
    assert vars(trainer.state.events)  # the original keeps its bindings
