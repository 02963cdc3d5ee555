"""The model summary table printed when fit starts (``enable_model_summary``)."""

from __future__ import annotations

from torch import nn


def _human(n: int) -> str:
    """Lightning's style: 136 K, 33.0 K, 2.6 K, 100 (three significant digits at most)."""
    for unit, size in (("T", 10**12), ("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if n >= size:
            scaled = n / size
            return f"{int(scaled):,d} {unit}" if scaled >= 100 else f"{scaled:,.1f} {unit}"
    return str(n)


def summarize(module: nn.Module, max_depth: int = 1) -> str:
    """A table of the module's submodules down to ``max_depth`` levels (-1: all) with parameter
    counts, and totals (``max_depth=1``: the direct children)."""
    rows = [("", "Name", "Type", "Params")]
    named = ((name, child) for name, child in module.named_modules() if name)
    chosen = [(n, c) for n, c in named if max_depth == -1 or n.count(".") < max_depth]
    for idx, (name, child) in enumerate(chosen):
        rows.append((str(idx), name, type(child).__name__, _human(sum(p.numel() for p in child.parameters()))))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    rule = "-" * max(len(line) for line in lines)
    params = list(module.parameters())
    trainable = sum(p.numel() for p in params if p.requires_grad)
    total = sum(p.numel() for p in params)
    size_mb = sum(p.numel() * p.element_size() for p in params) / 1e6
    footer = [
        f"{_human(trainable):<10}Trainable params",
        f"{_human(total - trainable):<10}Non-trainable params",
        f"{_human(total):<10}Total params",
        f"{size_mb:<10.3f}Total estimated model params size (MB)",
    ]
    return "\n".join([lines[0], rule, *lines[1:], rule, *footer])
