"""The bar objects and batch counts callbacks read, as in Lightning: on a terminal and in line mode alike."""

from __future__ import annotations

import io
from typing import Any

import pytest
import tqdm

import lit_core as lit
from lit_tqdm import TQDMProgressBar


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class Reader(lit.Callback):
    """Reads the bar the way users' callbacks do, at every batch."""

    def __init__(self) -> None:
        self.train_n: list[tuple[int, int]] = []
        self.val_n: list[int] = []
        self.totals: dict[str, Any] = {}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        bar = trainer.progress_bar_callback
        self.train_n.append((batch_idx, bar.train_progress_bar.n))
        self.totals.update(train=bar.total_train_batches, val=bar.total_val_batches)

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        bar = trainer.progress_bar_callback
        self.val_n.append(bar.val_progress_bar.n)
        self.totals["val_current"] = bar.total_val_batches_current_dataloader

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        self.totals["test_current"] = trainer.progress_bar_callback.total_test_batches_current_dataloader

    def on_predict_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        self.totals["predict_current"] = trainer.progress_bar_callback.total_predict_batches_current_dataloader


@pytest.mark.parametrize("stream", [io.StringIO, TTY], ids=["lines", "terminal"])
def test_bars_are_tqdm_objects_kept_current_and_after_the_loop(boring_model, random_loader, tmp_root, stream):
    out = stream()
    bar = TQDMProgressBar(file=out, min_interval=3600)  # a terminal redraws rarely: n must be current anyway
    with pytest.raises(TypeError, match="not been created"):
        bar.train_progress_bar  # Lightning raises before the loop opens the bar
    reader = Reader()
    trainer = lit.Trainer(default_root_dir=tmp_root, max_epochs=2, limit_train_batches=6, limit_val_batches=3,
                          num_sanity_val_steps=1, enable_checkpointing=False, enable_model_summary=False, logger=False,
                          accelerator="cpu", callbacks=[bar, reader])
    model = boring_model()
    trainer.fit(model, random_loader(n=16), random_loader(n=16))
    assert reader.train_n == [(i, i + 1) for i in range(6)] * 2, "n is the batch count at every batch"
    assert reader.val_n == [1] + [1, 2, 3] * 2, "the sanity check's bar, then each validation run's"
    assert reader.totals == {"train": 6, "val": 3, "val_current": 3}
    assert isinstance(bar.train_progress_bar, tqdm.tqdm) and isinstance(bar.val_progress_bar, tqdm.tqdm)
    assert (bar.train_progress_bar.n, bar.train_progress_bar.total) == (6, 6), "kept after fit, with its final count"
    assert (bar.val_progress_bar.n, bar.val_progress_bar.total) == (3, 3)
    assert "train_loss" not in bar.train_progress_bar.postfix and bar.train_progress_bar.desc.startswith("Epoch 1")

    trainer.test(model, random_loader(n=10))
    trainer.predict(model, random_loader(n=6))
    assert (bar.test_progress_bar.n, bar.test_progress_bar.total) == (5, 5)
    assert (bar.predict_progress_bar.n, bar.predict_progress_bar.total) == (3, 3)
    assert reader.totals["test_current"] == 5 and reader.totals["predict_current"] == 3
    if stream is io.StringIO:
        text = out.getvalue()
        assert "\r" not in text and "Epoch 1: 100% 6/6 [" in text and "Testing: 100% 5/5" in text, text


