"""``PyTorchProfiler``: ``torch.profiler`` over the stage, each action a ``record_function`` range."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.autograd.profiler import EventList, record_function
from torch.profiler import ProfilerAction, ProfilerActivity, tensorboard_trace_handler

import lit_core as lit
from lit_core.plugin_api import MisconfigurationException, rank_zero_warn

from .profiler import Profiler

#: What ``sort_by_key`` may be (``torch.autograd.profiler_util.EventList.table``'s keys).
SORT_KEYS = frozenset({
    "cpu_time", "cuda_time", "cpu_time_total", "cuda_time_total", "cpu_memory_usage", "cuda_memory_usage",
    "self_cpu_memory_usage", "self_cuda_memory_usage", "count",
})

#: An action whose name ends with one of these is a step: ``torch.profiler``'s ``step()`` follows it.
STEP_FUNCTIONS = ("training_step", "validation_step", "test_step", "predict_step")


class PyTorchProfiler(Profiler):
    """PyTorch's profiler: every operator on the CPU (and CUDA), a table of them, and a trace.

    The ``torch.profiler.profile`` starts with the stage's first action. Each action listed in
    ``record_functions`` (default: all of them) is a ``record_function`` range named
    ``[lit][profile]<action>``, and with ``record_module_names`` each submodule's forward is one
    too (``[lit][module]<class>: <name>``). After each step action the profiler takes a
    ``step()`` (``schedule`` counts those). When the profile is ready (the stage's end, or each
    cycle of a ``schedule``) ``on_trace_ready`` gets it; by default, with a ``dirpath`` and
    ``export_to_chrome``, ``torch.profiler.tensorboard_trace_handler`` writes a Chrome /
    TensorBoard trace, ``{dirpath}/{stage}-{filename}[-{rank}].<host>_<pid>.<time>.pt.trace.json``.

    Args:
        dirpath: the folder of the report and the traces (default: the trainer's ``log_dir``).
        filename: the report's file name without extension; ``None``: the report goes to the log.
        group_by_input_shapes: group the table's operators by input shape too (needs ``record_shapes=True``).
        emit_nvtx: emit NVTX ranges for ``nvprof`` / Nsight instead of profiling (CUDA only).
        export_to_chrome: write the trace when no ``on_trace_ready`` is given.
        row_limit: rows of the table (``-1``: all).
        sort_by_key: the table's order (one of ``SORT_KEYS``; default ``cuda_time_total`` when CUDA
            is profiled, else ``cpu_time_total``).
        record_module_names: a range per submodule forward, named after the module.
        record_functions: the actions that get a ``record_function`` range (``None``: all).
        table_kwargs: more arguments for ``EventList.table``.
        profiler_kwargs: passed to ``torch.profiler.profile``: ``schedule``, ``on_trace_ready``,
            ``record_shapes``, ``profile_memory``, ``with_stack``, ``activities``...

    Raises:
        MisconfigurationException: an unknown ``sort_by_key``; a ``schedule`` that is not callable
            or does not return a ``torch.profiler.ProfilerAction``; ``emit_nvtx`` without CUDA.
        KeyError: a ``table_kwargs`` key that ``EventList.table`` does not take.

    Unlike Lightning's, with no ``schedule`` every step is recorded (Lightning's default schedule
    records 3 of every 5 steps after the first 2): pass ``schedule=torch.profiler.schedule(...)``
    for long runs.
    """

    def __init__(
        self,
        dirpath: str | Path | None = None,
        filename: str | None = None,
        group_by_input_shapes: bool = False,
        emit_nvtx: bool = False,
        export_to_chrome: bool = True,
        row_limit: int = 20,
        sort_by_key: str | None = None,
        record_module_names: bool = True,
        record_functions: set[str] | None = None,
        table_kwargs: dict[str, Any] | None = None,
        **profiler_kwargs: Any,
    ) -> None:
        super().__init__(dirpath=dirpath, filename=filename)
        self._group_by_input_shapes = group_by_input_shapes and profiler_kwargs.get("record_shapes", False)
        self._emit_nvtx = emit_nvtx
        self._export_to_chrome = export_to_chrome
        self._row_limit = row_limit
        self._record_module_names = record_module_names
        self._record_functions = None if record_functions is None else set(record_functions)
        self._table_kwargs = dict(table_kwargs or {})
        if emit_nvtx and not torch.cuda.is_available():
            raise MisconfigurationException(
                "PyTorchProfiler(emit_nvtx=True) emits NVTX ranges for CUDA's profilers, and CUDA is not available "
                "here: drop emit_nvtx (the CPU is profiled without it) or run on a machine with a CUDA GPU."
            )
        schedule = profiler_kwargs.get("schedule")
        if schedule is not None:
            if not callable(schedule):
                raise MisconfigurationException(f"PyTorchProfiler(schedule={schedule!r}): give a callable, e.g. "
                                                "torch.profiler.schedule(wait=1, warmup=1, active=3).")
            action = schedule(0)
            if not isinstance(action, ProfilerAction):
                raise MisconfigurationException(f"PyTorchProfiler(schedule=...) returned {action!r} for step 0: it "
                                                "must return a torch.profiler.ProfilerAction (torch.profiler.schedule does).")
        activities = profiler_kwargs.get("activities") or [ProfilerActivity.CPU] + (
            [ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
        profiler_kwargs["activities"] = activities
        self._sort_by_key = sort_by_key or ("cuda_time_total" if ProfilerActivity.CUDA in activities else "cpu_time_total")
        if self._sort_by_key not in SORT_KEYS:
            raise MisconfigurationException(
                f"PyTorchProfiler(sort_by_key={self._sort_by_key!r}): use one of {', '.join(sorted(SORT_KEYS))}.")
        allowed = set(inspect.signature(EventList.table).parameters) - {"self", "sort_by", "row_limit"}
        for key in self._table_kwargs:
            if key not in allowed:
                raise KeyError(f"PyTorchProfiler(table_kwargs={{{key!r}: ...}}): EventList.table takes "
                               f"{', '.join(sorted(allowed))} (sort_by and row_limit are arguments of their own).")
        self._profiler_kwargs = profiler_kwargs
        self.profiler: Any = None
        self.function_events: EventList | None = None
        self._recording: dict[str, record_function] = {}
        self._module_hooks: list[Any] = []
        self._module: lit.LightningModule | None = None

    # ---- recording ----------------------------------------------------------------------

    def start(self, action_name: str) -> None:
        """Start the profiler if it is not running, then open ``action_name``'s range."""
        if self.profiler is None:
            self._start_profiler()
        if self._record_functions is not None and action_name not in self._record_functions:
            return
        if action_name not in self._recording:
            recording = record_function(f"[lit][profile]{action_name}")
            recording.__enter__()
            self._recording[action_name] = recording

    def stop(self, action_name: str) -> None:
        """Close ``action_name``'s range; after a step, the profiler's ``step()``."""
        recording = self._recording.pop(action_name, None)
        if recording is not None:
            recording.__exit__(None, None, None)
        if self.profiler is not None and not self._emit_nvtx and action_name.endswith(STEP_FUNCTIONS):
            self.profiler.step()

    def _start_profiler(self) -> None:
        if torch.autograd._profiler_enabled():  # another autograd profiler is on (a previous stage's): end it
            torch.autograd._disable_profiler()
        if self._emit_nvtx:
            self.profiler = torch.autograd.profiler.emit_nvtx(record_shapes=self._profiler_kwargs.get("record_shapes", False))
        else:
            kwargs = dict(self._profiler_kwargs)
            if kwargs.get("on_trace_ready") is None:
                kwargs["on_trace_ready"] = self._export_trace
            known = inspect.signature(torch.profiler.profile.__init__).parameters
            self.profiler = torch.profiler.profile(**{k: v for k, v in kwargs.items() if k in known})
        self.profiler.__enter__()
        if self._record_module_names and self._module is not None:
            self._register_module_names(self._module)

    def _export_trace(self, profiler: Any) -> None:
        """The default ``on_trace_ready``: a Chrome / TensorBoard trace in ``dirpath`` (``export_to_chrome``)."""
        if not self._export_to_chrome:
            return
        if self.dirpath is None:
            rank_zero_warn("PyTorchProfiler: no dirpath (and no logger folder), so the trace was not exported: "
                           "pass PyTorchProfiler(dirpath=...) or on_trace_ready=.")
            return
        tensorboard_trace_handler(str(self.dirpath), self._prepare_filename(extension=""))(profiler)

    def _register_module_names(self, module: torch.nn.Module) -> None:
        """A ``record_function`` range around each submodule's forward, named after it."""
        for name, submodule in module.named_modules():
            if not name:
                continue
            label = f"[lit][module]{type(submodule).__module__}.{type(submodule).__name__}: {name}"
            self._module_hooks.append(submodule.register_forward_pre_hook(self._enter_module(label)))
            self._module_hooks.append(submodule.register_forward_hook(self._exit_module(label)))

    def _enter_module(self, label: str) -> Callable[..., None]:
        def hook(module: torch.nn.Module, inputs: Any) -> None:
            recording = record_function(label)
            recording.__enter__()
            self._recording[label] = recording
        return hook

    def _exit_module(self, label: str) -> Callable[..., None]:
        def hook(module: torch.nn.Module, inputs: Any, output: Any) -> None:
            recording = self._recording.pop(label, None)
            if recording is not None:
                recording.__exit__(None, None, None)
        return hook

    def _stop_profiler(self) -> None:
        for handle in self._module_hooks:
            handle.remove()
        self._module_hooks.clear()
        for recording in reversed(list(self._recording.values())):
            recording.__exit__(None, None, None)
        self._recording.clear()
        if self.profiler is None:
            return
        self.profiler.__exit__(None, None, None)
        if not self._emit_nvtx:
            self.function_events = self.profiler.events()
        self.profiler = None

    # ---- stage and report ---------------------------------------------------------------

    @lit.hookimpl(tryfirst=True)
    def lit_setup(self, trainer: lit.Trainer, module: lit.LightningModule, stage: str) -> None:
        """Remember the module (its submodules' names become ranges), then set up as every profiler."""
        self._module = module
        super().lit_setup(trainer, module, stage)

    def summary(self) -> str:
        """The operators' table (``row_limit`` rows by ``sort_by_key``); empty with ``emit_nvtx``."""
        self._stop_profiler()
        if self._emit_nvtx or not self.function_events:
            return ""
        averages = self.function_events.key_averages(group_by_input_shapes=self._group_by_input_shapes)
        table = averages.table(sort_by=self._sort_by_key, row_limit=self._row_limit, **self._table_kwargs)
        return self._stats_to_str({"records": table})

    def teardown(self, stage: str | None) -> None:
        """Stop the profiler (a user who calls ``describe`` outside a Trainer ends it here) and close the file."""
        self._stop_profiler()
        self._module = None
        super().teardown(stage=stage)

    def __getstate__(self) -> dict[str, Any]:
        """Without the running profiler and ranges (ddp_spawn pickles the Trainer)."""
        return {**super().__getstate__(), "profiler": None, "function_events": None, "_recording": {},
                "_module_hooks": [], "_module": None}

