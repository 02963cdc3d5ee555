"""``SaveConfigCallback``: the run's full config, written to the log dir when the run sets up."""

from __future__ import annotations

import os
from typing import Any

from lit_core.plugin_api import Callback, LightningModule, Trainer


class SaveConfigCallback(Callback):
    """Saves the parsed LightningCLI config to ``trainer.log_dir/config_filename`` at setup, on rank zero only.

    Args:
        parser: the parser that parsed ``config`` (it writes the file).
        config: the parsed config.
        config_filename: the file's name in the log dir.
        overwrite: replace an existing file; without it an existing file is a ``RuntimeError``
            (so a second run into the same folder does not silently destroy the first one's config).
        multifile: keep the structure of several ``--config`` files.
        save_to_log_dir: ``False`` only for subclasses whose ``save_config`` writes elsewhere.
    """

    def __init__(self, parser: Any, config: Any, config_filename: str = "config.yaml", overwrite: bool = False,
                 multifile: bool = False, save_to_log_dir: bool = True) -> None:
        self.parser = parser
        self.config = config
        self.config_filename = config_filename
        self.overwrite = overwrite
        self.multifile = multifile
        self.save_to_log_dir = save_to_log_dir
        self.already_saved = False
        if not save_to_log_dir and type(self).save_config is SaveConfigCallback.save_config:
            raise ValueError("SaveConfigCallback(save_to_log_dir=False) saves nothing: it is for subclasses that "
                             "override save_config() to write the config elsewhere. Subclass it, or leave "
                             "save_to_log_dir=True.")

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Write the config once per callback, on global rank zero; every rank learns whether the file existed."""
        if self.already_saved:
            return
        if self.save_to_log_dir:
            log_dir = trainer.log_dir
            config_path = os.path.join(log_dir, self.config_filename)
            if not self.overwrite:
                exists = trainer.strategy.broadcast(os.path.isfile(config_path) if trainer.is_global_zero else False)
                if exists:
                    raise RuntimeError(
                        f"{type(self).__name__} expected {config_path} not to exist: it would overwrite the config of "
                        "a previous run. Delete that file, use another default_root_dir or logger version, set "
                        "LightningCLI(save_config_callback=None) not to save the config, or "
                        'LightningCLI(save_config_kwargs={"overwrite": True}) to overwrite it.')
            if trainer.is_global_zero:
                os.makedirs(log_dir, exist_ok=True)  # no logger has written there yet
                self.parser.save(self.config, config_path, skip_unset=False, overwrite=self.overwrite,
                                 multifile=self.multifile)
        if trainer.is_global_zero:
            self.save_config(trainer, pl_module, stage)
            self.already_saved = True
        self.already_saved = trainer.strategy.broadcast(self.already_saved)

    def save_config(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        """Override to save the config somewhere else as well (a logger's hyperparameters); rank zero only.

        ``self.parser.dump(self.config)`` is the config as YAML text. It runs on
        rank zero alone: a collective call here would wait forever for the other ranks.
        """
