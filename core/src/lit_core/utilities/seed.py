"""Lightning's ``utilities.seed`` path for ``seed_everything``."""

from ..seed import seed_everything

__all__ = ["seed_everything"]
