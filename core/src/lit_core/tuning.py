"""Lightning 1.x's tuning flags: ``Trainer(auto_lr_find=..., auto_scale_batch_size=...)`` and ``trainer.tune()``.

Lightning 2.0 replaced them with ``Tuner(trainer)``; lit runs them as Lightning 1.9 did, with
a deprecation warning. The flags are checked by lit-compat's 1.x translation, which sets
``trainer.auto_lr_find`` / ``trainer.auto_scale_batch_size``; the searches run in the 1.9 tuner
that an installed distribution provides (lit-callbacks) beside ``Tuner``: the kernel names no
plugin, it looks ``_LegacyTuner`` up in the ``lit_core.tuner`` entry-point group when it is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .module import LightningModule
from .rank_zero import rank_zero_deprecation

if TYPE_CHECKING:
    from .trainer import Trainer


def tuner_class() -> type:
    """The ``Tuner`` class, from the distribution that provides ``lit_core.tuner.Tuner`` (an
    ``ImportError`` naming it when none is installed)."""
    # Deferred: lit_core.tuner resolves Tuner from the distribution that provides it (lit-callbacks),
    # importing it; lit-core imports without it and pays for it only when the tuner is used.
    from .tuner import Tuner

    return Tuner


def _legacy_tuner_class() -> type:
    """Lightning 1.9's tuner class, ``lit_core.tuner._LegacyTuner``, from the distribution that provides it."""
    try:
        from .tuner import _LegacyTuner  # deferred, as in tuner_class
    except ImportError as exc:
        raise ImportError(f"trainer.tune() and trainer.tuner run Lightning 1.9's tuner, which nothing installed provides. {exc}",
                          name="lit_core.tuner") from exc
    return _LegacyTuner


def legacy_tuner(trainer: Trainer) -> Any:
    """``trainer.tuner``, with a deprecation warning: Lightning 1.9's tuner (``_LegacyTuner``), from the distribution that provides it."""
    rank_zero_deprecation(
        "trainer.tuner was removed in Lightning 2.0: use `from lit_core.tuner import Tuner; Tuner(trainer)` "
        "(whose lr_find sets the found rate on the model by default)."
    )
    return _legacy_tuner_class()(trainer)


def tune(trainer: Trainer, model: LightningModule, train_dataloaders: Any = None, val_dataloaders: Any = None,
         dataloaders: Any = None, datamodule: Any = None, scale_batch_size_kwargs: dict[str, Any] | None = None,
         lr_find_kwargs: dict[str, Any] | None = None, method: str = "fit") -> dict[str, Any]:
    """Lightning 1.9's ``trainer.tune``: batch-size scaling, then the learning-rate finder, as the flags ask.

    :return: ``{"scale_batch_size": size}`` and / or ``{"lr_find": LRFinder}`` for the searches that ran.
    """
    rank_zero_deprecation(
        "trainer.tune() was removed in Lightning 2.0: use `from lit_core.tuner import Tuner; "
        "Tuner(trainer).lr_find(model)` / `.scale_batch_size(model)`."
    )
    if not isinstance(model, LightningModule):
        raise TypeError(f"`Trainer.tune()` requires a `LightningModule`, got: {type(model).__qualname__}")
    return _legacy_tuner_class()(trainer).tune(model, train_dataloaders, val_dataloaders, dataloaders, datamodule,
                                               scale_batch_size_kwargs, lr_find_kwargs, method)
