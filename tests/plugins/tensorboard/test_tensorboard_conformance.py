"""TensorBoardLogger passes lit_core.testing's logger suite, read back with TensorBoard's EventAccumulator."""

from __future__ import annotations

import os

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from lit_core.testing import LoggedRun, LoggerConformance
from lit_tensorboard import TensorBoardLogger


class TestTensorBoardLogger(LoggerConformance):
    plugin = TensorBoardLogger
    name = "tensorboard"
    keep_installed = ("lit-tensorboard",)
    backend_modules = ("tensorboard", "torch.utils.tensorboard")

    def read_back(self, logger, save_dir):
        if not os.path.isdir(logger.log_dir):
            return None
        events = EventAccumulator(logger.log_dir)
        events.Reload()
        tags = events.Tags()
        if not tags["scalars"] and not tags["tensors"]:
            return None
        metrics = {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in tags["scalars"]}
        hparams = {}
        try:
            content = events.PluginTagToContent("hparams")
        except KeyError:  # no hyperparameters were written
            content = {}
        if "_hparams_/session_start_info" in content:
            start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
            hparams = {k: getattr(v, v.WhichOneof("kind")) for k, v in start.hparams.items()}
        return LoggedRun(metrics=metrics, hyperparams=hparams)
