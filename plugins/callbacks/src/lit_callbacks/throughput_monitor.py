"""``ThroughputMonitor``: batches, samples (and items, FLOPs) per second, logged per stage."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

import torch

import lit_core as lit
from lit_core.plugin_api import rank_zero_warn


class Throughput:
    """Lightning's ``Throughput``: rates over a rolling window of ``(time, batches, samples)`` counters.

    ``compute()`` gives ``time``, ``batches``, ``samples`` (and ``lengths``) totals; once the
    window is full, ``device/batches_per_sec`` and ``device/samples_per_sec`` (``device/items_per_sec``
    with lengths, ``device/flops_per_sec`` and ``device/mfu`` with FLOPs), plus the same
    without ``device/`` multiplied by ``world_size`` when it is above 1.

    >>> t = Throughput(window_size=2)
    >>> t.update(time=1.0, batches=1, samples=4); t.update(time=3.0, batches=2, samples=8)
    >>> t.compute()["device/samples_per_sec"]
    2.0
    """

    def __init__(self, available_flops: float | None = None, world_size: int = 1, window_size: int = 100, separator: str = "/") -> None:
        if world_size < 1:
            raise ValueError(f"Throughput(world_size={world_size}) must be at least 1.")
        if window_size < 2:
            raise ValueError(f"Throughput(window_size={window_size}) must be at least 2: rates are differences over the window.")
        self.available_flops = available_flops
        self.world_size = world_size
        self.separator = separator
        self._time: deque[float] = deque(maxlen=window_size)
        self._batches: deque[int] = deque(maxlen=window_size)
        self._samples: deque[int] = deque(maxlen=window_size)
        self._lengths: deque[int] = deque(maxlen=window_size)
        self._flops: deque[float] = deque(maxlen=window_size)

    def update(self, *, time: float, batches: int, samples: int, lengths: int | None = None, flops: float | None = None) -> None:
        """Add the running totals after a batch (each must not decrease)."""
        for window, value, what in ((self._time, time, "time"), (self._batches, batches, "batches"), (self._samples, samples, "samples")):
            if window and value < window[-1]:
                raise ValueError(f"Throughput.update({what}={value}) went down from {window[-1]}: pass running totals.")
            window.append(value)
        if lengths is not None:
            self._lengths.append(lengths)
            if len(self._samples) != len(self._lengths):
                raise RuntimeError(f"If lengths are passed ({len(self._lengths)}), there needs to be the same number of samples ({len(self._samples)})")
        if flops is not None:
            self._flops.append(flops * self.world_size)

    def compute(self) -> dict[str, float]:
        """The totals, and the rates once the window is full."""
        sep = self.separator
        metrics: dict[str, float] = {"time": self._time[-1], "batches": self._batches[-1], "samples": self._samples[-1]}
        if self._lengths:
            metrics["lengths"] = self._lengths[-1]
        several = self.world_size > 1
        if len(self._time) == self._time.maxlen:
            elapsed = self._time[-1] - self._time[0]
            if elapsed > 0:
                batches = (self._batches[-1] - self._batches[0]) / elapsed
                samples = (self._samples[-1] - self._samples[0]) / elapsed
                metrics[f"device{sep}batches_per_sec"] = batches
                metrics[f"device{sep}samples_per_sec"] = samples
                if several:
                    metrics["batches_per_sec"] = batches * self.world_size
                    metrics["samples_per_sec"] = samples * self.world_size
                if len(self._lengths) == self._lengths.maxlen and self._batches[-1] > self._batches[0]:
                    avg_length = (self._lengths[-1] - self._lengths[0]) / (self._batches[-1] - self._batches[0])
                    metrics[f"device{sep}items_per_sec"] = samples * avg_length
                    if several:
                        metrics["items_per_sec"] = samples * self.world_size * avg_length
        if len(self._flops) == self._flops.maxlen and self._time[-1] > self._time[0]:
            flops_per_sec = (sum(self._flops) - self._flops[0]) / (self._time[-1] - self._time[0])
            if several:
                metrics["flops_per_sec"] = flops_per_sec
            metrics[f"device{sep}flops_per_sec"] = flops_per_sec / self.world_size
            if self.available_flops:
                metrics[f"device{sep}mfu"] = flops_per_sec / self.world_size / self.available_flops
        return metrics

    def reset(self) -> None:
        for window in (self._time, self._batches, self._samples, self._lengths, self._flops):
            window.clear()


class ThroughputMonitor(lit.Callback):
    """Lightning's ``ThroughputMonitor``: throughput of training, validation, testing and prediction, sent to the loggers.

    Keys are the stage then :class:`Throughput`'s names: ``train/device/batches_per_sec``,
    ``train/device/samples_per_sec``, ``train/time``, ``train/batches``, ``train/samples``,
    ``validate/...``, ``test/...``, ``predict/...``. Training throughput is logged every
    ``log_every_n_steps`` optimizer steps; time spent validating during fit is not counted as
    training time. A module attribute ``flops_per_batch`` adds FLOPs rates. Global rank zero only.

    Args:
        batch_size_fn: the number of samples in a batch.
        length_fn: the number of items (tokens, ...) in a batch, for ``items_per_sec``.
        **kwargs: :class:`Throughput`'s ``window_size`` and ``separator``.
    """

    def __init__(self, batch_size_fn: Callable[[Any], int], length_fn: Callable[[Any], int] | None = None, **kwargs: Any) -> None:
        unknown = set(kwargs) - {"window_size", "separator", "available_flops"}
        if unknown:
            raise TypeError(f"ThroughputMonitor got unexpected arguments {sorted(unknown)}: it takes batch_size_fn, length_fn, window_size, separator.")
        self.batch_size_fn = batch_size_fn
        self.length_fn = length_fn
        self.kwargs = kwargs
        self._throughputs: dict[str, Throughput] = {}
        self._t0s: dict[str, float] = {}
        self._counts: dict[str, list[int]] = {}  # stage -> [batches, samples, lengths]
        self._last_step = 0
        self._warned_flops = False

    def setup(self, trainer: lit.Trainer, pl_module: lit.LightningModule, stage: str) -> None:
        stages = {"fit": ("train", "validate")}.get(stage, (stage,))
        for name in stages:
            self._throughputs[name] = Throughput(world_size=trainer.world_size, **self.kwargs)

    def _start(self, trainer: lit.Trainer, stage: str) -> None:
        if stage not in self._counts or trainer.state.fn == "fit":
            self._throughputs[stage].reset()
            self._counts[stage] = [0, 0, 0]
        self._t0s[stage] = time.perf_counter()

    @torch.inference_mode()
    def _update(self, trainer: lit.Trainer, pl_module: lit.LightningModule, batch: Any, stage: str) -> None:
        if trainer.device.type == "cuda":
            torch.cuda.synchronize(trainer.device)  # else the clock reads before the GPU finished
        elapsed = time.perf_counter() - self._t0s[stage]
        counts = self._counts[stage]
        counts[0] += 1
        counts[1] += self.batch_size_fn(batch)
        if self.length_fn is not None:
            counts[2] += self.length_fn(batch)
        flops = getattr(pl_module, "flops_per_batch", None)
        if flops is None and not self._warned_flops:
            self._warned_flops = True
            rank_zero_warn(f"When using the `ThroughputMonitor`, you need to define a `flops_per_batch` attribute or property "
                           f"in {type(pl_module).__name__} to compute the FLOPs.")
        self._throughputs[stage].update(time=elapsed, batches=counts[0], samples=counts[1],
                                        lengths=None if self.length_fn is None else counts[2], flops=flops)

    def _compute(self, trainer: lit.Trainer, stage: str, step: int) -> None:
        throughput = self._throughputs[stage]
        metrics = {f"{stage}{throughput.separator}{k}": float(v) for k, v in throughput.compute().items()}
        for logger in trainer.loggers:
            logger.log_metrics(metrics, step=step)

    def on_train_start(self, trainer: lit.Trainer, pl_module: lit.LightningModule) -> None:
        if trainer.is_global_zero:
            self._last_step = trainer.global_step
            self._start(trainer, "train")

    def on_train_batch_end(self, trainer: lit.Trainer, pl_module: lit.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        if not trainer.is_global_zero:
            return
        self._update(trainer, pl_module, batch, "train")
        # Measured when the optimizer stepped (the step's time included), logged as the trainer logs.
        if trainer.global_step != self._last_step:
            self._last_step = trainer.global_step
            every = trainer.log_every_n_steps
            if every > 0 and (trainer.global_step % every == 0 or trainer.should_stop):
                self._compute(trainer, "train", trainer.global_step - 1)

    def on_validation_start(self, trainer: lit.Trainer, pl_module: lit.LightningModule) -> None:
        if trainer.is_global_zero and not trainer.sanity_checking:
            self._start(trainer, "validate")

    def on_validation_batch_end(self, trainer: lit.Trainer, pl_module: lit.LightningModule, outputs: Any, batch: Any,
                                batch_idx: int, dataloader_idx: int = 0) -> None:
        if trainer.is_global_zero and not trainer.sanity_checking:
            self._update(trainer, pl_module, batch, "validate")
            self._compute(trainer, "validate", self._counts["validate"][0])

    def on_validation_end(self, trainer: lit.Trainer, pl_module: lit.LightningModule) -> None:
        if not trainer.is_global_zero or trainer.sanity_checking or trainer.state.fn != "fit" or "train" not in self._t0s:
            return
        # Validation inside fit does not count as training time: move the training clock's origin past it.
        train, val = self._throughputs["train"]._time, self._throughputs["validate"]._time
        training_finished = self._t0s["train"] + (train[-1] if train else 0.0)
        self._t0s["train"] += (self._t0s["validate"] - training_finished) + (val[-1] if val else 0.0)

    def on_test_start(self, trainer: lit.Trainer, pl_module: lit.LightningModule) -> None:
        if trainer.is_global_zero:
            self._start(trainer, "test")

    def on_test_batch_end(self, trainer: lit.Trainer, pl_module: lit.LightningModule, outputs: Any, batch: Any,
                          batch_idx: int, dataloader_idx: int = 0) -> None:
        if trainer.is_global_zero:
            self._update(trainer, pl_module, batch, "test")
            self._compute(trainer, "test", self._counts["test"][0])

    def on_predict_start(self, trainer: lit.Trainer, pl_module: lit.LightningModule) -> None:
        if trainer.is_global_zero:
            self._start(trainer, "predict")

    def on_predict_batch_end(self, trainer: lit.Trainer, pl_module: lit.LightningModule, outputs: Any, batch: Any,
                             batch_idx: int, dataloader_idx: int = 0) -> None:
        if trainer.is_global_zero:
            self._update(trainer, pl_module, batch, "predict")
            self._compute(trainer, "predict", self._counts["predict"][0])
