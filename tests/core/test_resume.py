"""Kernel-side checkpoint content: a run resumed from an end-of-epoch checkpoint matches an uninterrupted one."""

from __future__ import annotations

import pytest
import torch

import lit_core as lit


class SaveAtEpochEnd(lit.Callback):
    """Where a checkpoint callback saves: at the end of each training epoch."""

    def __init__(self, folder):
        self.folder = folder

    def on_train_epoch_end(self, trainer, pl_module):
        trainer.save_checkpoint(self.folder / f"epoch={trainer.current_epoch}.ckpt")


def test_resume_from_epoch_end_reproduces_the_uninterrupted_run(make_trainer, boring_model, tmp_root):
    torch.manual_seed(0)
    whole = boring_model()
    make_trainer(max_epochs=3, callbacks=[SaveAtEpochEnd(tmp_root)]).fit(whole)

    resumed = boring_model()
    trainer = make_trainer(max_epochs=3)
    trainer.fit(resumed, ckpt_path=str(tmp_root / "epoch=1.ckpt"))
    assert trainer.global_step == 12 and trainer.current_epoch == 3
    torch.testing.assert_close(resumed.state_dict(), whole.state_dict())


def test_checkpoint_after_fit_resumes_as_finished(make_trainer, boring_model, tmp_root):
    trainer = make_trainer(max_epochs=2)
    trainer.fit(boring_model())
    trainer.save_checkpoint(tmp_root / "end.ckpt")
    again = make_trainer(max_epochs=2)
    again.fit(boring_model(), ckpt_path=str(tmp_root / "end.ckpt"))
    assert again.current_epoch == 2 and again.global_step == 8  # nothing left to train


def test_hyperparameters_that_cannot_load_safely_are_left_out_at_save(make_trainer, boring_model, tmp_root):
    """Issue 13: warned about at save_hyperparameters() (Lightning's warning), never an error at a save mid-training."""
    relu = torch.nn.ReLU()

    class WithModuleArg(boring_model):
        def __init__(self, activation=relu, width=8):
            super().__init__()
            self.save_hyperparameters()

    with pytest.warns(UserWarning, match=r"'activation' is an instance of `nn.Module`.*ignore=\['activation'\]"):
        model = WithModuleArg()
    trainer = make_trainer(limit_train_batches=1, limit_val_batches=0)
    trainer.fit(model)
    trainer.save_checkpoint(tmp_root / "x.ckpt")
    assert torch.load(tmp_root / "x.ckpt", weights_only=True)["hyper_parameters"] == {"width": 8}
