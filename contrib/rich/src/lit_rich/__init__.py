"""lit-rich: Lightning's ``RichProgressBar`` and ``RichModelSummary`` for lit.

``lit.Trainer(callbacks=["rich"])`` (entry point ``rich`` in ``lit.callbacks``) or
``from lit_rich import RichProgressBar``; ``"rich_model_summary"`` for the summary table.
"""

from .bar import RichProgressBar
from .summary import RichModelSummary

__version__ = "0.1.0"

__all__ = ["RichModelSummary", "RichProgressBar", "__version__"]
