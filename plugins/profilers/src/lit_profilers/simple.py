"""``SimpleProfiler``: the duration of every action, as a table of mean / count / total / percentage."""

from __future__ import annotations

import functools
import math
import os
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .profiler import Profiler


class SimpleProfiler(Profiler):
    """Records how long each action takes and reports, per action, the mean and total time.

    Args:
        dirpath: the report's folder (default: the trainer's ``log_dir``).
        filename: the report's file name without extension; ``None``: the report goes to the log.
        extended: add the number of calls and each action's percentage of the run's time.

    Raises:
        ValueError: ``start`` of an action already started, or ``stop`` of one never started.
    """

    def __init__(self, dirpath: str | Path | None = None, filename: str | None = None, extended: bool = True) -> None:
        super().__init__(dirpath=dirpath, filename=filename)
        self.current_actions: dict[str, float] = {}
        self.recorded_durations: defaultdict[str, list[float]] = defaultdict(list)
        self.extended = extended
        self.start_time = time.perf_counter()

    def start(self, action_name: str) -> None:
        """Start timing ``action_name``."""
        if action_name in self.current_actions:
            raise ValueError(f"Attempted to start {action_name} which has already started.")
        self.current_actions[action_name] = time.perf_counter()

    def stop(self, action_name: str) -> None:
        """Stop timing ``action_name`` and record its duration."""
        end = time.perf_counter()
        if action_name not in self.current_actions:
            raise ValueError(f"Attempting to stop recording an action ({action_name}) which was never started.")
        self.recorded_durations[action_name].append(end - self.current_actions.pop(action_name))

    def timed(self, action_name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        """``function`` with each call's duration appended to ``recorded_durations[action_name]``.

        Two clock reads and an append per call (no ``current_actions`` bookkeeping, so an action
        may be re-entered): what keeps a profiled step within ``benchmarks/profiler.py``'s goal.
        """
        durations = self.recorded_durations[action_name]
        clock = time.perf_counter

        @functools.wraps(function)
        def call(*args: Any, **kwargs: Any) -> Any:
            start = clock()
            try:
                return function(*args, **kwargs)
            finally:
                durations.append(clock() - start)

        return call

    def teardown(self, stage: str | None) -> None:
        """Close the report file, and drop the actions that never ran (``timed`` makes their lists up front)."""
        super().teardown(stage=stage)
        for action in [action for action, durations in self.recorded_durations.items() if not durations]:
            del self.recorded_durations[action]

    def _rows(self) -> list[tuple[str, float, int, float]]:
        """``(action, mean, calls, total)`` for each action that ran."""
        rows = []
        for action, durations in self.recorded_durations.items():
            if durations:
                total = math.fsum(durations)
                rows.append((action, total / len(durations), len(durations), total))
        return rows

    def summary(self) -> str:
        """The table: ``Action | Mean duration (s) | Num calls | Total time (s) | Percentage %`` (extended),
        longest total first; else ``Action | Mean duration (s) | Total time (s)``, longest mean first."""
        sep = os.linesep
        title = f"{self._stage.upper()} Profiler Report" if self._stage else "Profiler Report"
        rows = self._rows()
        if not rows:
            return f"{title}{sep}"
        width = max(len("Action"), *(len(row[0]) for row in rows))

        def line(*cells: str) -> str:
            return f"{sep}|  {cells[0]:<{width}}\t|" + "".join(f"  {cell:<15}\t|" for cell in cells[1:])

        if self.extended:
            elapsed = time.perf_counter() - self.start_time
            header = line("Action", "Mean duration (s)", "Num calls", "Total time (s)", "Percentage %")
            rule = sep + "-" * len(header.expandtabs())
            body = line("Total", "-", str(sum(r[2] for r in rows)), f"{elapsed:.5}", "100 %") + rule
            for action, mean, calls, total in sorted(rows, key=lambda r: r[3], reverse=True):
                body += line(action, f"{mean:.5}", str(calls), f"{total:.5}", f"{100.0 * total / elapsed:.5}")
        else:
            header = line("Action", "Mean duration (s)", "Total time (s)")
            rule = sep + "-" * len(header.expandtabs())
            body = "".join(line(action, f"{mean:.5}", f"{total:.5}")
                           for action, mean, _, total in sorted(rows, key=lambda r: r[1], reverse=True))
        return f"{title}{sep}{rule}{header}{rule}{body}{rule}{sep}"
