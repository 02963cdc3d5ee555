"""OnExceptionCheckpoint: a crash mid-fit leaves a checkpoint that resumes where it stopped."""

from __future__ import annotations

import pytest
import torch

from lit_callbacks import OnExceptionCheckpoint


class Crash(RuntimeError):
    pass


def test_checkpoint_on_exception_then_resume(make_trainer, boring_model, tmp_path):
    class CrashesAtStep5(boring_model):
        crash = True

        def training_step(self, batch, batch_idx):
            if self.crash and self.trainer.global_step == 5:
                raise Crash("power cut")
            return super().training_step(batch, batch_idx)

    model = CrashesAtStep5()
    cb = OnExceptionCheckpoint(tmp_path / "crash", filename="last_words")
    with pytest.raises(Crash):
        make_trainer(max_epochs=3, callbacks=[cb]).fit(model)
    path = tmp_path / "crash" / "last_words.ckpt"
    assert cb.ckpt_path == str(path) and path.exists()
    saved = torch.load(path, weights_only=False)
    assert saved["global_step"] == 5 and saved["epoch"] == 1
    assert torch.equal(saved["state_dict"]["layer.weight"], model.layer.weight.detach())

    resumed = CrashesAtStep5()
    resumed.crash = False
    trainer = make_trainer(max_epochs=3, callbacks=[OnExceptionCheckpoint(tmp_path / "crash", filename="last_words")])
    trainer.fit(resumed, ckpt_path=str(path))
    assert trainer.global_step == 12 and trainer.current_epoch == 3
    assert not path.exists(), "a run that ends cleanly removes the file"


def test_no_file_without_exception(make_trainer, boring_model, tmp_path):
    make_trainer(callbacks=[OnExceptionCheckpoint(tmp_path)]).fit(boring_model())
    assert not (tmp_path / "on_exception.ckpt").exists()


def test_empty_filename_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="filename cannot be empty"):
        OnExceptionCheckpoint(tmp_path, filename="")
