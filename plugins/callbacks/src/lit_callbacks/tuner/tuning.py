"""``Tuner(trainer)``: Lightning's entry point to the learning-rate and batch-size finders.

Each method runs the stage (``trainer.fit`` / ``validate`` / ...) with its finder callback
added first; the finder searches when the stage starts and then ends the stage, so the
Trainer is left as it was before (weights, optimizer state, counters, callbacks, loggers) and
a following ``trainer.fit`` starts clean, with the found value set on the model.
"""

from __future__ import annotations

from typing import Any, Literal

import lit_core as lit
from lit_core.plugin_api import MisconfigurationException, with_callbacks

from .batch_size_finder import BatchSizeFinder
from .lr_finder import LearningRateFinder, LRFinder

_METHODS = ("fit", "validate", "test", "predict")


def _check_configuration(train_dataloaders: Any, val_dataloaders: Any, dataloaders: Any, method: str) -> None:
    if method not in _METHODS:
        raise ValueError(f"method {method!r} is invalid. Should be one of {_METHODS}.")
    if method == "fit":
        if dataloaders is not None:
            raise MisconfigurationException(
                f"In tuner with method={method!r}, `dataloaders` argument should be None,"
                " please consider setting `train_dataloaders` and `val_dataloaders` instead."
            )
    elif train_dataloaders is not None or val_dataloaders is not None:
        raise MisconfigurationException(
            f"In tuner with `method`={method!r}, `train_dataloaders` and `val_dataloaders` arguments should be None,"
            " please consider setting `dataloaders` instead."
        )


def _check_no_finder(trainer: lit.Trainer, kind: type) -> None:
    if any(isinstance(cb, kind) for cb in trainer.callbacks):
        raise ValueError(
            f"Trainer is already configured with a `{kind.__name__}` callback. Please remove it if you want to use the Tuner."
        )


class Tuner:
    """Tune a model's learning rate and batch size before training (Lightning's ``Tuner``).

    :param trainer: the Trainer that will train the model; its settings (accelerator,
        precision, ``accumulate_grad_batches``...) are the ones tuned for.
    """

    def __init__(self, trainer: lit.Trainer) -> None:
        self._trainer = trainer

    def _run(self, method: str, finder: lit.Callback, model: lit.LightningModule, train_dataloaders: Any,
             val_dataloaders: Any, dataloaders: Any, datamodule: Any) -> None:
        finder._early_exit = True  # type: ignore[attr-defined]
        trainer = self._trainer
        with with_callbacks(trainer, finder):
            if method == "fit":
                trainer.fit(model, train_dataloaders, val_dataloaders, datamodule)
            elif method == "validate":
                trainer.validate(model, dataloaders, datamodule=datamodule)
            elif method == "test":
                trainer.test(model, dataloaders, datamodule=datamodule)
            else:
                trainer.predict(model, dataloaders, datamodule)

    def scale_batch_size(self, model: lit.LightningModule, train_dataloaders: Any = None, val_dataloaders: Any = None,
                         dataloaders: Any = None, datamodule: lit.LightningDataModule | None = None,
                         method: Literal["fit", "validate", "test", "predict"] = "fit", mode: str = "power",
                         steps_per_trial: int = 3, init_val: int = 2, max_trials: int = 25,
                         batch_arg_name: str = "batch_size") -> int | None:
        """Find the largest batch size that fits in memory; set it on the model and return it.

        :param model: the module to tune.
        :param train_dataloaders: not supported (the finder rebuilds dataloaders): an error when given.
        :param val_dataloaders: likewise.
        :param dataloaders: likewise, for ``method`` other than ``"fit"``.
        :param datamodule: a datamodule whose dataloaders read ``batch_arg_name``.
        :param method: the stage searched: ``"fit"``, ``"validate"``, ``"test"`` or ``"predict"``.
        :param mode: ``"power"`` (double until a size fails) or ``"binsearch"`` (then bisect).
        :param steps_per_trial: batches run at each size tried.
        :param init_val: the first size tried.
        :param max_trials: the most sizes tried.
        :param batch_arg_name: the attribute on the module, its hparams or the datamodule holding the size.
        :return: the size found (``None`` with ``fast_dev_run``).
        """
        _check_configuration(train_dataloaders, val_dataloaders, dataloaders, method)
        trainer = self._trainer
        if trainer.world_size > 1:
            raise ValueError("Tuning the batch size is currently not supported with distributed strategies.")
        _check_no_finder(trainer, BatchSizeFinder)
        finder = BatchSizeFinder(mode, steps_per_trial, init_val, max_trials, batch_arg_name)
        self._run(method, finder, model, train_dataloaders, val_dataloaders, dataloaders, datamodule)
        return finder.optimal_batch_size

    def lr_find(self, model: lit.LightningModule, train_dataloaders: Any = None, val_dataloaders: Any = None,
                dataloaders: Any = None, datamodule: lit.LightningDataModule | None = None,
                method: Literal["fit", "validate", "test", "predict"] = "fit", min_lr: float = 1e-8,
                max_lr: float = 1, num_training: int = 100, mode: str = "exponential",
                early_stop_threshold: float | None = 4.0, update_attr: bool = True, attr_name: str = "") -> LRFinder | None:
        """Run the learning-rate range test; returns an ``LRFinder`` (``.results``, ``.suggestion()``, ``.plot()``).

        :param model: the module to tune.
        :param train_dataloaders: training data (or a datamodule), as for ``trainer.fit``.
        :param val_dataloaders: validation data, as for ``trainer.fit``.
        :param dataloaders: must be ``None`` (``method="fit"`` only).
        :param datamodule: a datamodule, as for ``trainer.fit``.
        :param method: must be ``"fit"``.
        :param min_lr: the first learning rate tried.
        :param max_lr: the last learning rate tried.
        :param num_training: how many learning rates (optimizer steps) to try.
        :param mode: ``"exponential"`` or ``"linear"`` increase.
        :param early_stop_threshold: stop when the loss exceeds this times the best loss; ``None``: never.
        :param update_attr: write the suggestion to the module's ``lr`` / ``learning_rate`` (or ``attr_name``).
        :param attr_name: the learning-rate attribute when it is neither ``lr`` nor ``learning_rate``.
        :return: the result (``None`` with ``fast_dev_run``).
        """
        if method != "fit":
            raise MisconfigurationException("method='fit' is the only valid configuration to run lr finder.")
        _check_configuration(train_dataloaders, val_dataloaders, dataloaders, method)
        _check_no_finder(self._trainer, LearningRateFinder)
        finder = LearningRateFinder(min_lr, max_lr, num_training, mode, early_stop_threshold, update_attr, attr_name)
        self._run(method, finder, model, train_dataloaders, val_dataloaders, dataloaders, datamodule)
        return finder.optimal_lr
