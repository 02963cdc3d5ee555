"""``ProgressBar``: what every progress bar plugin shares (Lightning's ``ProgressBar`` base).

A bar subclasses it, sets ``self._refresh_rate`` and draws in whichever hooks it wants; the base
gives Lightning's public surface (``refresh_rate``, ``is_enabled``, ``enable()`` / ``disable()``,
``get_metrics``), marks the callback as a progress bar (the kernel then adds no default one, and
``trainer.progress_bar_callback`` finds it), and the two computations every bar needs: how many
batches a loop will run, and the results table of ``validate()`` / ``test()`` (an enabled bar
answers the ``lit_print_results`` service hook through ``print_results``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from .callback import Callback
from .data import batches_per_loader
from .markers import hookimpl
from .rank_zero import rank_zero_deprecation

if TYPE_CHECKING:
    from .module import LightningModule
    from .trainer import Trainer


class ProgressBar(Callback):
    """Base class of progress bars; see the module docstring."""

    is_progress_bar = True
    _refresh_rate: int = 1
    _enabled: bool = True

    @property
    def refresh_rate(self) -> int:
        """Redraw every this many batches (0: the bar is off)."""
        return self._refresh_rate

    @property
    def is_enabled(self) -> bool:
        return self._enabled and self._refresh_rate > 0

    @property
    def is_disabled(self) -> bool:
        return not self.is_enabled

    def enable(self) -> None:
        self._enabled = True

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

    def disable(self) -> None:
        self._enabled = False

    def print_results(self, stage: str, results: list[dict[str, float]]) -> None:
        """Show the results of ``validate()`` / ``test()``; the bar's ``lit_print_results`` calls
        it while the bar is enabled. Bars override it to print without breaking their display;
        this one prints ``format_results`` on standard output."""
        print(self.format_results(stage, results))

    # trylast: a printer in plugins=[...] is asked first (callbacks register after plugins);
    # the kernel's table (a wrapper around every implementation) comes when none answered.
    @hookimpl(trylast=True)
    def lit_print_results(self, stage: str, results: list[dict[str, float]]) -> bool | None:
        if not self.is_enabled:
            return None  # a disabled bar leaves the table to the kernel's default
        self.print_results(stage, results)
        return True

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
