"""Checkpoint contents and restore: what ``trainer.save_checkpoint`` writes and what a stage's ``ckpt_path=`` reads back.

The kernel's side of checkpointing. Files go through the checkpoint hooks (``lit_save_checkpoint``,
``lit_load_checkpoint``, ``lit_resolve_checkpoint_path``: lit-core's ``checkpoint_files`` or a
plugin); reading a file, the random state and optimizer state checks are ``lit_core.checkpoint``.
Here: the checkpoint dict, which file ``ckpt_path="last"`` / ``"best"`` names, and putting the
dict back into the module, the optimizers, the callbacks and the loop state.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from . import lineage
from .builtins.adapters import module_plugin
from .checkpoint import capture_rng, from_lightning, load_state_dict, optimizer_types, restore_optimizers, restore_rng
from .exceptions import MisconfigurationException
from .hparams import checkpoint_entries
from .loop_state import MidEpoch
from .rank_zero import rank_zero_info, rank_zero_warn
from .trainer_state import TrainerFn

if TYPE_CHECKING:
    from .trainer import Trainer


#: The loop state a checkpoint keeps (``trainer.state``'s fields), under ``"loops"``: the
#: epoch's position and, mid-epoch, how many of its batches are done and what decided its order.
LOOP_FIELDS = ("batches_that_stepped", "epoch_completed", "epoch_batches_done", "epoch_batches_total",
               "total_batches_seen", "epoch_rng")


def checkpoint_dict(trainer: Trainer, lineage_record: dict[str, Any] | None, weights_only: bool = False) -> dict[str, Any]:
    """What a checkpoint holds: the weights, the loops' position, hyperparameters and, unless ``weights_only``,
    the random state, the optimizers, schedulers, callbacks, datamodule and precision plugin state, and what
    ``lit_save_checkpoint_state`` adds. ``lineage_record``: the run's lineage (``lit_core.lineage``)."""
    from . import __version__  # deferred: lit_core/__init__.py sets it after importing the Trainer, which imports this module

    module = trainer.lightning_module
    checkpoint: dict[str, Any] = {
        "epoch": trainer.current_epoch,
        "global_step": trainer.global_step,
        "lit_version": __version__,
        # Which experiment and job wrote it: ckpt_path="last" resumes only checkpoints of this run's lineage.
        "lineage": lineage_record if lineage_record is not None else lineage.record(module),
        "state_dict": module.state_dict(),
        **checkpoint_entries(module.hparams, "hyper_parameters"),
        "loops": {name: getattr(trainer.state, name) for name in LOOP_FIELDS},
    }
    if trainer.datamodule is not None and trainer.datamodule.hparams:
        checkpoint.update(checkpoint_entries(trainer.datamodule.hparams, "datamodule_hyper_parameters"))
    if not weights_only:
        checkpoint.update(training_state(trainer))
        checkpoint["callbacks"] = {cb.state_key: cb.state_dict() for cb in trainer.callbacks if cb.state_dict()}
        if trainer.datamodule is not None:
            checkpoint["datamodule"] = trainer.datamodule.state_dict()
        precision_state = trainer.precision_plugin.state_dict()
        if precision_state:
            checkpoint["precision"] = precision_state
        # Saved after a stage (trainer.save_checkpoint() after fit), the module's hooks are not registered.
        adapter = None if trainer.plugin_manager.has_plugin("lit.module-adapter") else module_plugin(module)
        if adapter is not None:
            trainer.plugin_manager.register(adapter, "lit.module-adapter")
        try:
            trainer.plugin_manager.hook.lit_save_checkpoint_state(trainer=trainer, module=module, checkpoint=checkpoint)
        finally:
            if adapter is not None:
                trainer.plugin_manager.unregister(adapter)
    return checkpoint


def training_state(trainer: Trainer) -> dict[str, Any]:
    """What training changes besides the weights, as a checkpoint stores it: the random state, the
    optimizers (and their classes, which name a mismatch on resume) and the schedulers.
    ``restore_training_state`` puts it back (``Trial`` takes and restores it too)."""
    return {
        "rng_states": capture_rng(),
        "optimizer_states": [opt.state_dict() for opt in trainer.optimizers],
        "optimizer_types": optimizer_types(trainer.optimizers),
        "lr_schedulers": [config.scheduler.state_dict() for config in trainer.lr_scheduler_configs],
    }


def restore_training_state(trainer: Trainer, state: dict[str, Any], source: str) -> None:
    """Put ``training_state``'s optimizer and scheduler states back (an optimizer of another class is an error).

    The random state is the caller's to restore: a mid-epoch resume puts it back only after replaying the epoch.
    """
    restore_optimizers(trainer.optimizers, state, source)
    for config, scheduler_state in zip(trainer.lr_scheduler_configs, state.get("lr_schedulers", [])):
        config.scheduler.load_state_dict(scheduler_state)


