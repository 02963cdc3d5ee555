"""``RichProgressBar``: Lightning's rich progress bar, as a lit callback.

``lit_core.progress.ProgressBar`` runs the stages (which bar is open when, its total, when a
batch makes it due, the metrics); this module draws them as tasks of one ``rich.progress.Progress``.
"""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from lit_core.plugin_api import ProgressBar


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.2f}it/s" if speed else "", style="progress.data.speed")


class _MetricsColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        metrics = task.fields.get("metrics") or {}
        return Text(" ".join(f"{k}: {v:.3g}" if isinstance(v, float) else f"{k}: {v}" for k, v in metrics.items()))


class _Task:
    """A bar: a task of the live display; the base keeps ``n`` current at every batch."""

    __slots__ = ("id", "n", "transient")

    def __init__(self, task_id: TaskID, transient: bool) -> None:
        self.id, self.n, self.transient = task_id, 0, transient


class RichProgressBar(ProgressBar):
    """Lightning's ``RichProgressBar``: rich bars for training (with the ``prog_bar=True``
    metrics and ``v_num``), sanity check, validation, test and predict.

    Args:
        refresh_rate: redraw every this many batches (0 turns the bar off); a redraw also waits
            ``min_interval`` seconds since the last one.
        leave: keep each finished epoch's bar on screen.
        console_kwargs: arguments of the ``rich.console.Console`` it draws on (``file=``,
            ``force_terminal=``, ``width=`` ...).
        min_interval: seconds between two redraws.

    Override ``get_metrics(trainer, pl_module)`` to change what it shows.
    """

    name = "rich"

    def __init__(self, refresh_rate: int = 1, leave: bool = False, console_kwargs: dict[str, Any] | None = None,
                 min_interval: float = 0.1) -> None:
        if not isinstance(refresh_rate, int) or refresh_rate < 0:
            raise ValueError(f"RichProgressBar(refresh_rate={refresh_rate!r}): give an int >= 0.")
        self._refresh_rate = refresh_rate
        self._leave = leave
        self._console_kwargs = console_kwargs or {}
        self.min_interval = min_interval
        self._enabled = True
        self._console: Console | None = None
        self.progress: Progress | None = None

    @property
    def console(self) -> Console:
        if self._console is None:
            self._console = Console(**self._console_kwargs)
        return self._console

    # ---- drawing (the primitives lit_core.progress.ProgressBar calls) ---------------------------

    def open_bar(self, kind: str, description: str, total: float) -> _Task:
        """A task of the live display (started with the first one); the sanity check's and fit's
        validation tasks are removed when they end."""
        progress = self.progress
        if progress is None:
            progress = self.progress = Progress(
                TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TimeRemainingColumn(), _RateColumn(), _MetricsColumn(),
                console=self.console, auto_refresh=False, transient=False,
            )
            progress.start()
        task_id = progress.add_task(description, total=None if math.isinf(total) else total, metrics={})
        progress.refresh()
        return _Task(task_id, transient=kind == "sanity" or (kind == "validation" and self._train is not None))

    def update_bar(self, bar: _Task, metrics: dict[str, Any] | None) -> None:
        if self.progress is None:
            return
        fields = {} if metrics is None else {"metrics": metrics}
        self.progress.update(bar.id, completed=bar.n, **fields)
        self.progress.refresh()

    def close_bar(self, bar: _Task, kind: str) -> None:
        if self.progress is None:
            return
        if bar.transient:
            self.progress.remove_task(bar.id)
        else:
            self.update_bar(bar, None)  # the final count stays on screen

    def reset_bar(self, bar: _Task, description: str, total: float) -> bool:
        """``leave=False``: the epoch's task starts again in place; ``leave=True``: a new one below."""
        if self._leave or self.progress is None:
            return False
        self.progress.reset(bar.id, total=None if math.isinf(total) else total, description=description)
        return True

    def finish(self) -> None:
        if self.progress is not None:
            self.progress.stop()
        self.progress = None

    def print(self, *args: Any, **kwargs: Any) -> None:
        """Print on the bar's console (above a live display)."""
        self.console.print(*args, **kwargs)

    def print_results(self, stage: str, results: list[dict[str, float]]) -> None:
        """``validate()`` / ``test()`` results as a rich table on the bar's console."""
        title = {"validate": "Validate metric", "test": "Test metric"}.get(stage, f"{stage} metric")
        table = Table(header_style="bold magenta")
        table.add_column(title, style="cyan")
        for i in range(len(results)):
            table.add_column("DataLoader" if len(results) == 1 else f"DataLoader {i}", style="magenta")
        for name in sorted({k for r in results for k in r}):
            table.add_row(name, *("" if r.get(name) is None else f"{r[name]:.6g}" for r in results))
        self.console.print(table)

    def __getstate__(self) -> dict[str, Any]:  # live displays and consoles are not picklable
        return {**super().__getstate__(), "_console": None, "progress": None}