def test_total_val_batches_is_zero_when_fit_does_not_validate_that_epoch(boring_model, random_loader, tmp_root):
    seen = []

    class Probe(lit.Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            seen.append(trainer.progress_bar_callback.total_val_batches)

    trainer = lit.Trainer(default_root_dir=tmp_root, max_epochs=2, limit_train_batches=1, check_val_every_n_epoch=2,
                          num_sanity_val_steps=0, enable_checkpointing=False, logger=False, accelerator="cpu",
                          callbacks=[TQDMProgressBar(file=io.StringIO()), Probe()], enable_model_summary=False)
    trainer.fit(boring_model(), random_loader(n=4), random_loader(n=6))
    assert seen == [0, 3]
    with pytest.deprecated_call(match="total_test_batches"):
        trainer.test(boring_model(), random_loader(n=6))
        assert trainer.progress_bar_callback.total_test_batches == 3


def test_refresh_rate_follows_lightnings_environment_rules(monkeypatch):
    assert TQDMProgressBar().refresh_rate == 1
    monkeypatch.setenv("TQDM_MINITERS", "10")
    assert TQDMProgressBar().refresh_rate == 10 and TQDMProgressBar(refresh_rate=25).refresh_rate == 25
    monkeypatch.delenv("TQDM_MINITERS")
    monkeypatch.setenv("COLAB_GPU", "1")
    assert TQDMProgressBar().refresh_rate == 20 and TQDMProgressBar(refresh_rate=5).refresh_rate == 5


def test_default_stream_is_standard_output(boring_model, random_loader, tmp_root, capsys):
    trainer = lit.Trainer(default_root_dir=tmp_root, max_epochs=1, limit_train_batches=2, enable_checkpointing=False,
                          logger=False, accelerator="cpu", callbacks=[TQDMProgressBar()], enable_model_summary=False)
    trainer.fit(boring_model(), random_loader(n=4))
    captured = capsys.readouterr()
    assert "Epoch 0: 100% 2/2" in captured.out and "Epoch 0" not in captured.err


@pytest.mark.parametrize("stream", [io.StringIO, TTY], ids=["lines", "terminal"])
def test_tqdm_disable_environment_variable_silences_the_bars(boring_model, random_loader, tmp_root, monkeypatch, stream):
    def fit() -> TQDMProgressBar:
        bar = TQDMProgressBar(file=out)
        trainer = lit.Trainer(default_root_dir=tmp_root, max_epochs=1, limit_train_batches=3, enable_checkpointing=False,
                              logger=False, accelerator="cpu", callbacks=[bar], enable_model_summary=False)
        trainer.fit(boring_model(), random_loader(n=8))
        return bar

    monkeypatch.setenv("TQDM_DISABLE", "1")  # tqdm's own switch, as for any tqdm bar
    out = stream()
    bar = fit()
    assert out.getvalue() == ""
    with pytest.raises(TypeError):
        bar.train_progress_bar  # no bar was opened, as with refresh_rate=0
    monkeypatch.setenv("TQDM_DISABLE", "0")
    bar = fit()
    assert "Epoch 0" in out.getvalue() and bar.train_progress_bar.n == 3


def test_lightnings_documented_overrides(boring_model, random_loader, tmp_root):
    """Lightning's recipes: ``init_validation_tqdm`` that sets its own description, and an
    ``on_train_epoch_start`` that renames the training bar after ``super()``."""

    class LitProgressBar(TQDMProgressBar):
        def init_validation_tqdm(self):
            bar = super().init_validation_tqdm()
            bar.set_description("running validation ...")
            return bar

        def on_train_epoch_start(self, trainer, *_):
            super().on_train_epoch_start(trainer, *_)
            self.train_progress_bar.set_description(f"My epoch {trainer.current_epoch}")

    out = TTY()
    trainer = lit.Trainer(default_root_dir=tmp_root, max_epochs=2, limit_train_batches=2, limit_val_batches=1,
                          num_sanity_val_steps=0, enable_checkpointing=False, enable_model_summary=False, logger=False,
                          accelerator="cpu", callbacks=[LitProgressBar(file=out, min_interval=0)])
    trainer.fit(boring_model(), random_loader(n=8), random_loader(n=8))
    text = out.getvalue()
    assert "running validation ..." in text and "My epoch 1" in text, text
    assert trainer.progress_bar_callback.val_progress_bar.desc.startswith("running validation ...")
