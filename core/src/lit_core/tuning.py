"""Lightning 1.x's tuning flags: ``Trainer(auto_lr_find=..., auto_scale_batch_size=...)`` and ``trainer.tune()``.

Lightning 2.0 replaced them with ``Tuner(trainer)``; lit runs them as Lightning 1.9 did, with
a deprecation warning, through the ``Tuner`` that an installed distribution provides (lit-callbacks):
the kernel names no plugin, it looks ``Tuner`` up in the ``lit_core.tuner`` entry-point group.
The flags themselves are checked and warned about by lit-compat's 1.x translation, which sets
``trainer.auto_lr_find`` / ``trainer.auto_scale_batch_size``.
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


class LegacyTuner:
    """Lightning 1.x's ``trainer.tuner``: the ``Tuner`` with 1.9's defaults.

    ``lr_find`` does not write the suggestion to the model unless asked (``update_attr=False``,
    as in 1.9), and takes the attribute's name from ``Trainer(auto_lr_find="name")``.
    """

    def __init__(self, trainer: Trainer) -> None:
        self._trainer = trainer
        self._tuner = tuner_class()(trainer)

    def lr_find(self, model: LightningModule, *args: Any, update_attr: bool = False, **kwargs: Any) -> Any:
        """``Tuner.lr_find`` with ``update_attr=False`` by default."""
        if isinstance(self._trainer.auto_lr_find, str):
            kwargs.setdefault("attr_name", self._trainer.auto_lr_find)
        return self._tuner.lr_find(model, *args, update_attr=update_attr, **kwargs)

    def scale_batch_size(self, model: LightningModule, *args: Any, **kwargs: Any) -> Any:
        """``Tuner.scale_batch_size``; the mode defaults to ``Trainer(auto_scale_batch_size="...")``'s."""
        if isinstance(self._trainer.auto_scale_batch_size, str):
            kwargs.setdefault("mode", self._trainer.auto_scale_batch_size)
        return self._tuner.scale_batch_size(model, *args, **kwargs)


def legacy_tuner(trainer: Trainer) -> LegacyTuner:
    """``trainer.tuner``, with a deprecation warning."""
    rank_zero_deprecation(
        "trainer.tuner was removed in Lightning 2.0: use `from lit_core.tuner import Tuner; Tuner(trainer)` "
        "(whose lr_find sets the found rate on the model by default)."
    )
    return LegacyTuner(trainer)


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
    tuner = tuner_class()(trainer)
    data = {"train_dataloaders": train_dataloaders, "val_dataloaders": val_dataloaders, "dataloaders": dataloaders,
            "datamodule": datamodule, "method": method}
    result: dict[str, Any] = {}
    auto_scale, auto_lr = trainer.auto_scale_batch_size, trainer.auto_lr_find
    if auto_scale:
        kwargs = dict(scale_batch_size_kwargs or {})
        if isinstance(auto_scale, str):
            kwargs.setdefault("mode", auto_scale)
        result["scale_batch_size"] = tuner.scale_batch_size(model, **data, **kwargs)
    if auto_lr:
        kwargs = dict(lr_find_kwargs or {})
        kwargs.setdefault("update_attr", True)
        if isinstance(auto_lr, str):
            kwargs.setdefault("attr_name", auto_lr)
        result["lr_find"] = tuner.lr_find(model, **data, **kwargs)
    return result
