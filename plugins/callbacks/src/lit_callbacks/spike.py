"""``SpikeDetection``: stop training when the loss spikes, and record the batches to skip."""

from __future__ import annotations

import json
import math
import os
from collections import deque
from collections.abc import Mapping
from typing import Any, Literal

import torch

import lit_core as lit


class TrainingSpikeException(RuntimeError):
    """Raised by ``SpikeDetection`` when the training loss spiked."""

    def __init__(self, batch_idx: int, *args: Any) -> None:
        super().__init__(f"Training spike detected in batch {batch_idx}", *args)


class SpikeDetection(lit.Callback):
    """Lightning's ``SpikeDetection``: raise ``TrainingSpikeException`` when the loss jumps away from its running mean.

    After ``warmup`` batches, a batch's loss is a spike when it is worse than the previous
    loss (higher for ``mode="min"``) and differs from the mean of the last ``window`` losses by
    at least ``atol`` and by at least ``rtol`` times that mean (a ``None`` tolerance is not
    checked); with ``finite_only=True`` a non-finite loss is always a spike. Before raising,
    global rank zero writes the indices of the spiking batch and the one before it (either may
    be at fault) to ``exclude_batches_path`` (JSON), for a resumed run to skip. Losses that
    are not finite do not enter the running mean.

    Args:
        mode: ``"min"`` (the loss should fall) or ``"max"``.
        window: how many recent losses the running mean covers.
        warmup: the batch index from which spikes are looked for.
        atol: absolute tolerance, or ``None``.
        rtol: relative tolerance (times the running mean), or ``None``.
        exclude_batches_path: a ``.json`` file, or a folder for ``skip_batches.json``
            (default: the Trainer's ``default_root_dir``).
        finite_only: whether a non-finite loss counts as a spike.
    """

    name = "spike_detection"

    def __init__(self, mode: Literal["min", "max"] = "min", window: int = 10, warmup: int = 1, atol: float | None = None,
                 rtol: float | None = 2.0, exclude_batches_path: str | os.PathLike | None = None, finite_only: bool = True) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"Invalid mode. Has to be min or max, found {mode}")
        if window < 1:
            raise ValueError(f"SpikeDetection(window={window}) must be at least 1.")
        self.mode = mode
        self.window = window
        self.warmup = warmup
        self.atol = atol
        self.rtol = rtol
        self.exclude_batches_path = exclude_batches_path
        self.finite_only = finite_only
        self.last_val: float = 0.0
        self.bad_batches: list[int] = []
        self._values: deque[float] = deque(maxlen=window)

    @property
    def running_mean(self) -> float:
        """The mean of the last ``window`` finite losses (NaN before the first)."""
        return sum(self._values) / len(self._values) if self._values else float("nan")

    def on_train_start(self, trainer: lit.Trainer, pl_module: lit.LightningModule) -> None:
        # Where spikes are recorded: decided once, not per batch (the root folder is known by now).
        path = self.exclude_batches_path if self.exclude_batches_path is not None else trainer.default_root_dir
        if not str(path).endswith(".json"):
            path = os.path.join(path, "skip_batches.json")
        self.exclude_batches_path = path

    @torch.no_grad()
    def on_train_batch_end(self, trainer: lit.Trainer, pl_module: lit.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        if isinstance(outputs, torch.Tensor):
            loss = outputs.detach()
        elif isinstance(outputs, Mapping):
            loss = outputs["loss"].detach()
        else:
            raise TypeError(f"outputs have to be of type torch.Tensor or Mapping, got {type(outputs).__qualname__}")

        value = float(loss.float().mean()) if loss.numel() != 1 else float(loss)
        is_spike = batch_idx >= self.warmup and self._is_spike(value)
        if trainer.world_size > 1:  # one rank's spike stops every rank
            flag = torch.tensor(float(is_spike), device=trainer.device)
            is_spike = bool(trainer.strategy.reduce(flag, "max") > 0)
        if is_spike:
            self._handle_spike(trainer, batch_idx)
        elif math.isfinite(value):
            self._values.append(value)
            self.last_val = value

    def _is_spike(self, value: float) -> bool:
        if self.finite_only and not math.isfinite(value):
            return True
        diff = value - self.last_val
        if (diff <= 0) if self.mode == "min" else (diff >= 0):
            return False
        mean = self.running_mean
        atol_ok = self.atol is None or abs(value - mean) >= abs(self.atol)
        rtol_ok = self.rtol is None or abs(value - mean) >= abs(self.rtol * mean)
        return atol_ok and rtol_ok

    def _handle_spike(self, trainer: lit.Trainer, batch_idx: int) -> None:
        self.bad_batches.extend([batch_idx - 1, batch_idx])
        if trainer.is_global_zero:
            path = str(self.exclude_batches_path)
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            with open(path, "w") as f:
                json.dump(self.bad_batches, f, indent=4)
        raise TrainingSpikeException(batch_idx=batch_idx)

    def state_dict(self) -> dict[str, Any]:
        return {
            "last_val": self.last_val,
            "mode": self.mode,
            "warmup": self.warmup,
            "atol": self.atol,
            "rtol": self.rtol,
            "bad_batches": list(self.bad_batches),
            "bad_batches_path": None if self.exclude_batches_path is None else str(self.exclude_batches_path),
            "values": list(self._values),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.last_val = state_dict["last_val"]
        self.mode = state_dict["mode"]
        self.warmup = state_dict["warmup"]
        self.atol = state_dict["atol"]
        self.rtol = state_dict["rtol"]
        self.bad_batches = list(state_dict["bad_batches"])
        self.exclude_batches_path = state_dict["bad_batches_path"]
        self._values = deque(state_dict.get("values", []), maxlen=self.window)
