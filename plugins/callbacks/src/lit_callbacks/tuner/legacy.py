"""Lightning 1.9's tuner: ``trainer.tuner`` and what ``trainer.tune()`` runs for ``auto_lr_find`` / ``auto_scale_batch_size``.

Lightning 2.0 replaced both with ``Tuner(trainer)``. The kernel keeps the 1.x flags (checked,
with a deprecation warning, in ``lit_core/tuning.py``) and finds this class lazily, as
``_LegacyTuner`` in the ``lit_core.tuner`` entry-point group, when a program calls
``trainer.tune()`` or reads ``trainer.tuner``.
"""

from __future__ import annotations

from typing import Any

import lit_core as lit

from .tuning import Tuner


class LegacyTuner:
    """Lightning 1.x's ``trainer.tuner``: the ``Tuner`` with 1.9's defaults.

    ``lr_find`` does not write the suggestion to the model unless asked (``update_attr=False``,
    as in 1.9), and takes the attribute's name from ``Trainer(auto_lr_find="name")``.
    """

    def __init__(self, trainer: lit.Trainer) -> None:
        self._trainer = trainer
        self._tuner = Tuner(trainer)

    def lr_find(self, model: lit.LightningModule, *args: Any, update_attr: bool = False, **kwargs: Any) -> Any:
        """``Tuner.lr_find`` with ``update_attr=False`` by default."""
        if isinstance(self._trainer.auto_lr_find, str):
            kwargs.setdefault("attr_name", self._trainer.auto_lr_find)
        return self._tuner.lr_find(model, *args, update_attr=update_attr, **kwargs)

    def scale_batch_size(self, model: lit.LightningModule, *args: Any, **kwargs: Any) -> Any:
        """``Tuner.scale_batch_size``; the mode defaults to ``Trainer(auto_scale_batch_size="...")``'s."""
        if isinstance(self._trainer.auto_scale_batch_size, str):
            kwargs.setdefault("mode", self._trainer.auto_scale_batch_size)
        return self._tuner.scale_batch_size(model, *args, **kwargs)

    def tune(self, model: lit.LightningModule, train_dataloaders: Any = None, val_dataloaders: Any = None,
             dataloaders: Any = None, datamodule: Any = None, scale_batch_size_kwargs: dict[str, Any] | None = None,
             lr_find_kwargs: dict[str, Any] | None = None, method: str = "fit") -> dict[str, Any]:
        """Lightning 1.9's ``trainer.tune``: batch-size scaling, then the learning-rate finder, as the flags ask.

        :return: ``{"scale_batch_size": size}`` and / or ``{"lr_find": LRFinder}`` for the searches that ran.
        """
        trainer = self._trainer
        data = {"train_dataloaders": train_dataloaders, "val_dataloaders": val_dataloaders, "dataloaders": dataloaders,
                "datamodule": datamodule, "method": method}
        result: dict[str, Any] = {}
        auto_scale, auto_lr = trainer.auto_scale_batch_size, trainer.auto_lr_find
        if auto_scale:
            kwargs = dict(scale_batch_size_kwargs or {})
            if isinstance(auto_scale, str):
                kwargs.setdefault("mode", auto_scale)
            result["scale_batch_size"] = self._tuner.scale_batch_size(model, **data, **kwargs)
        if auto_lr:
            kwargs = dict(lr_find_kwargs or {})
            kwargs.setdefault("update_attr", True)
            if isinstance(auto_lr, str):
                kwargs.setdefault("attr_name", auto_lr)
            result["lr_find"] = self._tuner.lr_find(model, **data, **kwargs)
        return result
