"""``LightningDataModule``: the data side of a project in one shareable class."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from .checkpoint import load_from_checkpoint
from .data_hooks import DataHooks
from .datamodule_extras import dataloader_method, describe
from .hparams import AttributeDict, save_hyperparameters
from .lightning_1x import argparse_method

if TYPE_CHECKING:
    from .trainer import Trainer


class LightningDataModule(DataHooks):
    """Download, split and serve the data: ``prepare_data``, ``setup``, ``*_dataloader``.

    ``prepare_data`` runs once (per node, or per job with ``prepare_data_per_node=False``);
    ``setup(stage)`` runs on every process.
    """

    #: Per-node (``True``) or per-job (``False``) ``prepare_data``.
    prepare_data_per_node: bool = True

    # Lightning 1.x's argparse helpers (deprecated), from the lightning_1x_flags role (lit_core.lightning_1x).
    add_argparse_args = argparse_method("add_argparse_args")
    from_argparse_args = argparse_method("from_argparse_args", "the class with keyword arguments")
    get_init_arguments_and_types = argparse_method("get_init_arguments_and_types", "inspect.signature")

    def __init__(self) -> None:
        self.trainer: Trainer | None = None
        self._hparams = AttributeDict()
        self._hparams_initial = AttributeDict()
        self._log_hyperparams = True

    def on_exception(self, exception: BaseException) -> None:
        """Called when an exception (Ctrl+C included) ends a stage, after the callbacks' ``on_exception``."""

    def state_dict(self) -> dict[str, Any]:
        """State to save in checkpoints."""
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""

    def save_hyperparameters(self, *args: Any, ignore: str | list[str] | None = None, frame: Any = None,
                             logger: bool = True) -> None:
        """Store the ``__init__`` arguments in ``self.hparams``, as ``LightningModule.save_hyperparameters``.

        With no arguments every ``__init__`` argument is saved; name some to save only those, or
        pass a dict / ``argparse.Namespace`` to save it as it is. They go into checkpoints
        (``datamodule_hyper_parameters``) and, unless ``logger=False``, to the loggers with the
        module's.
        """
        if frame is None:
            frame = inspect.currentframe().f_back  # type: ignore[union-attr]
        save_hyperparameters(self, args, ignore, frame, logger)

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path: Any, map_location: Any = None, hparams_file: Any = None,
                             **hparam_overrides: Any) -> Any:
        """Rebuild the data module from a checkpoint's ``datamodule_hyper_parameters`` and state.

        ``hparams_file`` (a ``hparams.yaml`` or ``tags.csv``) overrides the saved hyperparameters;
        keyword arguments override both. The file is read with ``torch.load(weights_only=True)``.
        """
        datamodule, checkpoint = load_from_checkpoint(cls, checkpoint_path, map_location, True, hparams_key="datamodule_hyper_parameters",
                                                      hparams_file=hparams_file, **hparam_overrides)
        if "datamodule" in checkpoint:
            datamodule.load_state_dict(checkpoint["datamodule"])
        return datamodule

    @classmethod
    def from_datasets(cls, train_dataset: Any = None, val_dataset: Any = None, test_dataset: Any = None,
                      predict_dataset: Any = None, batch_size: int = 1, num_workers: int = 0,
                      **datamodule_kwargs: Any) -> LightningDataModule:
        """A data module serving the given datasets (each a ``Dataset`` or a list / dict of them).

        Every loader has ``batch_size`` and ``num_workers``; the training ones shuffle (unless an
        ``IterableDataset``). ``batch_size`` / ``num_workers`` also go to ``__init__`` when it takes
        them; ``datamodule_kwargs`` go to it always.
        """
        params = inspect.signature(cls.__init__).parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
        special = {k: v for k, v in (("batch_size", batch_size), ("num_workers", num_workers)) if takes_any or k in params}
        datamodule = cls(**datamodule_kwargs, **special)
        for stage, dataset in (("train", train_dataset), ("val", val_dataset), ("test", test_dataset), ("predict", predict_dataset)):
            if dataset is not None:
                setattr(datamodule, f"{stage}_dataloader", dataloader_method(dataset, batch_size, num_workers, shuffle=stage == "train"))
        return datamodule

    def __str__(self) -> str:
        """Which dataloaders the data module serves, with their datasets' sizes, as Lightning prints it:
        ``{Train dataloader: size=64}``, ``{Validation dataloader: 1. size=32 ; 2. size=16}``,
        ``{Test dataloader: None}``..."""
        return describe(self)

    @property
    def hparams(self) -> AttributeDict:
        """The saved hyperparameters."""
        return self._hparams

    @property
    def hparams_initial(self) -> AttributeDict:
        """The hyperparameters as they were saved, before any later change (what the loggers get)."""
        return AttributeDict(self._hparams_initial)
