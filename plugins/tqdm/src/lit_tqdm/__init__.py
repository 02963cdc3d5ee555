"""lit-tqdm: Lightning's ``TQDMProgressBar`` for lit.

``from lit_tqdm import TQDMProgressBar``. Installed, it is lit's default progress bar (entry
point ``tqdm`` in ``lit.callbacks``): ``lit.Trainer()`` shows it unless
``enable_progress_bar=False``, ``barebones=True`` or another bar is among the callbacks.
"""

from .bar import TQDMProgressBar

__version__ = "0.1.0"

__all__ = ["TQDMProgressBar", "__version__"]
