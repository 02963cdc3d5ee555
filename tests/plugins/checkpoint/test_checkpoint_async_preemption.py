"""``AsyncCheckpointIO`` / ``ModelCheckpoint(async_save=True)`` and the preemption handler, in process.

(The same handler under real signals from outside, and SLURM requeue: tests/e2e/test_kill_and_preemption.py.)
"""

from __future__ import annotations

import os
import signal
import time

import pytest
import torch

import lit_core as lit
from lit_checkpoint import AsyncCheckpointIO, ModelCheckpoint
from lit_checkpoint.preemption import slurm_job_id


def trainer_for(tmp_root, callbacks, **flags):
    return lit.Trainer(default_root_dir=tmp_root, logger=False, enable_progress_bar=False, enable_model_summary=False,
                       callbacks=callbacks, **flags)


class WithBuffer:
    """Mixed into the boring model: a buffer changed in place by every forward pass (batch-norm style)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("calls", torch.zeros(1))

    def forward(self, x):
        self.calls += 1
        return super().forward(x)


class Recorder(lit.Callback):
    """Keeps a copy of the weights and buffer at every step a checkpoint is saved."""

    def __init__(self, every: int) -> None:
        self.every, self.states = every, {}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step % self.every == 0:
            self.states[trainer.global_step] = {k: v.clone() for k, v in pl_module.state_dict().items()}


def test_async_save_writes_the_state_of_the_step_it_was_asked_at(tmp_root, boring_model, monkeypatch):
    from lit_checkpoint import async_save

    clone = async_save._clone

    def slow_background_copy(obj, keep=None):
        if keep is None and isinstance(obj, dict) and "state_dict" in obj:  # the background copy (once per save):
            # slow, so training runs on while it is pending
            time.sleep(0.1)
        return clone(obj, keep)

    monkeypatch.setattr(async_save, "_clone", slow_background_copy)
    model = type("Buffered", (WithBuffer, boring_model), {})()
    recorder = Recorder(every=2)
    checkpoint = ModelCheckpoint(dirpath=tmp_root / "ckpt", every_n_train_steps=2, save_top_k=-1, async_save=True)
    trainer = trainer_for(tmp_root, [recorder, checkpoint], max_epochs=2)
    trainer.fit(model)  # 8 steps; training goes on while each checkpoint is written

    async_io = next(p for p in trainer.plugin_manager.get_plugins() if isinstance(p, AsyncCheckpointIO))
    assert len(async_io.stalls) == 4, "each save's stall is recorded"
    names = sorted(os.listdir(tmp_root / "ckpt"))
    assert names == ["epoch=0-step=2.ckpt", "epoch=0-step=4.ckpt", "epoch=1-step=6.ckpt", "epoch=1-step=8.ckpt"]
    for name in names:
        saved = torch.load(tmp_root / "ckpt" / name, weights_only=True)
        expected = recorder.states[saved["global_step"]]
        for key, value in expected.items():
            assert torch.equal(saved["state_dict"][key], value), f"{name}: {key} is not the state of its step"


def test_async_top_k_deletes_only_after_the_replacement_is_written(tmp_root, boring_model, files):
    checkpoint = ModelCheckpoint(dirpath=tmp_root / "ckpt", every_n_train_steps=1, save_last=True, async_save=True)
    trainer_for(tmp_root, [checkpoint], max_epochs=2).fit(boring_model())
    assert files(tmp_root / "ckpt") == ["epoch=1-step=8.ckpt", "last.ckpt"]
    assert torch.load(tmp_root / "ckpt" / "last.ckpt", weights_only=True)["global_step"] == 8


def test_a_failed_background_write_is_raised_by_fit(tmp_root, boring_model):
    class Broken:
        @lit.hookimpl
        def lit_save_checkpoint(self, checkpoint, path):
            raise OSError("disk full")

    trainer = trainer_for(tmp_root, [ModelCheckpoint(dirpath=tmp_root / "ckpt")], max_epochs=1,
                          plugins=[Broken(), AsyncCheckpointIO()])
    with pytest.raises(OSError, match="disk full"):
        trainer.fit(boring_model())


def test_sigterm_in_process_saves_last_and_exits_zero(tmp_root, boring_model):
    previous = signal.getsignal(signal.SIGTERM)

    class SignalledAtStep3(boring_model):
        def on_train_start(self):
            self.first_step = self.trainer.global_step

        def training_step(self, batch, batch_idx):
            if self.trainer.global_step == 3 and batch_idx == 3:
                os.kill(os.getpid(), signal.SIGTERM)  # arrives mid-step; the step still finishes
            return super().training_step(batch, batch_idx)

    trainer = trainer_for(tmp_root, [ModelCheckpoint(dirpath=tmp_root / "ckpt")], max_epochs=3)
    with pytest.raises(SystemExit) as info:
        trainer.fit(SignalledAtStep3())
    assert info.value.code == 0
    saved = torch.load(tmp_root / "ckpt" / "last.ckpt", weights_only=True)
    assert saved["global_step"] == 4 and saved["loops"]["epoch_batches_done"] == 4
    assert signal.getsignal(signal.SIGTERM) == previous, "the handler is removed when the run ends"

    # The restarted script builds the same module (ckpt_path="last" resumes no other experiment's checkpoint).
    resumed = trainer_for(tmp_root, [ModelCheckpoint(dirpath=tmp_root / "ckpt")], max_epochs=3)
    model = SignalledAtStep3()
    resumed.fit(model, ckpt_path="last")
    assert model.first_step == 4 and resumed.global_step == 12


def test_preemption_waits_for_the_end_of_an_accumulation(tmp_root, boring_model):
    class SignalledMidAccumulation(boring_model):
        def training_step(self, batch, batch_idx):
            if self.current_epoch == 0 and batch_idx == 0:
                os.kill(os.getpid(), signal.SIGUSR1)
            return super().training_step(batch, batch_idx)

    trainer = trainer_for(tmp_root, [ModelCheckpoint(dirpath=tmp_root / "ckpt")], max_epochs=2, accumulate_grad_batches=2)
    with pytest.raises(SystemExit):
        trainer.fit(SignalledMidAccumulation())
    saved = torch.load(tmp_root / "ckpt" / "last.ckpt", weights_only=True)
    assert saved["global_step"] == 1 and saved["loops"]["epoch_batches_done"] == 2, "saved after the step, not mid-way"


def test_no_signal_handler_outside_fit(tmp_root, boring_model):
    previous = signal.getsignal(signal.SIGTERM)
    trainer = trainer_for(tmp_root, [ModelCheckpoint(dirpath=tmp_root / "ckpt")], max_epochs=1)
    trainer.fit(boring_model())
    trainer.validate(boring_model())
    assert signal.getsignal(signal.SIGTERM) == previous


def test_slurm_job_id_for_plain_and_array_jobs():
    assert slurm_job_id({"SLURM_JOB_ID": "77"}) == "77"
    assert slurm_job_id({"SLURM_JOB_ID": "78", "SLURM_ARRAY_JOB_ID": "70", "SLURM_ARRAY_TASK_ID": "3"}) == "70_3"
    assert slurm_job_id({}) is None
