"""lit-callbacks: Lightning's built-in callbacks and the tuner for lit.

Import them from Lightning's place, ``from lit_core.callbacks import EarlyStopping``, or from
here, ``from lit_callbacks import EarlyStopping``.
"""

from .tuner import BatchSizeFinder, LearningRateFinder, Tuner

__version__ = "0.1.0"

__all__ = ["BatchSizeFinder", "LearningRateFinder", "Tuner", "__version__"]
