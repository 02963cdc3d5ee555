"""Lightning's tuner for lit: ``Tuner``, ``LearningRateFinder``, ``BatchSizeFinder``."""

from .batch_size_finder import BatchSizeFinder
from .lr_finder import LearningRateFinder, LRFinder
from .tuning import Tuner

__all__ = ["BatchSizeFinder", "LRFinder", "LearningRateFinder", "Tuner"]
