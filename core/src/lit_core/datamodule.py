"""``LightningDataModule``: the data side of a project in one shareable class."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from .hparams import AttributeDict, collect_init_args

if TYPE_CHECKING:
    from .trainer import Trainer


class LightningDataModule:
    """Download, split and serve the data: ``prepare_data``, ``setup``, ``*_dataloader``.

    ``prepare_data`` runs once (per node, or per job with ``prepare_data_per_node=False``);
    ``setup(stage)`` runs on every process.
    """

    #: Per-node (``True``) or per-job (``False``) ``prepare_data``.
    prepare_data_per_node: bool = True

    def __init__(self) -> None:
        self.trainer: Trainer | None = None
        self._hparams = AttributeDict()

    def prepare_data(self) -> None:
        """Download or write data; called on one process per node (or per job)."""

    def setup(self, stage: str | None = None) -> None:
        """Load and split the data; called on every process with the stage being run."""

    def teardown(self, stage: str | None = None) -> None:
        """Release what ``setup`` built."""

    def on_exception(self, exception: BaseException) -> None:
        """Called when an exception (Ctrl+C included) ends a stage, after the callbacks' ``on_exception``."""

    def train_dataloader(self) -> Any:
        """The training dataloader."""
        raise NotImplementedError

    def val_dataloader(self) -> Any:
        """The validation dataloader(s)."""
        raise NotImplementedError

    def test_dataloader(self) -> Any:
        """The test dataloader(s)."""
        raise NotImplementedError

    def predict_dataloader(self) -> Any:
        """The predict dataloader(s)."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """State to save in checkpoints."""
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""

    def save_hyperparameters(self, *args: Any, ignore: str | list[str] | None = None) -> None:
        """Store the ``__init__`` arguments in ``self.hparams``."""
        frame = inspect.currentframe().f_back  # type: ignore[union-attr]
        params = collect_init_args(frame, self)
        if args:
            params = {a: params[a] for a in args}
        ignored = {ignore} if isinstance(ignore, str) else set(ignore or ())
        self._hparams.update({k: v for k, v in params.items() if k not in ignored})

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path: Any, map_location: Any = None, **hparam_overrides: Any) -> Any:
        """Rebuild the data module from a checkpoint's ``datamodule_hyper_parameters`` and state.

        Keyword arguments override saved hyperparameters. The file is read with
        ``torch.load(weights_only=True)``.
        """
        from .checkpoint import load_from_checkpoint

        datamodule, checkpoint = load_from_checkpoint(cls, checkpoint_path, map_location, True,
                                                      hparams_key="datamodule_hyper_parameters", **hparam_overrides)
        if "datamodule" in checkpoint:
            datamodule.load_state_dict(checkpoint["datamodule"])
        return datamodule

    @property
    def hparams(self) -> AttributeDict:
        """The saved hyperparameters."""
        return self._hparams
