"""lit-rich: ``RichProgressBar`` and ``RichModelSummary``."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

import lit_core as lit
from lit_rich import RichModelSummary, RichProgressBar


@pytest.fixture
def model(boring_model, random_loader):
    """A boring model with 20 training batches that logs ``train_loss`` with ``prog_bar=True``."""

    class Model(boring_model):
        def training_step(self, batch: Any, batch_idx: int) -> Any:
            loss = self.loss(batch)
            self.log("train_loss", loss, prog_bar=True)
            return loss

        def train_dataloader(self) -> Any:
            return random_loader(n=40, batch_size=2)

    return Model


def rich_bar(out: io.StringIO, **kwargs: Any) -> RichProgressBar:
    return RichProgressBar(console_kwargs={"file": out, "force_terminal": True, "width": 200}, **kwargs)


def trainer_with(callbacks: list[Any], tmp_root: Path, **flags: Any) -> lit.Trainer:
    flags = {"default_root_dir": tmp_root, "max_epochs": 1, "enable_checkpointing": False,
             "enable_model_summary": False, "callbacks": callbacks, **flags}
    return lit.Trainer(**flags)


def test_by_name_and_in_plugins(tmp_root):
    for trainer in (lit.Trainer(default_root_dir=tmp_root, callbacks=["rich"]),
                    lit.Trainer(default_root_dir=tmp_root, plugins=["rich"])):
        assert isinstance(trainer.progress_bar_callback, RichProgressBar)
        bars = [cb for cb in trainer.callbacks if getattr(cb, "is_progress_bar", False)]
        assert bars == [trainer.progress_bar_callback], "rich replaces the default tqdm bar"
    trainer = lit.Trainer(default_root_dir=tmp_root, callbacks=["rich_model_summary"])
    assert any(isinstance(cb, RichModelSummary) for cb in trainer.callbacks)


def test_bar_shows_progress_and_metrics(model, tmp_root):
    out = io.StringIO()
    trainer = trainer_with([rich_bar(out, min_interval=0)], tmp_root, max_epochs=2)
    trainer.fit(model())
    text = out.getvalue()
    assert "Sanity Checking" in text and "Validation" in text
    assert "Epoch 1" in text and "20/20" in text and "it/s" in text
    assert "train_loss:" in text and "v_num: 0" in text


def test_metrics_read_only_when_redrawn_and_rank_zero(model, tmp_root, monkeypatch):
    reads = []
    original = lit.Trainer.progress_bar_metrics
    monkeypatch.setattr(lit.Trainer, "progress_bar_metrics", property(lambda self: reads.append(1) or original.fget(self)))
    trainer_with([rich_bar(io.StringIO(), refresh_rate=5, min_interval=0)], tmp_root, num_sanity_val_steps=0).fit(model())
    assert 4 <= len(reads) <= 6, f"20 batches at refresh_rate=5: {len(reads)} reads"

    monkeypatch.setattr(lit.rank_zero_only, "rank", 0)

    class Rank1:
        @lit.hookimpl
        def lit_setup_environment(self, trainer: lit.Trainer) -> None:
            trainer.global_rank = 1

    out = io.StringIO()
    trainer_with([rich_bar(out, min_interval=0)], tmp_root, plugins=[Rank1()]).fit(model())
    assert out.getvalue() == ""


def test_results_table_on_the_bars_console(model, tmp_root, capsys):
    out = io.StringIO()
    trainer = trainer_with([rich_bar(out)], tmp_root, logger=False)
    trainer.test(model())
    assert "Test metric" in out.getvalue() and "test_loss" in out.getvalue()
    assert "Test metric" not in capsys.readouterr().out


def test_model_summary_replaces_the_kernels(model, tmp_root, capsys):
    out = io.StringIO()
    summary = RichModelSummary(console_kwargs={"file": out, "width": 120})
    trainer = trainer_with([summary], tmp_root, enable_model_summary=True, enable_progress_bar=False)
    trainer.fit(model())
    text = out.getvalue()
    assert "layer" in text and "Linear" in text and "Total params" in text and "5" in text
    assert "Trainable params" not in capsys.readouterr().out, "the kernel's plain summary stays off"
    assert text.count("Total params") == 1, "printed once"

    trainer_with([summary], tmp_root, enable_model_summary=False, enable_progress_bar=False).fit(model())
    assert out.getvalue() == text, "enable_model_summary=False turns the rich table off too"


RICH_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
import lit_core as lit
from conftest import BoringModel, make_loader
from lit_rich import RichProgressBar

class Model(BoringModel):
    def training_step(self, batch, batch_idx):
        loss = self.loss(batch)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def train_dataloader(self):
        return make_loader(n=200, batch_size=2)

trainer = lit.Trainer(max_epochs=2, enable_checkpointing=False, enable_model_summary=False, logger="csv",
                      callbacks=[RichProgressBar(leave=True)])
trainer.fit(Model())
print("FIT DONE", flush=True)
"""


def test_rich_bar_in_a_real_terminal(tmp_path, run_in_tmux):
    script = tmp_path / "fit.py"
    script.write_text(RICH_SCRIPT.format(tests=str(Path(__file__).resolve().parents[2])))
    pane = run_in_tmux(script, "rich")
    assert "FIT DONE" in pane, pane
    epoch_1 = [line for line in pane.splitlines() if "Epoch 1" in line]
    assert epoch_1 and "100/100" in epoch_1[-1], f"no finished training bar on screen:\n{pane}"
    assert "train_loss" in pane and "v_num" in pane, pane
    assert "it/s" in pane, pane


def test_each_run_stops_its_live_display(model, tmp_root):
    """Fit reuses the epoch's task in place (leave=False); validate / predict each show their task, then stop."""
    out = io.StringIO()
    bar = rich_bar(out, min_interval=0)
    trainer = trainer_with([bar], tmp_root, max_epochs=2, logger=False)
    trainer.fit(model())
    assert bar.progress is None, "the live display stopped when training ended"
    trainer.validate(model())
    trainer.predict(model())
    assert bar.progress is None
    text = out.getvalue()
    assert "Epoch 1" in text and "Validation" in text and "Predicting" in text and "4/4" in text, text
