"""Errors lit raises for user mistakes. Each message says what was wrong and how to fix it."""

import pickle


class MisconfigurationException(Exception):
    """A Trainer flag, a plugin choice or user code is set up in a way lit cannot run."""


class PluginError(MisconfigurationException):
    """A plugin is unknown, cannot be imported, or does not fit the hook specifications."""


class CheckpointError(RuntimeError):
    """A checkpoint cannot be used: truncated, not a checkpoint, or of another model."""


class UnsafeCheckpointError(CheckpointError, pickle.UnpicklingError):
    """A checkpoint holds a pickled object that would run code when loaded; it was not loaded."""


class ExitStage(Exception):
    """Raised from a hook to end the running stage now, as finished rather than failed.

    Lightning's tuner ends ``trainer.fit`` this way once the search is done (its
    ``_TunerExitException``): teardown runs, ``lit_exception`` is not called, and the stage
    returns ``None``.
    """

# Where Lightning raises ValueError or TypeError for a mistake lit reported as a
# MisconfigurationException, lit's error is both: users' `except ValueError` (Lightning's type)
# and `except MisconfigurationException` (lit's) both catch it.


class MisconfigurationValueError(MisconfigurationException, ValueError):
    """A flag has a value Lightning rejects with ``ValueError``."""


class MisconfigurationTypeError(MisconfigurationException, TypeError):
    """A flag or argument has a type Lightning rejects with ``TypeError``."""


class UnknownPluginError(PluginError, ValueError):
    """A name no installed plugin provides (``accelerator="..."``, ``strategy=``, ``precision=``...)."""
