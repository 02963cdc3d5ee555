"""lit-profilers on the hook layer: what ``SimpleProfiler`` reports, where, and for which stage."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import lit_core as lit
from lit_profilers import PassThroughProfiler, SimpleProfiler

#: BoringModel's loaders hold 4 batches.
STEPS = 4


class Watcher(lit.Callback):
    """A callback whose per-step hook the report must list under its class name."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        pass


class ThirdParty:
    """A plugin of no kind (``plugins=[...]``): the report lists it under its registered name."""

    @lit.hookimpl
    def lit_train_batch_end(self, trainer):
        pass


def counts(profiler: SimpleProfiler) -> dict[str, int]:
    return {action: len(durations) for action, durations in profiler.recorded_durations.items() if durations}


def test_simple_profiler_times_every_hook_by_plugin_and_the_step_actions(boring_model, make_trainer):
    profiler = SimpleProfiler()
    trainer = make_trainer(profiler=profiler, callbacks=[Watcher()], plugins=[ThirdParty()], limit_val_batches=0)
    trainer.fit(boring_model())
    seen = counts(profiler)
    for action in ("[LightningModule]BoringModel.training_step", "[LightningModule]BoringModel.backward",
                   "[Optimizer]SGD.step", "[Optimizer]SGD.zero_grad", "[FitLoop].train_dataloader_next",
                   "[Callback]Watcher.on_train_batch_end", "[plugin:ThirdParty]lit_train_batch_end"):
        assert seen.get(action) == STEPS, (action, seen)
    assert "[LightningModule]BoringModel.validation_step" not in seen  # limit_val_batches=0
    assert all(profiler.recorded_durations.values())  # only actions that ran, as Lightning's
    report = profiler.summary()
    assert report.startswith("FIT Profiler Report")
    for column in ("Action", "Mean duration (s)", "Num calls", "Total time (s)", "Percentage %", "Total"):
        assert column in report
    assert "[Callback]Watcher.on_train_batch_end" in report and "[plugin:ThirdParty]lit_train_batch_end" in report


def test_the_lightning_modules_own_hooks_and_each_evaluation_stage_are_reported(boring_model, make_trainer):
    class Hooked(boring_model):
        def on_train_epoch_end(self):
            pass

    profiler = SimpleProfiler()
    trainer = make_trainer(profiler=profiler, num_sanity_val_steps=0)
    model = Hooked()
    trainer.fit(model)
    seen = counts(profiler)
    assert seen["[LightningModule]Hooked.on_train_epoch_end"] == 1
    assert seen["run_training_epoch"] == 1
    assert seen["[LightningModule]Hooked.validation_step"] == STEPS
    assert seen["[EvaluationLoop].validate_dataloader_next"] == STEPS
    trainer.test(model)
    trainer.predict(model)
    seen = counts(profiler)
    assert seen["[LightningModule]Hooked.test_step"] == STEPS
    assert seen["[LightningModule]Hooked.predict_step"] == STEPS
    assert seen["[EvaluationLoop].predict_dataloader_next"] == STEPS
    assert profiler.summary().startswith("PREDICT Profiler Report")


def test_not_extended_is_mean_and_total_only(boring_model, make_trainer):
    profiler = SimpleProfiler(extended=False)
    make_trainer(profiler=profiler, limit_val_batches=0).fit(boring_model())
    report = profiler.summary()
    assert "Mean duration (s)" in report and "Total time (s)" in report
    assert "Num calls" not in report and "Percentage %" not in report
    means = [float(line.split("|")[2]) for line in report.splitlines() if line.startswith("|  [")]
    assert means == sorted(means, reverse=True) and len(means) >= 5


