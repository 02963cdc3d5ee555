"""``RichProgressBar``: Lightning's rich progress bar, as a lit callback.

Like lit-tqdm's bar it implements lit's hooks directly, and a batch that is not due for a
redraw costs one comparison; ``trainer.progress_bar_metrics`` is read only when it redraws.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
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

import lit_core as lit
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
    __slots__ = ("due", "every", "id", "n", "next_t", "with_metrics")

    def __init__(self, task_id: TaskID, every: int, with_metrics: bool) -> None:
        self.id, self.every, self.due, self.n, self.next_t, self.with_metrics = task_id, every, every, 0, 0.0, with_metrics


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
        self._active = False
        self._trainer: lit.Trainer | None = None
        self._console: Console | None = None
        self.progress: Progress | None = None
        self._train: _Task | None = None
        self._eval: _Task | None = None
        self._clock: Callable[[], float] = time.monotonic

    @property
    def console(self) -> Console:
        if self._console is None:
            self._console = Console(**self._console_kwargs)
        return self._console

    # ---- drawing ---------------------------------------------------------------------------

    def _start(self) -> Progress:
        if self.progress is None:
            self.progress = Progress(
                TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TimeRemainingColumn(), _RateColumn(), _MetricsColumn(),
                console=self.console, auto_refresh=False, transient=False,
            )
            self.progress.start()
        return self.progress

    def _add(self, desc: str, total: float, with_metrics: bool) -> _Task:
        progress = self._start()
        task_id = progress.add_task(desc, total=None if math.isinf(total) else total, metrics={})
        progress.refresh()
        return _Task(task_id, self._refresh_rate, with_metrics)

    def _remove(self, task: _Task | None) -> None:
        if task is not None and self.progress is not None:
            self.progress.remove_task(task.id)

    def _draw(self, task: _Task) -> None:
        progress = self.progress
        if progress is None:
            return
        fields: dict[str, Any] = {}
        if task.with_metrics and self._trainer is not None:
            fields["metrics"] = self.get_metrics(self._trainer, self._trainer.lightning_module)
        progress.update(task.id, completed=task.n, **fields)
        progress.refresh()
        task.next_t = self._clock() + self.min_interval

    def _step(self, task: _Task) -> None:
        task.due = (task.n // task.every + 1) * task.every
        if self._clock() >= task.next_t:
            self._draw(task)

    def _stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
        self.progress = None
        self._train = self._eval = None

    # ---- lit hooks ---------------------------------------------------------------------------

    @lit.hookimpl
    def lit_setup(self, trainer: lit.Trainer) -> None:
        self._trainer = trainer
        self._active = self.is_enabled and trainer.is_global_zero

    @lit.hookimpl
    def lit_sanity_check_start(self, trainer: lit.Trainer) -> None:
        if self._active:
            most = trainer.num_sanity_val_steps if trainer.num_sanity_val_steps != -1 else math.inf
            self._eval = self._add("Sanity Checking", self.total_batches(trainer.val_dataloaders, trainer.limit_val_batches, most), False)

    @lit.hookimpl
    def lit_sanity_check_end(self) -> None:
        self._remove(self._eval)
        self._eval = None

    @lit.hookimpl
    def lit_train_epoch_start(self, trainer: lit.Trainer) -> None:
        if not self._active:
            return
        if self._train is not None and not self._leave:
            self._remove(self._train)
        self._train = self._add(f"Epoch {trainer.current_epoch}", trainer.num_training_batches, True)

    @lit.hookimpl
    def lit_train_batch_end(self, batch_idx: int) -> None:
        task = self._train
        if task is not None:
            task.n = n = batch_idx + 1
            if n >= task.due:
                self._step(task)

    @lit.hookimpl
    def lit_train_epoch_end(self) -> None:
        if self._train is not None:
            self._draw(self._train)

    @lit.hookimpl
    def lit_train_end(self) -> None:
        self._stop()

    def _eval_start(self, trainer: lit.Trainer, desc: str, loaders: list[Any], limit: float) -> None:
        if self._active and not trainer.sanity_checking:
            self._remove(self._eval)
            self._eval = self._add(desc, self.total_batches(loaders, limit), False)

    def _eval_batch(self) -> None:
        task = self._eval
        if task is not None:
            task.n = n = task.n + 1
            if n >= task.due:
                self._step(task)

    def _eval_end(self, keep: bool) -> None:
        task, self._eval = self._eval, None
        if task is None:
            return
        if keep:
            self._draw(task)
        else:
            self._remove(task)
        if self._train is not None:
            self._draw(self._train)
        elif self.progress is not None:
            self._stop()

    @lit.hookimpl
    def lit_validation_start(self, trainer: lit.Trainer) -> None:
        self._eval_start(trainer, "Validation", trainer.val_dataloaders, trainer.limit_val_batches)

    @lit.hookimpl
    def lit_validation_batch_end(self) -> None:
        self._eval_batch()

    @lit.hookimpl
    def lit_validation_end(self, trainer: lit.Trainer) -> None:
        if not trainer.sanity_checking:
            self._eval_end(keep=self._train is None)

    @lit.hookimpl
    def lit_test_start(self, trainer: lit.Trainer) -> None:
        self._eval_start(trainer, "Testing", trainer.test_dataloaders, trainer.limit_test_batches)

    @lit.hookimpl
    def lit_test_batch_end(self) -> None:
        self._eval_batch()

    @lit.hookimpl
    def lit_test_end(self) -> None:
        self._eval_end(keep=True)

    @lit.hookimpl
    def lit_predict_start(self, trainer: lit.Trainer) -> None:
        self._eval_start(trainer, "Predicting", trainer.predict_dataloaders, trainer.limit_predict_batches)

    @lit.hookimpl
    def lit_predict_batch_end(self) -> None:
        self._eval_batch()

    @lit.hookimpl
    def lit_predict_end(self) -> None:
        self._eval_end(keep=True)

    @lit.hookimpl
    def lit_exception(self) -> None:
        self._stop()

    @lit.hookimpl
    def lit_teardown(self) -> None:
        self._stop()
        self._active = False

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
        state = dict(self.__dict__)
        state.update(_trainer=None, _console=None, progress=None, _train=None, _eval=None, _active=False)
        return state
