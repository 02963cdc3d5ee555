"""The model summary table printed when fit starts (``enable_model_summary``).

One implementation: ``lit_core.utilities.model_summary.ModelSummary``, the class Lightning
programs use, at its default depth.
"""

from __future__ import annotations

from torch import nn


def summarize(module: nn.Module) -> str:
    """Lightning's table of the module's direct children, parameter totals and modes."""
    from .utilities.model_summary import ModelSummary

    return str(ModelSummary(module, max_depth=1))
