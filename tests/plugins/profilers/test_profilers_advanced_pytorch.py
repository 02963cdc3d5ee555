"""``AdvancedProfiler`` (cProfile per action) and ``PyTorchProfiler`` (torch.profiler, traces)."""

from __future__ import annotations

import json
import pstats
from pathlib import Path

import pytest
import torch

from lit_core.plugin_api import MisconfigurationException
from lit_profilers import AdvancedProfiler, PyTorchProfiler

STEP = "[LightningModule]BoringModel.training_step"


def test_advanced_profiler_reports_a_cprofile_per_action(boring_model, make_trainer, tmp_path: Path):
    out = tmp_path / "adv"
    make_trainer(profiler=AdvancedProfiler(dirpath=out, filename="perf"), limit_val_batches=0).fit(boring_model())
    report = (out / "fit-perf.txt").read_text()
    assert report.startswith("FIT Profiler Report")
    assert f"Profile stats for: {STEP}" in report
    assert "Ordered by: cumulative time" in report
    # The step's own profile holds the model's code (the loss), not the hooks around it.
    step_block = report.split(f"Profile stats for: {STEP}")[1].split("Profile stats for:")[0]
    assert "(loss)" in step_block and "function calls" in step_block
    assert list(out.glob("*.prof")) == [], "raw profiles only with dump_stats=True, as Lightning"


def test_advanced_profiler_dump_stats_saves_each_action_raw_profile(boring_model, make_trainer, tmp_path: Path):
    out = tmp_path / "adv"
    profiler = AdvancedProfiler(dirpath=out, filename="perf", dump_stats=True)
    make_trainer(profiler=profiler, limit_val_batches=0).fit(boring_model())
    (raw,) = out.glob("fit-perf-*BoringModel.training_step.prof")
    assert pstats.Stats(str(raw)).total_calls > 0


def test_advanced_profiler_line_count_restriction(boring_model, make_trainer, tmp_path: Path):
    profiler = AdvancedProfiler(dirpath=tmp_path, filename="perf", line_count_restriction=2)
    make_trainer(profiler=profiler, limit_val_batches=0).fit(boring_model())
    assert "due to restriction <2>" in (tmp_path / "fit-perf.txt").read_text()


def test_advanced_profiler_actions_nest_without_losing_the_outer_one():
    profiler = AdvancedProfiler()
    profiler.start("outer")
    profiler.start("inner")
    sum(range(1000))
    profiler.stop("inner")
    sorted(range(100))
    profiler.stop("outer")
    report = profiler.summary()
    outer = report.split("Profile stats for: outer")[1].split("Profile stats for:")[0]
    assert "sorted" in outer and "built-in method builtins.sum" not in outer
    with pytest.raises(ValueError, match="never started"):
        profiler.stop("outer")


def test_pytorch_profiler_writes_a_table_and_a_chrome_trace(boring_model, make_trainer, tmp_path: Path):
    out = tmp_path / "torch"
    profiler = PyTorchProfiler(dirpath=out, filename="perf", row_limit=-1, table_kwargs={"max_name_column_width": 100})
    make_trainer(profiler=profiler, limit_val_batches=0).fit(boring_model())
    report = (out / "fit-perf.txt").read_text()
    assert f"[lit][profile]{STEP}" in report
    assert "[lit][module]torch.nn.modules.linear.Linear: layer" in report  # record_module_names
    traces = list(out.glob("fit-perf.*.pt.trace.json"))  # torch.profiler.tensorboard_trace_handler's naming
    assert len(traces) == 1
    events = json.loads(traces[0].read_text())["traceEvents"]
    assert any(event.get("name") == f"[lit][profile]{STEP}" for event in events)


def test_pytorch_profiler_with_a_schedule_and_a_tensorboard_handler(boring_model, make_trainer, tmp_path: Path):
    board = tmp_path / "tb"
    profiler = PyTorchProfiler(schedule=torch.profiler.schedule(wait=1, warmup=1, active=2),
                               on_trace_ready=torch.profiler.tensorboard_trace_handler(str(board), worker_name="w"),
                               record_functions={STEP}, export_to_chrome=False)
    make_trainer(profiler=profiler, limit_val_batches=0).fit(boring_model())
    traces = list(board.glob("w.*.pt.trace.json"))
    assert len(traces) == 1
    names = {event.get("name") for event in json.loads(traces[0].read_text())["traceEvents"]}
    assert f"[lit][profile]{STEP}" in names
    assert "[lit][profile][Optimizer]SGD.step" not in names  # not in record_functions


def test_pytorch_profiler_arguments_are_checked():
    with pytest.raises(MisconfigurationException, match="sort_by_key='speed'"):
        PyTorchProfiler(sort_by_key="speed")
    with pytest.raises(MisconfigurationException, match="give a callable"):
        PyTorchProfiler(schedule=3)
    with pytest.raises(MisconfigurationException, match=r"must return a torch\.profiler\.ProfilerAction"):
        PyTorchProfiler(schedule=lambda step: "record")
    with pytest.raises(KeyError, match="table_kwargs"):
        PyTorchProfiler(table_kwargs={"row_limit": 3})


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_emit_nvtx_needs_cuda():
    with pytest.raises(MisconfigurationException, match=r"emit_nvtx=True.*CUDA is not available"):
        PyTorchProfiler(emit_nvtx=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_emit_nvtx_on_cuda(boring_model, make_trainer):
    profiler = PyTorchProfiler(emit_nvtx=True)
    trainer = make_trainer(profiler=profiler, accelerator="cuda", devices=1, limit_val_batches=0)
    trainer.fit(boring_model())
    assert trainer.global_step == 4 and profiler.summary() == ""
