"""What ``trainer.state`` says: Lightning's ``TrainerFn``, ``RunningStage``, ``TrainerStatus`` and ``TrainerState``.

Small shared types, in a module of their own so that the modules the Trainer wires
(``lit_core.checkpoint_contents``...) import them without importing the Trainer. Lightning's
import paths keep working: ``lit_core.trainer`` re-exports them and ``lit_core.states`` is also
``lit_core.trainer.states``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .loop_state import LoopState


class TrainerFn(str, Enum):
    """What the user called."""

    FITTING = "fit"
    VALIDATING = "validate"
    TESTING = "test"
    PREDICTING = "predict"


class RunningStage(str, Enum):
    """Which loop is running."""

    TRAINING = "train"
    SANITY_CHECKING = "sanity_check"
    VALIDATING = "validate"
    TESTING = "test"
    PREDICTING = "predict"


class TrainerStatus(str, Enum):
    """Where the Trainer is in its life."""

    INITIALIZING = "initializing"
    RUNNING = "running"
    FINISHED = "finished"
    INTERRUPTED = "interrupted"


@dataclass(slots=True, eq=False)
class TrainerState(LoopState):
    """``trainer.state``: the function, the running stage and the status (Lightning's), and where the loop is.

    The loop's fields are ``LoopState``'s (``lit_core.loop_state``): the one public object the
    loops write and plugins read.
    """

    status: TrainerStatus = TrainerStatus.INITIALIZING
    fn: TrainerFn | None = None
    stage: RunningStage | None = None

    @property
    def finished(self) -> bool:
        return self.status == TrainerStatus.FINISHED

    @property
    def stopped(self) -> bool:
        return self.status == TrainerStatus.INTERRUPTED
