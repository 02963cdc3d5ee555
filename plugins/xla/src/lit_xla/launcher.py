"""Running a stage in the processes ``torch_xla.launch`` starts (``strategy="xla"``).

torch_xla starts one process per device of the host with ``multiprocessing`` and pickles what
each process must call. The trainer does not pickle (plugins hold modules, loggers hold
files), so the processes are forked: each inherits the trainer from this one, and only a key
into ``_STAGES`` travels. Global rank zero sends back, through a file, what this process
needs afterwards: the stage's result, the trained weights, the callbacks' states, where the
loop stopped.

With ``devices=1`` on a host with several devices the stage runs here, on one device.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Callable
from typing import Any

import torch

import lit_core as lit
from lit_core.plugin_api import result_payload, take_back

#: key -> (trainer, function, payload file), for the forked processes to find.
_STAGES: dict[int, tuple[lit.Trainer, Callable[[], Any], str]] = {}
_keys = itertools.count()


def launch(trainer: lit.Trainer, function: Callable[[], Any], all_devices: bool) -> Any:
    """Run ``function`` (a whole stage) in one process per XLA device, or here on one device."""
    import torch_xla

    if torch_xla._XLAC._xla_runtime_is_initialized() and all_devices:
        from lit_core.plugin_api import MisconfigurationException

        raise MisconfigurationException(
            "strategy='xla' starts its processes before anything touches an XLA device, but this process already "
            "used one (a tensor on xla, or an earlier Trainer on this process with strategy='xla_spmd' or one "
            "device). Start strategy='xla' runs in a fresh process, or train here on one device (devices=1, no strategy)."
        )
    if not all_devices:
        return function()
    key = next(_keys)
    with tempfile.TemporaryDirectory(prefix="lit-xla-") as folder:
        out = os.path.join(folder, "rank0.pt")
        _STAGES[key] = (trainer, function, out)
        try:
            torch_xla.launch(_in_process, args=(key,), start_method="fork")
        finally:
            del _STAGES[key]
        # Written a moment ago by this job's global rank zero: not a file from elsewhere.
        payload = torch.load(out, weights_only=False)
    take_back(trainer, payload)
    return payload["result"]


def _in_process(index: int, key: int) -> None:
    trainer, function, out = _STAGES[key]
    result = function()
    if trainer.global_rank == 0:
        torch.save(result_payload(trainer, result), out)
