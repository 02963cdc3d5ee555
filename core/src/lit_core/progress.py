"""``ProgressBar``: Lightning's ``ProgressBar`` base, and the stage machine every lit bar shares.

Lightning's public surface: ``refresh_rate``, ``is_enabled``, ``enable()`` / ``disable()``,
``get_metrics``, ``trainer`` and the batch counts (``total_train_batches``...). Subclassing it
marks a callback as a progress bar (the kernel then adds no default one, and
``trainer.progress_bar_callback`` finds it); an enabled bar answers the ``lit_print_results``
service hook through ``print_results``.

The template: the base implements lit's hooks and decides, once, which bar is open in which
stage (sanity check, the training epochs, validation during fit, ``validate`` / ``test`` /
``predict``), their totals and descriptions, when a batch makes a bar due for a redraw
(every ``refresh_rate`` batches, at most every ``min_interval`` seconds, without reading the
clock between redraws), the metrics on the training bar, and what is closed on errors. A bar
implements only the drawing, in four methods:

* ``open_bar(kind, description, total)``: a new bar, ``kind`` one of ``"sanity"``, ``"train"``,
  ``"validation"``, ``"test"``, ``"predict"``; ``total`` may be ``inf``. It returns any object
  with an ``n`` attribute (a tqdm bar has one): the base keeps ``n``, the batch count, current
  at every batch. Returning ``None`` draws nothing for that stage.
* ``update_bar(bar, metrics)``: redraw ``bar`` at ``bar.n`` (``metrics``: what ``get_metrics``
  returned, on the training bar; ``None`` on the others).
* ``close_bar(bar, kind)``: the stage ended (the bar stays on screen or vanishes: the bar's choice).
* optionally ``reset_bar(bar, description, total)`` (reuse the training bar for the next epoch;
  the default opens a new one), ``schedule(bar, kind, total)`` (when redraws are due),
  ``finish()`` (the last bar of a run closed) and ``print(...)``.

Per batch the base costs one store (``bar.n``) and one comparison until a redraw is due.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .callback import Callback
from .data import batches_per_loader
from .markers import hookimpl
from .rank_zero import rank_zero_deprecation

if TYPE_CHECKING:
    from .module import LightningModule
    from .trainer import Trainer


class _Stage:
    """An open bar and when it is next due: at batch ``due``, and not before clock time ``next_t``."""

    __slots__ = ("bar", "drawn_n", "drawn_t", "due", "every", "interval", "kind", "next_t")

    def __init__(self, bar: Any, kind: str, every: int, interval: float) -> None:
        self.bar, self.kind = bar, kind
        self.restart(every, interval)

    def restart(self, every: int, interval: float) -> None:
        #: Redraw every this many batches, and no sooner than ``interval`` seconds after the last redraw (0: no clock).
        self.every, self.interval = every, interval
        self.due, self.next_t = every, 0.0
        #: Where and when the bar was last drawn: the batch rate that says how many batches to skip.
        self.drawn_n, self.drawn_t = 0, 0.0


#: The evaluation bar of each trainer function: its kind, description attribute, loaders and ``limit_*_batches``.
_EVAL_BARS = {
    "fit": ("validation", "validation_description", "val_dataloaders", "limit_val_batches"),
    "validate": ("validation", "validation_description", "val_dataloaders", "limit_val_batches"),
    "test": ("test", "test_description", "test_dataloaders", "limit_test_batches"),
    "predict": ("predict", "predict_description", "predict_dataloaders", "limit_predict_batches"),
}


class ProgressBar(Callback):
    """Base class of progress bars; see the module docstring for the drawing methods a bar implements."""

    is_progress_bar = True
    _refresh_rate: int = 1
    _enabled: bool = True
    #: Seconds between two redraws of a bar; with ``0`` a bar redraws every ``refresh_rate`` batches, the clock unread.
    min_interval: float = 0.1
    #: Lightning's descriptions of the bars (the training bar shows ``Epoch N``).
    sanity_check_description = "Sanity Checking"
    train_description = "Training"
    validation_description = "Validation"
    test_description = "Testing"
    predict_description = "Predicting"

    #: Whether this run draws (an enabled bar on global rank zero), decided in ``lit_setup``.
    _active = False
    #: The open training bar, and the open evaluation bar (sanity check, validation, test or predict).
    _train: _Stage | None = None
    _eval: _Stage | None = None
    #: The per-batch hooks, registered while a run draws (``_PerBatch``).
    _per_batch: _PerBatch | None = None
    #: The clock redraws are timed with (a test may replace it).
    _clock: Callable[[], float] = staticmethod(time.monotonic)

    @property
    def refresh_rate(self) -> int:
        """Redraw every this many batches; ``0`` turns the bar off."""
        return self._refresh_rate

    @property
    def is_enabled(self) -> bool:
        return self._enabled and self._refresh_rate > 0

    @property
    def is_disabled(self) -> bool:
        return not self.is_enabled

    def enable(self) -> None:
        self._enabled = True

    def disable(self) -> None:
        self._enabled = False

    # ---- the trainer and its batch counts (Lightning's ProgressBar properties) ----------------

    _trainer: Trainer | None = None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Remember the trainer (``self.trainer``); subclasses that override it call ``super().setup``."""
        self._trainer = trainer

    @property
    def trainer(self) -> Trainer:
        """The trainer this bar is attached to (``TypeError`` before its first stage starts)."""
        if self._trainer is None:
            raise TypeError(f"The `{type(self).__name__}.trainer` reference has not been set yet.")
        return self._trainer

    @property
    def total_train_batches(self) -> int | float:
        """Batches of a training epoch (``inf`` for a loader without a length)."""
        return self.trainer.num_training_batches

    @property
    def total_val_batches(self) -> int | float:
        """Batches of a validation run over every val dataloader; 0 when fit does not validate this epoch."""
        trainer = self.trainer
        every = trainer.check_val_every_n_epoch
        if trainer.state.fn == "fit" and (not trainer.enable_validation or (every and (trainer.current_epoch + 1) % every)):
            return 0
        return sum(trainer.num_val_batches)

    @property
    def total_val_batches_current_dataloader(self) -> int | float:
        """Batches of the validation (or sanity-check) dataloader being run."""
        trainer = self.trainer
        batches = trainer.num_sanity_val_batches if trainer.sanity_checking else trainer.num_val_batches
        return batches[trainer.state.dataloader_idx or 0]

    @property
    def total_test_batches_current_dataloader(self) -> int | float:
        """Batches of the test dataloader being run."""
        return self.trainer.num_test_batches[self.trainer.state.dataloader_idx or 0]

    @property
    def total_predict_batches_current_dataloader(self) -> int | float:
        """Batches of the predict dataloader being run."""
        return self.trainer.num_predict_batches[self.trainer.state.dataloader_idx or 0]

    @property
    def total_test_batches(self) -> int | float:
        """Batches of ``test()`` over every test dataloader (Lightning 1.x)."""
        rank_zero_deprecation("`ProgressBar.total_test_batches` was removed in Lightning 2.0: use "
                              "`total_test_batches_current_dataloader` or `sum(trainer.num_test_batches)`.")
        return sum(self.trainer.num_test_batches)

    @property
    def total_predict_batches(self) -> int | float:
        """Batches of ``predict()`` over every predict dataloader (Lightning 1.x)."""
        rank_zero_deprecation("`ProgressBar.total_predict_batches` was removed in Lightning 2.0: use "
                              "`total_predict_batches_current_dataloader` or `sum(trainer.num_predict_batches)`.")
        return sum(self.trainer.num_predict_batches)

    def get_metrics(self, trainer: Trainer, pl_module: LightningModule | None) -> dict[str, Any]:
        """What the bar shows: the ``prog_bar=True`` metrics and ``v_num`` (the first logger's version).

        Read it only when redrawing: the logged tensors become floats here. Override it to add or
        drop entries, as in Lightning.
        """
        items: dict[str, Any] = dict(trainer.progress_bar_metrics)
        if trainer.loggers:
            version = trainer.loggers[0].version
            if version is not None:
                items["v_num"] = version[-4:] if isinstance(version, str) else version
        return items

    @staticmethod
    def total_batches(loaders: list[Any], limit: float | int, most: float = math.inf) -> float:
        """Batches a loop runs over ``loaders`` under a ``limit_*_batches`` value, at most ``most`` per
        loader (``inf``: a loader without a length)."""
        return float(sum(batches_per_loader(loaders, limit, most)))

    @staticmethod
    def format_results(stage: str, results: list[dict[str, float]]) -> str:
        """The ``validate()`` / ``test()`` results as a table, one column per dataloader (Lightning's layout)."""
        title = {"validate": "Validate metric", "test": "Test metric"}.get(stage, f"{stage} metric")
        names = sorted({k for r in results for k in r})
        headers = [title] + ["DataLoader" if len(results) == 1 else f"DataLoader {i}" for i in range(len(results))]
        rows = [[name] + ["" if r.get(name) is None else f"{r[name]:.6g}" for r in results] for name in names]
        widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
        rule = "─" * (sum(widths) + 3 * len(widths) + 1)

        def line(cells: list[str]) -> str:
            return "│" + "│".join(f" {c:^{w}} " for c, w in zip(cells, widths)) + "│"

        return "\n".join([rule, line(headers), rule, *(line(row) for row in rows), rule])

    # ---- what a bar implements (the drawing) -------------------------------------------------

    def open_bar(self, kind: str, description: str, total: float) -> Any:
        """A new bar for ``kind`` (``"sanity"``, ``"train"``, ``"validation"``, ``"test"``, ``"predict"``),
        an object with an ``n`` attribute (0); ``None``: nothing is drawn for that stage.

        The base draws nothing: a bar that only overrides Lightning's ``on_*`` methods opens none.
        """
        return None

    def update_bar(self, bar: Any, metrics: dict[str, Any] | None) -> None:
        """Redraw ``bar`` at ``bar.n``; ``metrics`` (from ``get_metrics``) on the training bar, else ``None``."""

    def close_bar(self, bar: Any, kind: str) -> None:
        """The stage ``bar`` follows ended (kept on screen or removed, as the bar likes)."""

    def reset_bar(self, bar: Any, description: str, total: float) -> bool:
        """Reuse the training bar for the next epoch (the base sets ``n`` back to 0) and return True;
        by default (False) the previous epoch's bar is closed and a new one opened."""
        return False

    def schedule(self, bar: Any, kind: str, total: float) -> tuple[int, float]:
        """When ``bar`` redraws: every this many batches, no sooner than this many seconds after its
        last redraw (0: the clock is not read). Default: ``(refresh_rate, min_interval)``."""
        return self._refresh_rate, self.min_interval

    def finish(self) -> None:
        """The last open bar of a run closed (e.g. stop a live display)."""

    def print(self, *args: Any, **kwargs: Any) -> None:
        """Print without breaking the bars (here: ``print``); bars that draw in place override it."""
        print(*args, **kwargs)

    def print_results(self, stage: str, results: list[dict[str, float]]) -> None:
        """Show the results of ``validate()`` / ``test()`` (``format_results`` through ``self.print``);
        the bar's ``lit_print_results`` calls it while the bar is enabled."""
        self.print(self.format_results(stage, results))

    # ---- the stage machine ------------------------------------------------------------------

    def _open(self, kind: str, description: str, total: float) -> _Stage | None:
        bar = self.open_bar(kind, description, total)
        if bar is None:
            return None
        return _Stage(bar, kind, *self.schedule(bar, kind, total))

    def _close(self, stage: _Stage | None) -> None:
        if stage is not None:
            self.close_bar(stage.bar, stage.kind)

    def _draw(self, stage: _Stage) -> None:
        """Redraw ``stage``'s bar now; the training bar with ``get_metrics`` (read only here)."""
        trainer = self._trainer
        metrics = self.get_metrics(trainer, trainer.lightning_module) if stage.kind == "train" and trainer is not None else None
        self.update_bar(stage.bar, metrics)
        if stage.interval > 0:
            stage.drawn_n, stage.drawn_t = stage.bar.n, self._clock()
            stage.next_t = stage.drawn_t + stage.interval

    def _due(self, stage: _Stage) -> None:
        """A batch made ``stage`` due (every ``schedule`` batches): redraw unless too soon.

        Too soon, the batches expected before the interval has passed (at the rate since the last
        draw) are skipped without reading the clock, so most batches cost one comparison.
        """
        n, every = stage.bar.n, stage.every
        stage.due = (n // every + 1) * every
        if stage.interval <= 0:
            self._draw(stage)
            return
        now = self._clock()
        if now >= stage.next_t:
            self._draw(stage)
            return
        done, elapsed = n - stage.drawn_n, now - stage.drawn_t
        if done > 0 and elapsed > 0:
            skip = int((stage.next_t - now) * done / elapsed * 0.9)  # arrive a little early, never late
            if skip > every:
                stage.due = ((n + skip) // every) * every

    def _close_eval(self) -> None:
        stage, self._eval = self._eval, None
        if stage is None:
            return
        self.close_bar(stage.bar, stage.kind)
        if self._train is not None:  # the epoch's validation metrics, on the training bar
            self._draw(self._train)
        else:
            self.finish()

    # ---- lit hooks ---------------------------------------------------------------------------
    # The hooks that open a bar are tryfirst: the bar is open when any callback's ``on_*_start``
    # runs, the bar's own overrides too (Lightning's ``super().on_train_epoch_start(...)`` has
    # opened ``train_progress_bar`` when it returns).

    @hookimpl
    def lit_setup(self, trainer: Trainer) -> None:
        self._trainer = trainer
        self._active = self.is_enabled and trainer.is_global_zero
        # The per-batch hooks join only a run that draws: a disabled bar, and every rank but global
        # zero, cost nothing per batch (the hot path is bound after lit_setup).
        if self._active and self._per_batch is None:
            self._per_batch = _PerBatch(self)
            trainer.plugin_manager.register(self._per_batch, f"lit.progress-per-batch:{id(self)}")

    @hookimpl(tryfirst=True)
    def lit_sanity_check_start(self, trainer: Trainer) -> None:
        if self._active:
            most = trainer.num_sanity_val_steps if trainer.num_sanity_val_steps != -1 else math.inf
            total = self.total_batches(trainer.val_dataloaders, trainer.limit_val_batches, most)
            self._eval = self._open("sanity", self.sanity_check_description, total)

    @hookimpl
    def lit_sanity_check_end(self) -> None:
        stage, self._eval = self._eval, None
        self._close(stage)

    @hookimpl(tryfirst=True)
    def lit_train_epoch_start(self, trainer: Trainer) -> None:
        if not self._active:
            return
        total, description = trainer.num_training_batches, f"Epoch {trainer.current_epoch}"
        stage = self._train
        if stage is not None and self.reset_bar(stage.bar, description, total):
            stage.bar.n = 0
            stage.restart(*self.schedule(stage.bar, "train", total))
        else:
            self._close(stage)  # the finished epoch's bar (kept on screen or not: the bar decides)
            self._train = self._open("train", description, total)

    @hookimpl
    def lit_train_epoch_end(self) -> None:
        if self._train is not None:
            self._draw(self._train)

    @hookimpl
    def lit_train_end(self) -> None:
        stage, self._train = self._train, None
        if stage is not None:
            self.close_bar(stage.bar, "train")
            self.finish()

    @hookimpl(tryfirst=True)
    def lit_validation_start(self, trainer: Trainer) -> None:
        if self._active and not trainer.sanity_checking:  # the sanity check opened its own bar
            kind, description, loaders, limit = _EVAL_BARS[trainer.state.fn]
            self._close(self._eval)
            total = self.total_batches(getattr(trainer, loaders), getattr(trainer, limit))
            self._eval = self._open(kind, getattr(self, description), total)

    # One method opens the evaluation bar of every loop (pluggy takes the hook's name from the attribute).
    lit_test_start = lit_predict_start = lit_validation_start

    @hookimpl
    def lit_validation_end(self, trainer: Trainer) -> None:
        if not trainer.sanity_checking:  # the sanity check's bar closes in lit_sanity_check_end
            self._close_eval()

    @hookimpl
    def lit_test_end(self) -> None:
        self._close_eval()

    lit_predict_end = lit_test_end

    @hookimpl
    def lit_teardown(self) -> None:
        stages, self._eval, self._train = (self._eval, self._train), None, None
        for stage in stages:
            self._close(stage)
        if stages != (None, None):
            self.finish()
        self._active = False
        per_batch, self._per_batch = self._per_batch, None
        if per_batch is not None and self._trainer is not None:
            self._trainer.plugin_manager.unregister(per_batch)

    lit_exception = lit_teardown

    # trylast: a printer in plugins=[...] is asked first (callbacks register after plugins);
    # the kernel's table (a wrapper around every implementation) comes when none answered.
    @hookimpl(trylast=True)
    def lit_print_results(self, stage: str, results: list[dict[str, float]]) -> bool | None:
        if not self.is_enabled:
            return None  # a disabled bar leaves the table to the kernel's default
        self.print_results(stage, results)
        return True

    def __getstate__(self) -> dict[str, Any]:  # open bars and the trainer are not picklable: a copy starts afresh
        state = dict(self.__dict__)
        state.update(_trainer=None, _train=None, _eval=None, _active=False, _per_batch=None)
        return state


class _PerBatch:
    """A drawing bar's per-batch hooks, a plugin of their own: registered in the bar's ``lit_setup``
    only when it draws, so that an idle bar adds nothing to the loop's per-batch calls."""

    def __init__(self, bar: ProgressBar) -> None:
        self.bar = bar

    @hookimpl
    def lit_train_batch_end(self, batch_idx: int) -> None:
        stage = self.bar._train
        if stage is not None:
            stage.bar.n = n = batch_idx + 1
            if n >= stage.due:
                self.bar._due(stage)

    @hookimpl
    def lit_validation_batch_end(self) -> None:
        stage = self.bar._eval
        if stage is not None:
            stage.bar.n = n = stage.bar.n + 1
            if n >= stage.due:
                self.bar._due(stage)

    # One per-batch method for every evaluation loop (pluggy takes the hook's name from the attribute).
    lit_test_batch_end = lit_predict_batch_end = lit_validation_batch_end
