"""``Profiler``: Lightning's profiler interface, and how a profiler joins a ``Trainer`` run.

A profiler records *actions*: named spans opened with ``start(name)`` and closed with
``stop(name)`` (or ``with profiler.profile(name):``). ``summary()`` is the report; ``describe()``
writes it when a stage ends, to ``{dirpath}/{stage}-{filename}.txt`` when a ``filename`` is given
(``-{local_rank}`` added when several processes run), else to the log (rank zero only).

In a ``Trainer`` run the profiler is a plugin. Its ``lit_setup`` hook (``tryfirst``: before the
other plugins set up) calls ``setup(stage, local_rank, log_dir)`` and, when the profiler watches
the loop (``observes``), registers a ``HookObserver`` (``lit_profilers.observer``) that times
every hook implementation and the step's internals for the stage; ``lit_teardown`` (``trylast``)
takes the observer out and calls ``describe()``. Nothing of this exists when no profiler is set.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import lit_core as lit

from .observer import HookObserver

# A child of lit-core's logger: shown on stderr at INFO like lit's other messages (Lightning shows its report).
log = logging.getLogger("lit_core.profilers")


class Profiler(ABC):
    """The base of every profiler: subclass it and implement ``start`` / ``stop`` (and ``summary``).

    Args:
        dirpath: the folder of the report file (and of traces). ``None``: the trainer's
            ``log_dir`` when a stage sets the profiler up.
        filename: the report's file name, without extension. ``None``: the report goes to the
            log (``logging.getLogger("lit_core.profilers")``, rank zero: on stderr unless the application configured logging) instead of a file.
    """

    #: Whether a ``Trainer`` run registers a ``HookObserver`` that times every hook and step action.
    observes = True

    def __init__(self, dirpath: str | Path | None = None, filename: str | None = None) -> None:
        self.dirpath = dirpath
        self.filename = filename
        self._output_file: IO[str] | None = None
        self._write_stream: Callable[[str], Any] | None = None
        self._local_rank: int | None = None
        self._stage: str | None = None
        self._observer: HookObserver | None = None

    # ---- what a profiler implements --------------------------------------------------------

    @abstractmethod
    def start(self, action_name: str) -> None:
        """Start recording ``action_name``."""

    @abstractmethod
    def stop(self, action_name: str) -> None:
        """Stop recording ``action_name`` (started before)."""

    def summary(self) -> str:
        """The report of what was recorded (empty here)."""
        return ""

    def timed(self, action_name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        """``function`` recorded as ``action_name`` at each call: what the ``HookObserver`` installs.

        ``start`` and ``stop`` around the call here; a profiler with a cheaper way to time a call
        (``SimpleProfiler``) overrides it. The wrapper keeps ``function``'s signature (``__wrapped__``).
        """
        start, stop = self.start, self.stop

        @functools.wraps(function)
        def call(*args: Any, **kwargs: Any) -> Any:
            start(action_name)
            try:
                return function(*args, **kwargs)
            finally:
                stop(action_name)

        return call

    # ---- user API -------------------------------------------------------------------------

    @contextlib.contextmanager
    def profile(self, action_name: str) -> Iterator[str]:
        """Record the block as ``action_name``: ``with trainer.profiler.profile("load data"): ...``."""
        try:
            self.start(action_name)
            yield action_name
        finally:
            self.stop(action_name)

    def describe(self) -> None:
        """Write the report (file or log), then close the file: called when each stage ends."""
        self._prepare_streams()
        summary = self.summary()
        if summary and self._write_stream is not None:
            self._write_stream(summary)
        if self._output_file is not None:
            self._output_file.flush()
        self.teardown(stage=self._stage)

    def setup(self, stage: str, local_rank: int | None = None, log_dir: str | None = None) -> None:
        """Prepare for ``stage`` (``"fit"``, ``"validate"``, ``"test"``, ``"predict"``).

        ``local_rank``: this process's rank when several run (``None`` otherwise): it goes into
        the file name. ``log_dir``: the folder used when ``dirpath`` was not given.
        """
        self._stage = stage
        self._local_rank = local_rank
        self.dirpath = self.dirpath or log_dir

    def teardown(self, stage: str | None) -> None:
        """Close the report file, if one is open."""
        self._write_stream = None
        if self._output_file is not None:
            self._output_file.close()
            self._output_file = None

    @property
    def local_rank(self) -> int:
        """This process's local rank (0 with one process)."""
        return 0 if self._local_rank is None else self._local_rank

    # ---- output ---------------------------------------------------------------------------

    def _prepare_filename(self, action_name: str | None = None, extension: str = ".txt") -> str:
        """``{stage}-{filename}[-{local_rank}][-{action_name}]{extension}``, path-unsafe characters as ``_``."""
        parts = [p for p in (self._stage, self.filename) if p]
        if self._local_rank is not None:
            parts.append(str(self._local_rank))
        if action_name is not None:
            parts.append(action_name)
        base = re.sub(r"_+", "_", re.sub(r"[\\/:*?\"<>|\n\r\t]", "_", "-".join(parts))).strip()
        return (base or "profile") + extension

    def _prepare_streams(self) -> None:
        if self._write_stream is not None:
            return
        if self.filename and self.dirpath:
            os.makedirs(self.dirpath, exist_ok=True)
            self._output_file = open(os.path.join(self.dirpath, self._prepare_filename()), "a", encoding="utf-8")  # noqa: SIM115
            self._write_stream = self._output_file.write
        else:
            self._write_stream = self._rank_zero_info

    def _rank_zero_info(self, text: str) -> None:
        if self._local_rank in (None, 0):
            log.info(text)

    def _stats_to_str(self, stats: dict[str, str]) -> str:
        """``{STAGE} Profiler Report`` then one block per action (the advanced and PyTorch reports)."""
        lines = [f"{self._stage.upper()} Profiler Report" if self._stage else "Profiler Report"]
        for action, text in stats.items():
            rank = f" rank: {self._local_rank}" if self._local_rank is not None else ""
            lines += [f"Profile stats for: {action}{rank}", text]
        return os.linesep.join(lines)

    def __getstate__(self) -> dict[str, Any]:
        """Without the open file and the observer (ddp_spawn pickles the Trainer with its plugins)."""
        return {**self.__dict__, "_output_file": None, "_write_stream": None, "_observer": None}

    # ---- the hook layer: how a Trainer run reaches the profiler ------------------------------

    @lit.hookimpl(tryfirst=True)
    def lit_setup(self, trainer: lit.Trainer, module: lit.LightningModule, stage: str) -> None:
        """Set up for the stage and, for a profiler that ``observes``, start timing the loop's hooks."""
        self.setup(stage, trainer.local_rank if trainer.world_size > 1 else None, trainer.log_dir)
        if self.observes:
            self._observer = HookObserver(self, trainer, module)
            self._observer.attach()

    @lit.hookimpl(trylast=True)
    def lit_teardown(self, trainer: lit.Trainer, module: lit.LightningModule, stage: str) -> None:
        """Stop timing and write the stage's report."""
        self._detach()
        self.describe()

    @lit.hookimpl
    def lit_exception(self, trainer: lit.Trainer, module: lit.LightningModule, exception: BaseException) -> None:
        """A failed stage: put back what the observer wrapped, close the file (no report, as in Lightning)."""
        self._detach()
        self.teardown(stage=self._stage)

    def _detach(self) -> None:
        if self._observer is not None:
            self._observer.detach()
            self._observer = None


class PassThroughProfiler(Profiler):
    """A profiler that records nothing (``Trainer(profiler="passthrough")``); it watches no hook."""

    observes = False

    def start(self, action_name: str) -> None:
        """Record nothing."""

    def stop(self, action_name: str) -> None:
        """Record nothing."""
