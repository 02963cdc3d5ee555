"""The Trainer flag checks Lightning 2.6 makes when the Trainer is built, with its exception types.

Lightning validates these in its connectors and loops (``_determine_batch_limits``,
``_DataConnector.on_trainer_init``, ``_FitLoop``, ``_TrainingEpochLoop``, the accelerator
connector); a user's test that expects a ``MisconfigurationException`` or a ``TypeError`` for a
bad flag gets it here, with a message that says how to fix the flag.
"""

from __future__ import annotations

from typing import Any

from .exceptions import MisconfigurationException, MisconfigurationTypeError, MisconfigurationValueError


def check_batch_limit(name: str, value: Any) -> None:
    """``limit_*_batches``, ``overfit_batches``, ``val_check_interval``: a fraction in [0, 1] or an int >= 0.

    (Lightning also takes a whole float above 1, ``2.0``, as an int; lit asks for the int.)
    """
    if value is None or isinstance(value, bool):
        return
    if (isinstance(value, int) and value >= 0) or (isinstance(value, float) and 0.0 <= value <= 1.0):
        return
    raise MisconfigurationException(
        f"{name}={value!r}: use an int (number of batches) or a float between 0.0 and 1.0 (a fraction)."
    )


def check_flags(*, num_nodes: Any, max_epochs: Any, max_steps: Any, check_val_every_n_epoch: Any,
                val_check_interval: Any, reload_dataloaders_every_n_epochs: Any, gradient_clip_val: Any,
                limits: dict[str, Any]) -> None:
    """Raise Lightning's exception type for a flag Lightning rejects when the Trainer is built."""
    if isinstance(num_nodes, bool) or not isinstance(num_nodes, int) or num_nodes < 1:
        raise MisconfigurationValueError(f"num_nodes={num_nodes!r} must be a positive int (the number of machines).")
    if max_epochs is not None and max_epochs < -1:
        raise MisconfigurationException(f"max_epochs={max_epochs} must be an int >= 0, or -1 for no limit.")
    if max_steps is not None and max_steps < -1:
        raise MisconfigurationException(f"max_steps={max_steps} must be an int >= 0, or -1 for no limit.")
    if check_val_every_n_epoch is not None and (isinstance(check_val_every_n_epoch, bool) or not isinstance(check_val_every_n_epoch, int)):
        raise MisconfigurationException(
            f"check_val_every_n_epoch={check_val_every_n_epoch!r} must be an int (or None to count batches across epochs)."
        )
    if check_val_every_n_epoch is None and isinstance(val_check_interval, float):
        raise MisconfigurationException(
            f"val_check_interval={val_check_interval!r} is a fraction of an epoch, but check_val_every_n_epoch=None counts "
            "batches across epochs: give val_check_interval as an int number of batches."
        )
    if isinstance(reload_dataloaders_every_n_epochs, bool) or not isinstance(reload_dataloaders_every_n_epochs, int) \
            or reload_dataloaders_every_n_epochs < 0:
        raise MisconfigurationException(f"reload_dataloaders_every_n_epochs={reload_dataloaders_every_n_epochs!r} must be an int >= 0.")
    if gradient_clip_val is not None and (isinstance(gradient_clip_val, bool) or not isinstance(gradient_clip_val, (int, float))):
        raise MisconfigurationTypeError(f"gradient_clip_val={gradient_clip_val!r} must be an int or a float.")
    for name, value in limits.items():
        check_batch_limit(name, value)