def resolve_ckpt_path(trainer: Trainer, ckpt_path: Any, fn: TrainerFn, model_given: bool, fit_ran: bool) -> str | None:
    """The file to restore: a path as given, or what ``"last"`` / ``"best"`` name (``None``: none)."""
    if ckpt_path is None:
        # Lightning: validate/test/predict without a model after fit() use the best checkpoint, if any.
        if fn == TrainerFn.FITTING or model_given or fit_ran is False:
            return None
        path = trainer.plugin_manager.hook.lit_resolve_checkpoint_path(trainer=trainer, name="best")
        if path is not None:
            rank_zero_info(f"trainer.{fn.value}(): loading the best checkpoint of fit(), {path} (pass ckpt_path= to choose).")
        return path
    if isinstance(ckpt_path, os.PathLike):
        return os.fspath(ckpt_path)
    if ckpt_path not in ("last", "best"):
        return ckpt_path
    path = trainer.plugin_manager.hook.lit_resolve_checkpoint_path(trainer=trainer, name=ckpt_path)
    if path is not None:
        return path
    why = ("no checkpoint callback is active (pip install lit-checkpoint, and keep enable_checkpointing on)"
           if not trainer.checkpoint_callbacks else "the checkpoint callback has not written one of this run yet")
    if ckpt_path == "last":
        rank_zero_warn(f"ckpt_path='last': no last checkpoint found ({why}); trainer.{fn.value}() starts from the "
                       "module's current weights.")
        return None
    raise MisconfigurationException(
        f"ckpt_path='best': there is no best checkpoint ({why}). Give ModelCheckpoint a monitor= and train first, "
        "or pass the checkpoint's path."
    )

def restore(trainer: Trainer, ckpt_path: str, fn: TrainerFn) -> None:
    """Load ``ckpt_path`` into the module (every stage) and, for ``fit``, the optimizers, schedulers,
    callbacks, datamodule, precision plugin and the loops' position (mid-epoch too)."""
    module = trainer.lightning_module
    checkpoint = trainer.plugin_manager.hook.lit_load_checkpoint(trainer=trainer, path=ckpt_path, map_location=trainer.device)
    checkpoint = from_lightning(checkpoint, ckpt_path)
    load_state_dict(module, checkpoint["state_dict"], source=f"Checkpoint {ckpt_path!r}")
    trainer.plugin_manager.hook.lit_load_checkpoint_state(trainer=trainer, module=module, checkpoint=checkpoint)
    if fn != TrainerFn.FITTING:
        return
    if "optimizer_states" not in checkpoint:
        raise MisconfigurationException(
            f"Checkpoint {ckpt_path!r} holds weights only (saved with weights_only=True): it cannot resume "
            f"training. Load the weights with {type(module).__name__}.load_from_checkpoint(path) and call fit() "
            "without ckpt_path, or resume from a full checkpoint."
        )
    restore_training_state(trainer, checkpoint, f"Checkpoint {ckpt_path!r}")
    for cb in trainer.callbacks:
        if cb.state_key in checkpoint.get("callbacks", {}):
            cb.load_state_dict(checkpoint["callbacks"][cb.state_key])
    if trainer.datamodule is not None and "datamodule" in checkpoint:
        trainer.datamodule.load_state_dict(checkpoint["datamodule"])
    if "precision" in checkpoint:
        trainer.precision_plugin.load_state_dict(checkpoint["precision"])
    loops = checkpoint.get("loops", {})
    trainer.global_step = checkpoint["global_step"]
    # Saved at the end of an epoch (where checkpoint callbacks save), training resumes at the next one.
    trainer.current_epoch = checkpoint["epoch"] + (1 if loops.get("epoch_completed") else 0)
    trainer.state.batches_that_stepped = loops.get("batches_that_stepped", trainer.global_step)
    trainer.state.total_batches_seen = loops.get("total_batches_seen", trainer.state.total_batches_seen)
    done = loops.get("epoch_batches_done", 0)
    if not loops.get("epoch_completed") and done and loops.get("epoch_rng") is not None:
        # Saved mid-epoch: the fit loop replays the epoch's order, skips the done batches, then puts
        # the random state back as it was at the save (see FitLoop._resume_epoch).
        trainer.state.resume = MidEpoch(done, loops["epoch_rng"], checkpoint.get("rng_states"), loops.get("epoch_batches_total"))
    elif "rng_states" in checkpoint:
        restore_rng(checkpoint["rng_states"])
