"""Lightning's ``utilities.parsing`` names: ``AttributeDict`` and ``is_picklable``."""

from __future__ import annotations

import pickle
from typing import Any

from ..hparams import AttributeDict


def is_picklable(obj: Any) -> bool:
    """Whether ``obj`` can be pickled (and so saved in a checkpoint's hyperparameters)."""
    try:
        pickle.dumps(obj)
    except (pickle.PickleError, AttributeError, RecursionError, TypeError):
        return False
    return True


__all__ = ["AttributeDict", "is_picklable"]