def test_each_stage_writes_its_report_to_dirpath(boring_model, make_trainer, tmp_path: Path):
    out = tmp_path / "profiles"
    trainer = make_trainer(profiler=SimpleProfiler(dirpath=out, filename="perf"))
    model = boring_model()
    trainer.fit(model)
    trainer.validate(model)
    trainer.test(model)
    trainer.predict(model)
    assert sorted(p.name for p in out.iterdir()) == ["fit-perf.txt", "predict-perf.txt", "test-perf.txt", "validate-perf.txt"]
    assert (out / "fit-perf.txt").read_text().startswith("FIT Profiler Report")
    assert "[LightningModule]BoringModel.test_step" in (out / "test-perf.txt").read_text()


def test_without_dirpath_the_file_goes_to_the_log_dir(boring_model, make_trainer, tmp_root: Path):
    make_trainer(profiler=SimpleProfiler(filename="perf"), limit_val_batches=0).fit(boring_model())
    assert (tmp_root / "fit-perf.txt").is_file()  # no logger: trainer.log_dir is default_root_dir


def test_without_filename_the_report_is_logged(boring_model, make_trainer):
    """To lit-core's logger, which shows INFO on stderr (as Lightning shows its report)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = records.append
    lit_log = logging.getLogger("lit_core")
    lit_log.addHandler(handler)
    try:
        make_trainer(profiler="simple", limit_val_batches=0).fit(boring_model())
    finally:
        lit_log.removeHandler(handler)
    text = "\n".join(r.getMessage() for r in records if r.name == "lit_core.profilers")
    assert "FIT Profiler Report" in text
    assert "[LightningModule]BoringModel.training_step" in text
    assert logging.getLogger("lit_core.profilers").getEffectiveLevel() == logging.INFO


def test_profile_from_user_code_is_an_action(boring_model, make_trainer):
    class Timed(boring_model):
        def training_step(self, batch, batch_idx):
            with self.trainer.profiler.profile("my block") as name:
                assert name == "my block"
                return super().training_step(batch, batch_idx)

    profiler = SimpleProfiler()
    make_trainer(profiler=profiler, limit_val_batches=0).fit(Timed())
    assert counts(profiler)["my block"] == STEPS
    # No profiler: trainer.profiler is lit-core's do-nothing one, and the same code runs.
    trainer = make_trainer(limit_val_batches=0)
    trainer.fit(Timed())
    assert trainer.global_step == STEPS
    with trainer.profiler.profile("outside") as name:
        assert name == "outside"
    assert trainer.profiler.summary() == ""


def test_start_and_stop_check_their_order():
    profiler = SimpleProfiler()
    profiler.start("a")
    with pytest.raises(ValueError, match="Attempted to start a which has already started"):
        profiler.start("a")
    profiler.stop("a")
    with pytest.raises(ValueError, match=r"\(a\) which was never started"):
        profiler.stop("a")
    assert len(profiler.recorded_durations["a"]) == 1


def test_passthrough_records_nothing_and_watches_nothing(boring_model, make_trainer):
    trainer = make_trainer(profiler="passthrough", limit_val_batches=0)
    assert isinstance(trainer.profiler, PassThroughProfiler)
    trainer.fit(boring_model())
    assert trainer.profiler.summary() == ""
    assert not trainer.plugin_manager.has_plugin("lit.profiler-observer")


def test_a_failed_stage_puts_back_what_it_wrapped(boring_model, make_trainer):
    class Failing(boring_model):
        def training_step(self, batch, batch_idx):
            raise RuntimeError("boom")

    trainer = make_trainer(profiler="simple", callbacks=[Watcher()], limit_val_batches=0)
    pm = trainer.plugin_manager
    before = {name: [impl.function for impl in caller.get_hookimpls()] for name, caller in vars(pm.hook).items()}
    model = Failing()
    with pytest.raises(RuntimeError, match="boom"):
        trainer.fit(model)
    after = {name: [impl.function for impl in caller.get_hookimpls()] for name, caller in vars(pm.hook).items()}
    assert after == before
    assert "training_step" not in model.__dict__ and "backward" not in model.__dict__
    assert not [name for name in ("step", "zero_grad") for opt in trainer.optimizers if name in opt.__dict__]
