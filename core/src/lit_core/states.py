"""Lightning's ``trainer.states`` path: ``TrainerFn``, ``RunningStage``, ``TrainerStatus``, ``TrainerState``.

lit's ``Trainer`` lives in the module ``lit_core.trainer`` rather than a package, so this module
is also registered as ``lit_core.trainer.states`` (``from lit_core.trainer.states import
TrainerFn`` works as in Lightning).
"""

import sys

from . import trainer
from .trainer_state import RunningStage, TrainerFn, TrainerState, TrainerStatus

__all__ = ["RunningStage", "TrainerFn", "TrainerState", "TrainerStatus"]

sys.modules[f"{trainer.__name__}.states"] = sys.modules[__name__]
trainer.states = sys.modules[__name__]  # type: ignore[attr-defined]
