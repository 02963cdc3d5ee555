"""``DeviceStatsMonitor``: log the device's statistics (memory, utilisation) around each batch."""

from __future__ import annotations

from typing import Any

import lit_core as lit
from lit_core.plugin_api import MisconfigurationException, rank_zero_warn


def get_cpu_stats() -> dict[str, float]:
    """System-wide CPU and memory use in percent, from psutil (Lightning's key names)."""
    try:
        import psutil
    except ImportError as exc:  # psutil is a dependency of lit-callbacks; a broken install lands here
        raise ModuleNotFoundError("`DeviceStatsMonitor` cannot log CPU stats as `psutil` is not installed: pip install psutil") from exc
    return {
        "cpu_vm_percent": psutil.virtual_memory().percent,
        "cpu_percent": psutil.cpu_percent(),
        "cpu_swap_percent": psutil.swap_memory().percent,
    }


class DeviceStatsMonitor(lit.Callback):
    """Lightning's ``DeviceStatsMonitor``: device statistics logged at train/validation/test batch start and end.

    Keys are ``DeviceStatsMonitor.<hook>/<stat>`` (the logger's group separator), e.g.
    ``DeviceStatsMonitor.on_train_batch_end/cpu_percent``, logged every ``log_every_n_steps``
    at the step the trainer logs at. GPU statistics come from
    ``trainer.accelerator.get_device_stats(device)``; CPU ones (``cpu_percent``,
    ``cpu_vm_percent``, ``cpu_swap_percent``) from psutil.

    Args:
        cpu_stats: ``None``: CPU statistics only when training on the CPU; ``True``: always;
            ``False``: never.
        filter_keys: log only these statistics (names before the prefix); ``None``: all.

    Raises:
        MisconfigurationException: the Trainer has no logger (``fit``).
    """

    name = "device_stats"

    def __init__(self, cpu_stats: bool | None = None, filter_keys: set[str] | None = None) -> None:
        self._cpu_stats = cpu_stats
        self._filter_keys = filter_keys

    def setup(self, trainer: lit.Trainer, pl_module: lit.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        if not trainer.loggers:
            raise MisconfigurationException("Cannot use `DeviceStatsMonitor` callback with `Trainer(logger=False)`.")
        if self._filter_keys is not None:
            unknown = set(self._filter_keys) - self._stats(trainer).keys()
            if unknown:
                rank_zero_warn(f"`DeviceStatsMonitor` filter_keys contains keys not found in device stats and will be ignored: {unknown}")

    def _stats(self, trainer: lit.Trainer) -> dict[str, float]:
        device = trainer.device
        stats = dict(trainer.accelerator.get_device_stats(device))
        if (device.type == "cpu" and self._cpu_stats is not False and not stats) or (self._cpu_stats and device.type != "cpu"):
            stats.update(get_cpu_stats())
        return stats

    def _log(self, trainer: lit.Trainer, key: str, done: bool) -> None:
        # Lightning logs when the trainer's own logging does: every log_every_n_steps optimizer steps.
        # At a batch's end the step has been taken (global_step counts it), at its start not yet.
        step = trainer.global_step - 1 if done else trainer.global_step
        every = trainer.log_every_n_steps
        if not trainer.is_global_zero or every <= 0 or ((step + 1) % every and not trainer.should_stop):
            return
        if self._cpu_stats is False and trainer.device.type == "cpu":
            return
        stats = self._stats(trainer)
        if self._filter_keys is not None:
            stats = {k: v for k, v in stats.items() if k in self._filter_keys}
        for logger in trainer.loggers:
            prefix = f"{type(self).__qualname__}.{key}{logger.group_separator}"
            logger.log_metrics({prefix + k: v for k, v in stats.items()}, step=max(step, 0))

    def on_train_batch_start(self, trainer: lit.Trainer, pl_module: lit.LightningModule, batch: Any, batch_idx: int) -> None:
        self._log(trainer, "on_train_batch_start", done=False)

    def on_train_batch_end(self, trainer: lit.Trainer, pl_module: lit.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        self._log(trainer, "on_train_batch_end", done=True)

    def on_validation_batch_start(self, trainer: lit.Trainer, pl_module: lit.LightningModule, batch: Any, batch_idx: int,
                                  dataloader_idx: int = 0) -> None:
        self._log(trainer, "on_validation_batch_start", done=False)

    def on_validation_batch_end(self, trainer: lit.Trainer, pl_module: lit.LightningModule, outputs: Any, batch: Any,
                                batch_idx: int, dataloader_idx: int = 0) -> None:
        self._log(trainer, "on_validation_batch_end", done=False)

    def on_test_batch_start(self, trainer: lit.Trainer, pl_module: lit.LightningModule, batch: Any, batch_idx: int,
                            dataloader_idx: int = 0) -> None:
        self._log(trainer, "on_test_batch_start", done=False)

    def on_test_batch_end(self, trainer: lit.Trainer, pl_module: lit.LightningModule, outputs: Any, batch: Any,
                          batch_idx: int, dataloader_idx: int = 0) -> None:
        self._log(trainer, "on_test_batch_end", done=False)
