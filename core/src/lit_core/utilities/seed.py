"""Lightning's ``utilities.seed`` path for ``seed_everything`` and ``isolate_rng``."""

from ..seed import isolate_rng, seed_everything

__all__ = ["isolate_rng", "seed_everything"]
