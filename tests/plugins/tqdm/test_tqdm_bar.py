"""lit-tqdm's ``TQDMProgressBar``: the default bar, its refresh policy, line mode, ranks, results."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import lit_core as lit
from lit_tqdm import TQDMProgressBar
from lit_tqdm import bar as bar_module

HERE = Path(__file__).resolve().parent
TESTS = HERE.parents[1]


class TTY(io.StringIO):
    """A stream that says it is a terminal, so the bar draws with tqdm."""

    def isatty(self) -> bool:
        return True


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


def fit_with(bar: TQDMProgressBar, model: Any, tmp_root: Path, **flags: Any) -> lit.Trainer:
    flags = {"default_root_dir": tmp_root, "max_epochs": 1, "enable_checkpointing": False,
             "enable_model_summary": False, "callbacks": [bar], **flags}
    trainer = lit.Trainer(**flags)
    trainer.fit(model())
    return trainer


def test_default_bar_when_installed(tmp_root):
    trainer = lit.Trainer(default_root_dir=tmp_root)
    assert isinstance(trainer.progress_bar_callback, TQDMProgressBar)
    assert lit.Trainer(default_root_dir=tmp_root, enable_progress_bar=False).progress_bar_callback is None
    assert lit.Trainer(default_root_dir=tmp_root, barebones=True).progress_bar_callback is None
    assert isinstance(lit.Trainer(default_root_dir=tmp_root, callbacks=["tqdm"]).progress_bar_callback, TQDMProgressBar)

    class MyBar(lit.Callback):
        is_progress_bar = True

    mine = MyBar()
    trainer = lit.Trainer(default_root_dir=tmp_root, callbacks=[mine])
    assert trainer.progress_bar_callback is mine
    assert not any(isinstance(cb, TQDMProgressBar) for cb in trainer.callbacks), "a user's bar replaces the default"


def test_terminal_bar_shows_metrics_and_every_stage(model, tmp_root):
    out = TTY()
    trainer = fit_with(TQDMProgressBar(file=out, min_interval=0), model, tmp_root, max_epochs=2)
    text = out.getvalue()
    assert "Sanity Checking" in text and "Validation" in text
    assert "Epoch 1: 100%" in text and "20/20" in text and "it/s" in text
    assert "train_loss=" in text and "v_num=0" in text
    trainer.predict(model())
    assert "Predicting" in out.getvalue()


def test_metrics_read_only_when_the_bar_redraws(model, tmp_root, monkeypatch):
    reads = []
    original = lit.Trainer.progress_bar_metrics

    def counted(self: lit.Trainer) -> dict[str, float]:
        reads.append(self.global_step)
        return original.fget(self)

    monkeypatch.setattr(lit.Trainer, "progress_bar_metrics", property(counted))
    fit_with(TQDMProgressBar(refresh_rate=5, file=TTY(), min_interval=0), model, tmp_root, num_sanity_val_steps=0)
    # 20 batches, refresh_rate=5: redraws at 5, 10, 15, 20, then after validation and at the epoch's end.
    assert sorted(set(reads[:4])) == [5, 10, 15, 20], reads
    assert len(reads) <= 6, reads

    reads.clear()
    fit_with(TQDMProgressBar(refresh_rate=1, file=TTY(), min_interval=3600), model, tmp_root, num_sanity_val_steps=0)
    assert len(reads) <= 3, f"min_interval throttles redraws (and metric reads) on a terminal: {reads}"


def test_refresh_rate_sets_the_redraw_points(model, tmp_root):
    out = TTY()
    fit_with(TQDMProgressBar(refresh_rate=7, file=out, min_interval=0), model, tmp_root, num_sanity_val_steps=0)
    text = out.getvalue()
    assert " 7/20" in text and "14/20" in text and "20/20" in text
    assert " 3/20" not in text and " 8/20" not in text
    out = TTY()
    fit_with(TQDMProgressBar(refresh_rate=0, file=out), model, tmp_root)
    assert out.getvalue() == "", "refresh_rate=0 turns the bar off"


def test_get_metrics_override(model, tmp_root):
    class MyBar(TQDMProgressBar):
        def get_metrics(self, trainer, pl_module):
            items = super().get_metrics(trainer, pl_module)
            items.pop("v_num", None)
            return {**items, "custom": 42}

    out = TTY()
    fit_with(MyBar(file=out, min_interval=0), model, tmp_root)
    assert "custom=42" in out.getvalue() and "v_num" not in out.getvalue()


def test_rank_zero_only(model, tmp_root, monkeypatch):
    monkeypatch.setattr(lit.rank_zero_only, "rank", 0)  # the Trainer copies global_rank into it

    class Rank1:
        @lit.hookimpl
        def lit_setup_environment(self, trainer: lit.Trainer) -> None:
            trainer.global_rank = 1

    out = TTY()
    fit_with(TQDMProgressBar(file=out, min_interval=0), model, tmp_root, plugins=[Rank1()])
    assert out.getvalue() == ""


def test_results_table_goes_through_the_bar(model, tmp_root, capsys):
    out = io.StringIO()
    bar = TQDMProgressBar(file=out)
    trainer = lit.Trainer(default_root_dir=tmp_root, callbacks=[bar], logger=False, enable_checkpointing=False)
    trainer.test(model())
    printed = out.getvalue()
    assert "Test metric" in printed and "test_loss" in printed and "DataLoader" in printed
    assert "Test metric" not in capsys.readouterr().out, "the kernel's default printed through the bar"
    bar.disable()
    trainer.test(model())
    assert "Test metric" in capsys.readouterr().out, "a disabled bar leaves the table to the kernel"


def test_a_users_results_printer_wins_over_the_bar(model, tmp_root, capsys):
    class OneLine:
        @lit.hookimpl
        def lit_print_results(self, stage, results):
            print("results:", stage, sorted(results[0]))
            return True

    out = io.StringIO()
    trainer = lit.Trainer(default_root_dir=tmp_root, callbacks=[TQDMProgressBar(file=out)], plugins=[OneLine()],
                          logger=False, enable_checkpointing=False)
    trainer.test(model())
    assert "Test metric" not in out.getvalue(), "the bar is not asked"
    assert capsys.readouterr().out == "results: test ['test_loss']\n"


def test_notebook_uses_tqdm_auto(monkeypatch):
    import tqdm
    import tqdm.auto

    assert bar_module.tqdm_class() is tqdm.tqdm
    monkeypatch.setattr(bar_module, "in_notebook", lambda: True)
    assert bar_module.tqdm_class() is tqdm.auto.tqdm
    assert TQDMProgressBar(file=io.StringIO()).is_terminal, "a notebook draws bars though its stream is no tty"


SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    import lit_core as lit
    from conftest import BoringModel, make_loader

    class Model(BoringModel):
        def training_step(self, batch, batch_idx):
            loss = self.loss(batch)
            self.log("train_loss", loss, prog_bar=True)
            return loss

        def train_dataloader(self):
            return make_loader(n=200, batch_size=2)

    trainer = lit.Trainer(max_epochs={epochs}, enable_checkpointing=False, enable_model_summary=False, logger="csv",
                          callbacks={callbacks})
    trainer.fit(Model())
    print("FIT DONE", flush=True)
""")


