"""``AdvancedProfiler``: a ``cProfile`` profile of every action, reported function by function."""

from __future__ import annotations

import cProfile
import io
import os
import pstats
from pathlib import Path

from .profiler import Profiler


class AdvancedProfiler(Profiler):
    """Runs Python's ``cProfile`` inside each action and reports the functions it called, per action.

    Actions nest (a hook inside the stage, a step inside an epoch): only one ``cProfile`` can run
    at a time (Python 3.12 refuses a second), so an action's profile pauses while an inner action
    runs, and each profile holds what its action ran *itself*, apart from the inner actions.

    Args:
        dirpath: the report's folder (default: the trainer's ``log_dir``).
        filename: the report's file name without extension; ``None``: the report goes to the log.
        line_count_restriction: how many functions each action lists: an int, or a fraction
            (``1.0``: all of them), as ``pstats.Stats.print_stats`` takes it.
        dump_stats: also save each action's raw profile in ``dirpath``
            (``{stage}-{filename}-{action}.prof``, for ``snakeviz`` or ``pstats``), as Lightning's.

    Raises:
        ValueError: ``stop`` of an action that is not running.
    """

    def __init__(self, dirpath: str | Path | None = None, filename: str | None = None,
                 line_count_restriction: float = 1.0, dump_stats: bool = False) -> None:
        super().__init__(dirpath=dirpath, filename=filename)
        self.dump_stats = dump_stats
        self.profiled_actions: dict[str, cProfile.Profile] = {}
        self.line_count_restriction = line_count_restriction
        #: The running actions, innermost last: only the innermost one's profile is enabled.
        self._running: list[str] = []

    def start(self, action_name: str) -> None:
        """Pause the running action's profile and profile ``action_name``."""
        if self._running:
            self.profiled_actions[self._running[-1]].disable()
        self._running.append(action_name)
        self.profiled_actions.setdefault(action_name, cProfile.Profile()).enable()

    def stop(self, action_name: str) -> None:
        """Stop profiling ``action_name`` and resume the action it ran in."""
        if action_name not in self._running:
            raise ValueError(f"Attempting to stop recording an action ({action_name}) which was never started.")
        profile = self.profiled_actions[self._running[-1]]
        profile.disable()
        self._running.remove(action_name)
        if self._running:
            self.profiled_actions[self._running[-1]].enable()

    def _dump_stats(self, action_name: str, profile: cProfile.Profile) -> None:
        assert self.dirpath is not None
        path = os.path.join(self.dirpath, self._prepare_filename(action_name=action_name, extension=".prof"))
        profile.dump_stats(path)

    def summary(self) -> str:
        """Each action's functions, by cumulative time, ``line_count_restriction`` of them."""
        stats = {}
        for action, profile in self.profiled_actions.items():
            if self.dump_stats and self.dirpath is not None:
                os.makedirs(self.dirpath, exist_ok=True)
                self._dump_stats(action, profile)
            stream = io.StringIO()
            try:
                pstats.Stats(profile, stream=stream).strip_dirs().sort_stats("cumulative").print_stats(
                    self.line_count_restriction)
            except TypeError:  # an action whose profile recorded no call
                continue
            stats[action] = stream.getvalue()
        return self._stats_to_str(stats)

    def teardown(self, stage: str | None) -> None:
        """Close the report file and forget the profiles (each stage reports its own)."""
        super().teardown(stage=stage)
        self.profiled_actions = {}
