"""Lightning's ``loggers.logger`` path for ``Logger``."""

from ..logger import Logger

__all__ = ["Logger"]