def test_non_terminal_prints_plain_lines(tmp_path):
    script = tmp_path / "fit.py"
    script.write_text(SCRIPT.format(tests=str(TESTS), epochs=2, callbacks=[]))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    err = result.stdout  # the bars write to standard output, as Lightning's
    assert "\r" not in err and "\r" not in result.stderr, "no carriage-return redraws in a log"
    lines = [line for line in err.splitlines() if line.startswith("Epoch ")]
    # 100 batches an epoch: a line every 5 batches (5 %), 20 per epoch.
    assert len([line for line in lines if line.startswith("Epoch 0:")]) == 20, err
    assert any(line.startswith("Epoch 1: 100% 100/100 [") and "train_loss=" in line and "v_num=0" in line for line in lines), err
    assert "Epoch 0:  50% 50/100" in err
    assert any(line.startswith("Validation: 100% 4/4") for line in err.splitlines()), err
    assert "FIT DONE" in result.stdout


def test_bar_in_a_real_terminal(tmp_path, run_in_tmux):
    script = tmp_path / "fit.py"
    script.write_text(SCRIPT.format(tests=str(TESTS), epochs=2, callbacks=[]))
    pane = run_in_tmux(script, "tqdm")
    assert "FIT DONE" in pane, pane
    bar = [line for line in pane.splitlines() if line.startswith("Epoch 1: 100%")]
    assert bar, f"no finished training bar on screen:\n{pane}"
    assert "100/100" in bar[-1] and "it/s" in bar[-1] and "train_loss=" in bar[-1] and "v_num=0" in bar[-1], pane
    assert "Epoch 0:" not in pane, "leave=False: the epoch's bar is redrawn in place, not repeated"


def test_batches_between_redraws_cost_no_clock_read(model, tmp_root, random_loader):
    """Between redraws the bar skips the batches it expects before min_interval, without reading the clock."""

    class Clock:
        """1 ms per read: a fast training loop on a fake clock."""

        def __init__(self) -> None:
            self.now, self.reads = 0.0, 0

        def __call__(self) -> float:
            self.reads += 1
            self.now += 0.001
            return self.now

    class Long(model):
        def train_dataloader(self):
            return random_loader(n=400, batch_size=1)

    out = TTY()
    bar = TQDMProgressBar(refresh_rate=1, file=out, min_interval=0.05)
    clock = bar._clock = Clock()
    fit_with(bar, Long, tmp_root, num_sanity_val_steps=0, limit_val_batches=0)
    assert 0 < clock.reads < 400 / 4, f"{clock.reads} clock reads for 400 batches"
    assert "400/400" in out.getvalue()
