"""``ModelSummary``: print the model's summary table, to a chosen depth, when fit starts."""

from __future__ import annotations

from typing import Any

import lit_core as lit

from .summary_table import ModelSummary as Summary
from .summary_table import format_summary_table


class ModelSummary(lit.Callback):
    """Lightning's ``ModelSummary`` callback: the layer table down to ``max_depth`` and the totals, when fit starts.

    It replaces the Trainer's default summary (``enable_model_summary``), and prints even when
    that is off, as in Lightning (global rank zero only).

    Args:
        max_depth: how deep to list submodules (1: the direct children; -1: all; 0: print nothing).
        **summarize_kwargs: passed on to :meth:`summarize` (for subclasses that print differently).
    """

    name = "model_summary"

    def __init__(self, max_depth: int = 1, **summarize_kwargs: Any) -> None:
        if not isinstance(max_depth, int) or isinstance(max_depth, bool) or max_depth < -1:
            raise ValueError(f"`max_depth` can be -1, 0 or > 0, got {max_depth}.")
        self._max_depth = max_depth
        self._summarize_kwargs = summarize_kwargs

    @lit.hookimpl
    def lit_print_model_summary(self, module: lit.LightningModule) -> bool:
        # This callback prints at fit start (below) whatever enable_model_summary says: the
        # kernel's default table is only replaced.
        return True

    def on_fit_start(self, trainer: lit.Trainer, pl_module: lit.LightningModule) -> None:
        if not self._max_depth or not trainer.is_global_zero:
            return
        summary = self._summary(trainer, pl_module)
        self.summarize(summary._get_summary_data(), summary.total_parameters, summary.trainable_parameters,
                       summary.model_size, summary.total_training_modes, total_flops=summary.total_flops,
                       **self._summarize_kwargs)

    def _summary(self, trainer: lit.Trainer, pl_module: lit.LightningModule) -> Summary:
        return Summary(pl_module, max_depth=self._max_depth)

    @staticmethod
    def summarize(summary_data: list[tuple[str, list[str]]], total_parameters: int, trainable_parameters: int,
                  model_size: float, total_training_modes: dict[str, int], total_flops: int = 0, **summarize_kwargs: Any) -> None:
        """Print the table (Lightning logs it at INFO level; lit prints, as its default summary does)."""
        print(format_summary_table(total_parameters, trainable_parameters, model_size, total_training_modes, total_flops, *summary_data))
