"""``RichModelSummary``: the model summary as a rich table, printed when fit starts.

It implements the kernel's ``lit_print_model_summary`` service hook, so its table replaces
lit-core's plain one, at the same moment (``fit``, global rank zero, ``enable_model_summary``).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from torch import nn

import lit_core as lit


def human(n: int) -> str:
    """Lightning's style: 136 K, 33.0 K, 2.6 K, 100."""
    for unit, size in (("T", 10**12), ("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= size:
            scaled = n / size
            return f"{int(scaled):,d} {unit}" if scaled >= 100 else f"{scaled:,.1f} {unit}"
    return str(n)


def layers(module: nn.Module, max_depth: int) -> list[tuple[str, nn.Module]]:
    """``(dotted name, submodule)`` down to ``max_depth`` levels (-1: all), in definition order."""
    found = []
    for name, sub in module.named_modules():
        depth = name.count(".") + 1
        if name and (max_depth < 0 or depth <= max_depth):
            found.append((name, sub))
    return found


class RichModelSummary(lit.Callback):
    """Lightning's ``RichModelSummary``: layers, types, parameter counts and mode, then totals.

    Args:
        max_depth: how deep to list submodules (1: the direct children; -1: all; 0: totals only).
        console_kwargs: arguments of the ``rich.console.Console`` it prints on.
    """

    name = "rich_model_summary"

    def __init__(self, max_depth: int = 1, console_kwargs: dict[str, Any] | None = None) -> None:
        self.max_depth = max_depth
        self._console_kwargs = console_kwargs or {}

    def table(self, module: nn.Module) -> Table:
        table = Table(header_style="bold magenta")
        for column in ("", "Name", "Type", "Params", "Mode"):
            table.add_column(column, justify="right" if column in ("", "Params") else "left")
        for idx, (name, sub) in enumerate(layers(module, self.max_depth)):
            params = sum(p.numel() for p in sub.parameters())
            table.add_row(str(idx), name, type(sub).__name__, human(params), "train" if sub.training else "eval")
        return table

    def totals(self, module: nn.Module) -> list[str]:
        params = list(module.parameters())
        trainable = sum(p.numel() for p in params if p.requires_grad)
        total = sum(p.numel() for p in params)
        size_mb = sum(p.numel() * p.element_size() for p in params) / 1e6
        return [
            f"[bold]Trainable params[/]: {human(trainable)}",
            f"[bold]Non-trainable params[/]: {human(total - trainable)}",
            f"[bold]Total params[/]: {human(total)}",
            f"[bold]Total estimated model params size (MB)[/]: {size_mb:.3f}",
        ]

    @lit.hookimpl
    def lit_print_model_summary(self, module: lit.LightningModule) -> bool:
        console = Console(**self._console_kwargs)
        if self.max_depth != 0:
            console.print(self.table(module))
        for line in self.totals(module):
            console.print(line)
        return True
