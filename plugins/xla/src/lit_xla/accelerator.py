"""The ``xla`` accelerator (alias ``tpu``): TPUs, or XLA's CPU backend, through torch_xla.

What it changes in the loop, whichever XLA strategy runs it:

``lit_process_dataloader``  (wrapper) each ``DataLoader`` goes through ``DeviceLoader``, which
                            uploads batches from a background thread and cuts the graph of
                            evaluation batches (``torch_xla``'s ``MpDeviceLoader``); training
                            batches are cut by the optimizer step's sync alone
``lit_optimizer_step``      (wrapper) one ``torch_xla.sync()`` after each optimizer step: the whole
                            step (forward, backward, update) is one graph, compiled once and
                            reused; values read afterwards (logging) are already computed
``lit_save_checkpoint``     (wrapper) the checkpoint's tensors are moved to the CPU first, so the
                            file loads anywhere
``lit_load_checkpoint``     checkpoints are read onto the CPU (``torch.load`` cannot map onto an
                            XLA device); ``load_state_dict`` copies them onto the device
``lit_save_checkpoint_state`` / ``lit_load_checkpoint_state``  XLA's random-number state (dropout
                            masks) is saved with the others and put back on resume
``lit_init_end``            ``inference_mode`` off: evaluation runs under ``torch.no_grad``
                            (torch_xla does not support inference tensors)

At each stage start XLA's generator is seeded from torch's CPU generator (without drawing from
it): ``torch.manual_seed`` / ``seed_everything`` do not reach XLA's generator in torch_xla 2.9,
so without this a seeded run's dropout masks would differ from process to process.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Generator
from typing import Any, ClassVar

import torch

import lit_core as lit
from lit_core.plugin_api import Accelerator, move_data_to_cpu

from . import runtime


def seed_from_host() -> int:
    """A 64-bit seed for XLA's generator that is a function of torch's CPU generator state.

    It does not draw from the CPU generator, so the host's random stream (shuffling, weights
    created later) is the same as on any other accelerator; the same ``torch.manual_seed`` and
    the same draws since give the same seed, so a seeded run draws the same dropout masks.
    """
    digest = hashlib.blake2b(torch.get_rng_state().numpy().tobytes(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


class XLAAccelerator(Accelerator):
    """Train on XLA devices (``accelerator="xla"`` or ``"tpu"``): TPU chips, or ``PJRT_DEVICE=CPU``.

    ``devices=N`` with ``strategy="xla"`` is one process per device (``torch_xla.launch``);
    ``strategy="xla_spmd"`` is one process whose batches are split over the ``N`` devices. One
    device needs no strategy. Nothing imports torch_xla until a stage starts.
    """

    name = "xla"
    #: Preferred to the CPU and to CUDA by ``accelerator="auto"`` when an XLA device is there.
    priority = 20
    #: What ``strategy="auto"`` means for several devices: one process per device.
    multi_device_strategy: ClassVar[str] = "xla"

    @classmethod
    def unavailable_reason(cls) -> str | None:
        problem = runtime.installation_problem()
        if problem is not None:
            return problem
        if runtime.device_kind() is None:
            return (
                "no TPU is visible and PJRT_DEVICE is not set. On a TPU host torch_xla finds the chips itself; "
                "to run XLA on the CPU set PJRT_DEVICE=CPU (CPU_NUM_DEVICES=N for N devices)."
            )
        return None

    @classmethod
    def device_count(cls) -> int:
        return runtime.device_count()

    def get_device(self, index: int) -> torch.device:
        # Each process torch_xla.launch starts addresses its own device as xla:0.
        return torch.device("xla", 0 if "PJRT_LOCAL_PROCESS_RANK" in os.environ else index)

    def setup_device(self, device: torch.device) -> None:
        """Import torch_xla (or say why it cannot load) and make ``device`` the default XLA device."""
        torch_xla = runtime.import_torch_xla()
        import torch_xla.runtime as xr

        if not xr.is_spmd():  # under SPMD the one device torch_xla offers is the virtual xla:0
            torch_xla.device(device.index or 0)
        import torch_xla.core.xla_model as xm

        xm.set_rng_state(seed_from_host(), device)

    @lit.hookimpl
    def lit_init_end(self, trainer: lit.Trainer) -> None:
        # torch_xla cannot run on inference tensors ("Cannot set version_counter for inference
        # tensor"): evaluation runs under torch.no_grad, as Trainer(inference_mode=False) does.
        trainer.inference_mode = False

    # -- data -----------------------------------------------------------------------------------

    @lit.hookimpl(wrapper=True)
    def lit_process_dataloader(self, trainer: lit.Trainer, stage: str) -> Generator[None, Any, Any]:
        # A wrapper: a strategy's sampler (what each process reads) goes in first, the upload last.
        loader = yield
        from .loader import DeviceLoader

        if not isinstance(loader, torch.utils.data.DataLoader):
            return loader
        # Training batches: the sync after each optimizer step is the step boundary, so the
        # loader adds none of its own (a second, empty sync per batch cost ~1.3 ms a step on
        # XLA:CPU). Evaluation has no optimizer step: there each batch fetched is the boundary.
        return DeviceLoader(loader, trainer.device, input_sharding=getattr(trainer.strategy, "input_sharding", None),
                            sync_per_batch=stage != "train")

    # -- the step boundary ------------------------------------------------------------------------

    @lit.hookimpl(wrapper=True)
    def lit_optimizer_step(self) -> Generator[None, Any, Any]:
        result = yield
        import torch_xla

        torch_xla.sync()
        return result

    # -- checkpoints ------------------------------------------------------------------------------

    @lit.hookimpl(wrapper=True, tryfirst=True)
    def lit_save_checkpoint(self, checkpoint: dict[str, Any]) -> Generator[None, Any, Any]:
        # In place, so that whichever implementation writes the file gets CPU tensors.
        cpu = move_data_to_cpu(checkpoint)
        checkpoint.clear()
        checkpoint.update(cpu)
        return (yield)

    @lit.hookimpl
    def lit_save_checkpoint_state(self, trainer: lit.Trainer, checkpoint: dict[str, Any]) -> None:
        # XLA draws dropout masks from a generator of its own (one int, torch_xla's RNG state); the
        # kernel saves the CPU, CUDA, numpy and Python ones. Weights-only checkpoints carry none.
        states = checkpoint.get("rng_states")
        if states is not None:
            import torch_xla.core.xla_model as xm

            states["xla"] = int(xm.get_rng_state(trainer.device))

    @lit.hookimpl
    def lit_load_checkpoint_state(self, trainer: lit.Trainer, checkpoint: dict[str, Any]) -> None:
        # Put back when the checkpoint is loaded: between here and the first step nothing draws from
        # it (a mid-epoch resume replays batches on the host). A checkpoint from the CPU has none.
        state = (checkpoint.get("rng_states") or {}).get("xla")
        if state is not None:
            import torch_xla.core.xla_model as xm

            xm.set_rng_state(int(state), trainer.device)

    @lit.hookimpl(tryfirst=True)
    def lit_load_checkpoint(self, trainer: lit.Trainer, path: str, map_location: Any) -> dict[str, Any] | None:
        if map_location is None or torch.device(map_location).type != "xla":
            return None
        others = trainer.plugin_manager.subset_hook_caller("lit_load_checkpoint", remove_plugins=[self])
        return others(trainer=trainer, path=path, map_location="cpu")
