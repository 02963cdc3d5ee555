"""``ModelCheckpoint``: save the model periodically, keep the best ``k``, keep a ``last`` checkpoint.

Lightning 2.x's callback, on lit's hooks. When it saves:

* every ``every_n_epochs`` epochs (the default, 1): at the end of the training epoch, or after
  validation when validation does not run once per epoch at its end (``save_on_train_epoch_end``);
* every ``every_n_train_steps`` optimizer steps, or every ``train_time_interval``, after the batch;
* never during the sanity check, ``fast_dev_run``, or outside ``fit``; never twice at one step.

What it keeps: with a ``monitor``, the ``save_top_k`` best checkpoints by the monitored value; without
one, the latest (``save_top_k=1``) or all (``-1``). With ``save_last``, also ``last.ckpt``.
A checkpoint that drops out of the top ``k`` is deleted only once everything this save point
writes is in place.

Every file, once on disk, is announced with the ``lit_checkpoint_saved`` event, every deletion with
``lit_checkpoint_removed`` (global rank zero): loggers upload checkpoints on them (``log_model``).
"""

from __future__ import annotations

import os
import re
import time
import warnings
from datetime import timedelta
from typing import Any, Literal

import torch

import lit_core as lit
from lit_core.plugin_api import Checkpoint, MisconfigurationException, rank_zero_info, rank_zero_warn

from . import io
from .async_save import AsyncCheckpointIO, async_checkpoint_io
from .checkpoint_io import active_checkpoint_io
from .events import announce_restored, saved_event
from .failed_saves import forget_unwritten, rolled_back_on_failure, wait_for_writes
from .io import FsspecCheckpointIO
from .preemption import Preemption
from .resume_last import newest_of_this_run

_MODES = {"min": (torch.lt, min, max), "max": (torch.gt, max, min)}


class ModelCheckpoint(Checkpoint):
    """Save the model periodically, keeping the best ``save_top_k`` by ``monitor`` and optionally ``last.ckpt``.

    :param dirpath: the folder, a local path or an fsspec URL (``s3://bucket/run``, ``memory://ckpts``).
        Default: ``<trainer.log_dir>/checkpoints`` with a logger (``lightning_logs/version_N/checkpoints``),
        else ``<default_root_dir>/checkpoints``.
    :param filename: a template such as ``"{epoch}-{val_loss:.2f}"``, filled from the logged metrics,
        ``epoch`` and ``step``. Default ``"{epoch}-{step}"``.
    :param monitor: the logged metric that ranks checkpoints; ``None`` ranks by recency.
    :param verbose: print what is saved and why.
    :param save_last: ``True`` also writes ``last.ckpt`` at every save point; ``"link"`` makes it a
        symbolic link to the checkpoint just written (a copy on filesystems without links).
    :param save_top_k: how many checkpoints to keep: ``k`` best, ``-1`` all, ``0`` none. Without a
        monitor only ``1`` (the latest), ``-1`` and ``0`` are valid.
    :param save_on_exception: when an exception (Ctrl+C included) ends ``fit``, save a checkpoint
        of the state it stopped in (named like the others, and ``last`` too with ``save_last``).
    :param save_weights_only: save the weights alone (no optimizer, scheduler, callback state).
    :param mode: ``"min"`` (lower is better, losses) or ``"max"`` (higher is better, accuracy).
    :param auto_insert_metric_name: write ``{val_loss:.2f}`` as ``val_loss=0.12``.
    :param every_n_train_steps: save every ``n`` optimizer steps.
    :param train_time_interval: save when this ``datetime.timedelta`` has passed since the last save.
    :param every_n_epochs: save every ``n`` epochs (the default, 1, when no other trigger is given).
    :param save_on_train_epoch_end: save at the end of the training epoch (``True``) or after
        validation (``False``); ``None`` decides as Lightning does (see ``docs/checkpointing.rst``).
    :param enable_version_counter: when a file of that name exists, write ``name-v1.ckpt`` (``-v2``...)
        instead of overwriting it.
    """

    #: The name of this callback among lit's plugins; a user's own instance replaces the default one.
    name = "checkpoint"
    CHECKPOINT_JOIN_CHAR = "-"
    CHECKPOINT_EQUALS_CHAR = "="
    CHECKPOINT_NAME_LAST = "last"
    FILE_EXTENSION = ".ckpt"
    STARTING_VERSION = 1

    def __init__(
        self,
        dirpath: str | os.PathLike | None = None,
        filename: str | None = None,
        monitor: str | None = None,
        verbose: bool = False,
        save_last: bool | Literal["link"] | None = None,
        save_top_k: int = 1,
        save_on_exception: bool = False,
        save_weights_only: bool = False,
        mode: str = "min",
        auto_insert_metric_name: bool = True,
        every_n_train_steps: int | None = None,
        train_time_interval: timedelta | None = None,
        every_n_epochs: int | None = None,
        save_on_train_epoch_end: bool | None = None,
        enable_version_counter: bool = True,
        async_save: bool = False,
    ) -> None:
        if mode not in _MODES:
            raise MisconfigurationException(
                f"ModelCheckpoint(mode={mode!r}): mode must be 'min' (lower is better, e.g. a loss) or 'max' "
                "(higher is better, e.g. an accuracy)."
            )
        if save_last not in (None, True, False, "link"):
            raise MisconfigurationException(f"ModelCheckpoint(save_last={save_last!r}): use True, False or 'link'.")
        if isinstance(save_top_k, bool) or not isinstance(save_top_k, int) or save_top_k < -1:
            raise MisconfigurationException(
                f"ModelCheckpoint(save_top_k={save_top_k!r}): use k >= 1 to keep the k best, -1 to keep all, 0 for none."
            )
        if monitor is None and save_top_k not in (-1, 0, 1):
            raise MisconfigurationException(
                f"ModelCheckpoint(save_top_k={save_top_k}) needs a monitor to rank checkpoints by. Without one, "
                "save_top_k=1 keeps the latest checkpoint, -1 keeps every one and 0 none. Pass monitor='<a metric "
                "you log with self.log>' (e.g. monitor='val_loss', mode='min'), or use save_top_k=-1 to keep them all."
            )
        if train_time_interval is not None and not isinstance(train_time_interval, timedelta):
            raise MisconfigurationException(
                f"ModelCheckpoint(train_time_interval={train_time_interval!r}) takes a datetime.timedelta, "
                "e.g. timedelta(minutes=30)."
            )
        for flag, value in (("every_n_train_steps", every_n_train_steps), ("every_n_epochs", every_n_epochs)):
            if value is not None and (not isinstance(value, int) or value < 0):
                raise MisconfigurationException(f"ModelCheckpoint({flag}={value!r}) must be an int >= 0.")
        if sum((bool(every_n_train_steps), bool(every_n_epochs), train_time_interval is not None)) > 1:
            raise MisconfigurationException(
                f"ModelCheckpoint: every_n_train_steps={every_n_train_steps}, every_n_epochs={every_n_epochs} and "
                f"train_time_interval={train_time_interval} are exclusive: give one (use several ModelCheckpoint "
                "callbacks to save on several schedules)."
            )
        if every_n_train_steps is None and every_n_epochs is None and train_time_interval is None:
            every_n_epochs = 1

        self.monitor = monitor
        self.verbose = verbose
        self.save_last = save_last
        self.save_top_k = save_top_k
        self.save_on_exception = save_on_exception
        self.save_weights_only = save_weights_only
        self.auto_insert_metric_name = auto_insert_metric_name
        self.filename = filename
        self.mode = mode
        self.dirpath: str | None = io.normalize_dir(dirpath) if dirpath is not None else None
        self._dirpath_given = dirpath is not None
        self._every_n_train_steps = every_n_train_steps or 0
        self._every_n_epochs = every_n_epochs or 0
        self._train_time_interval = train_time_interval
        self._save_on_train_epoch_end = save_on_train_epoch_end
        self._enable_version_counter = enable_version_counter
        #: Write checkpoints in a background thread (``AsyncCheckpointIO``): saving stalls training ~1 ms.
        self.async_save = async_save
        self._preemption: Preemption | None = None
        self._restored = False

        self.best_k_models: dict[str, torch.Tensor] = {}
        self.kth_best_model_path = ""
        self.kth_value = torch.tensor(float("inf") if mode == "min" else float("-inf"))
        self.best_model_path = ""
        self.best_model_score: torch.Tensor | None = None
        self.current_score: torch.Tensor | None = None
        self.last_model_path = ""
        self._last_global_step_saved = 0
        self._last_checkpoint_saved = ""
        self._last_time_checked: float | None = None
        # Whether the monitored value had its chance to be logged (see _monitor_missing).
        self._metrics_complete = False
        self._warned_missing = False
        if self._every_n_train_steps or self._train_time_interval is not None:
            # Per-batch work only for instances that save on steps or time: an instance attribute,
            # because lit calls a callback's on_train_batch_end on every batch once its class defines it.
            self.lit_train_batch_end = _batch_trigger(self)

    # ----------------------------------------------------------------------------------------
    # Identity and state
    # ----------------------------------------------------------------------------------------

    @property
    def state_key(self) -> str:
        """``ModelCheckpoint{'monitor': ..., 'mode': ..., ...}``: distinct for each schedule and monitor."""
        key = {
            "monitor": self.monitor,
            "mode": self.mode,
            "every_n_train_steps": self._every_n_train_steps,
            "every_n_epochs": self._every_n_epochs,
            "train_time_interval": self._train_time_interval,
        }
        return f"{type(self).__qualname__}{key!r}"

    @property
    def every_n_epochs(self) -> int:
        """Save every this many epochs (0: not on epochs)."""
        return self._every_n_epochs

    def state_dict(self) -> dict[str, Any]:
        """What resuming needs: the folder, the best ``k`` and their scores, the last checkpoint."""
        return {
            "monitor": self.monitor,
            "best_model_score": self.best_model_score,
            "best_model_path": self.best_model_path,
            "current_score": self.current_score,
            "dirpath": self.dirpath,
            "best_k_models": self.best_k_models,
            "kth_best_model_path": self.kth_best_model_path,
            "kth_value": self.kth_value,
            "last_model_path": self.last_model_path,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore ``state_dict()``; only ``best_model_path`` when the checkpoint came from another folder."""
        saved_dirpath = state_dict.get("dirpath", self.dirpath)
        if saved_dirpath == self.dirpath:
            self.best_model_score = state_dict["best_model_score"]
            self.current_score = state_dict.get("current_score", self.current_score)
            self.best_k_models = dict(state_dict.get("best_k_models", self.best_k_models))
            self.kth_best_model_path = state_dict.get("kth_best_model_path", self.kth_best_model_path)
            self.kth_value = state_dict.get("kth_value", self.kth_value)
            self.last_model_path = state_dict.get("last_model_path", self.last_model_path)
            self._restored = True  # announce its files when training starts (lit_train_start)
        else:
            warnings.warn(
                f"ModelCheckpoint: the checkpoint was written with dirpath={saved_dirpath!r}, this run uses "
                f"{self.dirpath!r}; only best_model_path is restored (the top-k ranking and last_model_path start "
                "afresh in the new folder). Pass the old dirpath= to continue it.",
                UserWarning,
                stacklevel=2,
            )
        self.best_model_path = state_dict["best_model_path"]

    # ----------------------------------------------------------------------------------------
    # Lightning hooks
    # ----------------------------------------------------------------------------------------

    def setup(self, trainer: lit.Trainer, pl_module: lit.LightningModule, stage: str) -> None:
        """Resolve the folder (the same on every process), register ``FsspecCheckpointIO``, check the folder."""
        self.dirpath = trainer.strategy.broadcast(self._resolve_dirpath(trainer))
        FsspecCheckpointIO.ensure_registered(trainer)
        if stage != "fit":
            return
        self._metrics_complete = False
        problem = self._unwritable_reason() if trainer.is_global_zero else None
        problem = trainer.strategy.broadcast(problem)
        if problem:
            raise MisconfigurationException(problem)
        if trainer.is_global_zero:
            self._remove_stale_temporaries()
        if trainer.is_global_zero and self.save_top_k != 0 and any(not n.startswith(".") for n in io.listdir(self.dirpath)):
            warnings.warn(f"Checkpoint directory {self.dirpath} exists and is not empty.", UserWarning, stacklevel=2)
        if self.async_save:
            AsyncCheckpointIO.ensure_registered(trainer)
        # One preemption handler per trainer: the first ModelCheckpoint's "last" is where a stopped run resumes.
        if next(cb for cb in trainer.callbacks if isinstance(cb, ModelCheckpoint)) is self:
            self._preemption = Preemption(self, trainer.world_size, trainer.strategy.cluster_environment)
            if self._preemption.install():
                trainer.plugin_manager.register(self._preemption, f"lit_checkpoint.preemption:{id(self)}")
            else:
                self._preemption = None

    def teardown(self, trainer: lit.Trainer, pl_module: lit.LightningModule, stage: str) -> None:
        """Put the signal handlers back."""
        self._stop_preemption(trainer)

    def on_exception(self, trainer: lit.Trainer, pl_module: lit.LightningModule, exception: BaseException) -> None:
        """Save the state training stopped in (``save_on_exception``); put the signal handlers back, even when that save fails."""
        try:
            if self.save_on_exception and self._saves_on_exception(trainer):
                try:
                    self._save_on_exception(trainer, exception)
                except FloatingPointError as refused:  # trainer.save_checkpoint writes no state whose latest loss is NaN
                    rank_zero_warn(f"{type(exception).__name__} raised: checkpoint not saved on exception ({refused})")
        finally:
            try:
                forget_unwritten(self, trainer, _MODES)  # a failed background write left its path in the state
            finally:
                self._stop_preemption(trainer, finished=False)

    def _save_on_exception(self, trainer: lit.Trainer, exception: BaseException) -> None:
        candidates = self._monitor_candidates(trainer)
        removals: list[str] = []
        filepath = self._free_filepath(trainer, candidates, keep=None)
        self._save(trainer, filepath, "exception")
        if self.save_last:
            self._save_last(trainer, candidates, removals, link=self.save_last == "link")
        self._remove(trainer, removals)
        rank_zero_info(f"{type(exception).__name__} raised ({exception}): saved a checkpoint to {filepath}")

    def _saves_on_exception(self, trainer: lit.Trainer) -> bool:
        return (trainer.state.fn == "fit" and self.dirpath is not None and not trainer.sanity_checking
                and not self._skip(trainer))

    def _stop_preemption(self, trainer: lit.Trainer, finished: bool = True) -> None:
        if self._preemption is not None:
            self._preemption.uninstall(finished)
            trainer.plugin_manager.unregister(self._preemption)
            self._preemption = None

    def _remove_stale_temporaries(self) -> None:
        """Delete the hidden temporary files a killed run left half-written in the folder.

        A write goes to ``.<name>.pid<pid>-<host>-<random>.tmp`` and is renamed when complete; a
        process killed in between leaves the temporary file (never a torn ``.ckpt``). A temporary
        file whose writer is still alive (another run writing to this folder) is kept.
        """
        assert self.dirpath is not None
        io.remove_stale_temporaries(self.dirpath, self.FILE_EXTENSION)

    def on_train_start(self, trainer: lit.Trainer, pl_module: lit.LightningModule) -> None:
        """Start the clock of ``train_time_interval``."""
        self._last_time_checked = time.monotonic()

    def on_train_epoch_end(self, trainer: lit.Trainer, pl_module: lit.LightningModule) -> None:
        """Save here when the epoch-end rule says so (see ``_saves_on_train_epoch_end``)."""
        if not trainer.val_dataloaders:
            self._metrics_complete = True  # no validation: this epoch logged all it will
        if not self._skip(trainer) and self._saves_on_train_epoch_end(trainer):
            self._save_point(trainer, topk=self._epoch_due(trainer))

    def on_validation_end(self, trainer: lit.Trainer, pl_module: lit.LightningModule) -> None:
        """Save after validation when the epoch-end rule says not to save at the training epoch's end."""
        if trainer.sanity_checking or trainer.state.fn != "fit":
            return  # the sanity check's metrics are thrown away; validate() and test() never save
        self._metrics_complete = True
        if not self._skip(trainer) and not self._saves_on_train_epoch_end(trainer):
            self._save_point(trainer, topk=self._epoch_due(trainer))

    def _on_train_batch_end(self, trainer: lit.Trainer) -> None:
        """Save every ``every_n_train_steps`` steps, or once ``train_time_interval`` has passed.

        Only after a batch that stepped the optimizer: in the middle of an accumulation the
        gradients gathered so far would be lost (checkpoints hold no gradients).
        """
        if not trainer.state.stepping or self._skip(trainer):
            return
        step_due = self._every_n_train_steps >= 1 and trainer.global_step % self._every_n_train_steps == 0
        time_due = False
        now = time.monotonic()
        if self._train_time_interval is not None:
            started = self._last_time_checked
            time_due = started is not None and now - started >= self._train_time_interval.total_seconds()
            time_due = trainer.strategy.broadcast(time_due)  # clocks differ between processes: rank zero decides
        if not (step_due or time_due):
            return
        if time_due:
            self._last_time_checked = now
        self._save_point(trainer, topk=True)

    # ----------------------------------------------------------------------------------------
    # lit hooks
    # ----------------------------------------------------------------------------------------

    @lit.hookimpl
    def lit_train_start(self, trainer: lit.Trainer) -> None:
        """After a resume, announce the restored files that still exist (see ``events.announce_restored``)."""
        restored, self._restored = self._restored, False
        if restored and trainer.is_global_zero:
            announce_restored(self, trainer)

    @lit.hookimpl
    def lit_resolve_checkpoint_path(self, trainer: lit.Trainer, name: str) -> str | None:
        """``"best"``: this callback's best checkpoint; ``"last"``: the newest ``last`` checkpoint of
        this run's lineage among those of every ``ModelCheckpoint`` on ``trainer``, searched in their
        folders (see ``lit_checkpoint.resume_last``: never another experiment's).
        """
        if name == "best":
            path = self.best_model_path
            return path if path and io.exists(path) else None
        if name == "last":
            found = [path for cb in trainer.callbacks if isinstance(cb, ModelCheckpoint) for path in cb._last_checkpoints(trainer)]
            return newest_of_this_run(trainer, list(dict.fromkeys(found)), self._version_of)
        return None

    # ----------------------------------------------------------------------------------------
    # Public methods (Lightning's names)
    # ----------------------------------------------------------------------------------------

    def save_last_checkpoint(self, trainer: lit.Trainer) -> str:
        """Write ``last.ckpt`` now, as a real file (never a link); for preemption. Call it on every process.

        Works whether or not ``save_last`` is set; ``last_model_path`` and ``ckpt_path="last"`` find it.

        :return: the path written.
        """
        if self.dirpath is None:
            self.dirpath = trainer.strategy.broadcast(self._resolve_dirpath(trainer))
        FsspecCheckpointIO.ensure_registered(trainer)
        removals: list[str] = []
        with rolled_back_on_failure(self):
            self._save_last(trainer, self._monitor_candidates(trainer), removals, link=False)
            # "Saved" must mean on disk: with background writes, wait for this one (raises if it failed).
            wait_for_writes(trainer)
        self._remove(trainer, removals)
        return self.last_model_path

    def format_checkpoint_name(self, metrics: dict[str, Any], filename: str | None = None, ver: int | None = None) -> str:
        """The path a checkpoint with these metrics gets: ``filename`` (or the template) filled in.

        >>> ModelCheckpoint(dirpath="/ckpts", filename="{epoch}-{val_loss:.2f}").format_checkpoint_name(
        ...     {"epoch": 3, "val_loss": torch.tensor(0.1234)})
        '/ckpts/epoch=3-val_loss=0.12.ckpt'
        """
        name = self._format_checkpoint_name(filename or self.filename, metrics, self.auto_insert_metric_name)
        if ver is not None:
            name = self.CHECKPOINT_JOIN_CHAR.join((name, f"v{ver}"))
        name += self.FILE_EXTENSION
        return io.join(self.dirpath, name) if self.dirpath else name

    @classmethod
    def _format_checkpoint_name(cls, filename: str | None, metrics: dict[str, Any], auto_insert_metric_name: bool = True) -> str:
        """Fill ``{name}`` / ``{name:spec}`` fields; names may contain ``/`` and ``.``; missing ones are 0."""
        template = filename or f"{{epoch}}{cls.CHECKPOINT_JOIN_CHAR}{{step}}"

        def fill(field: re.Match[str]) -> str:
            key, spec = field.group(1), field.group(2) or ""
            text = format(metrics.get(key, torch.tensor(0)), spec)
            return f"{key}{cls.CHECKPOINT_EQUALS_CHAR}{text}" if auto_insert_metric_name else text

        return re.sub(r"\{([^{}:]+)(?::([^{}]*))?\}", fill, template)

    def check_monitor_top_k(self, trainer: lit.Trainer, current: torch.Tensor | None = None) -> bool:
        """Whether a checkpoint scoring ``current`` enters the top ``k`` (rank zero decides for all)."""
        if current is None:
            return False
        if self.save_top_k == -1 or len(self.best_k_models) < self.save_top_k:
            return True
        better = _MODES[self.mode][0]
        decision = bool(better(current, self.best_k_models[self.kth_best_model_path]))
        return trainer.strategy.broadcast(decision)

    def file_exists(self, filepath: str, trainer: lit.Trainer) -> bool:
        """Whether ``filepath`` exists, as global rank zero sees it."""
        found = io.exists(filepath) if trainer.is_global_zero else False
        return trainer.strategy.broadcast(found)

    def to_yaml(self, filepath: str | None = None) -> None:
        """Write ``best_k_models`` (path: score) as YAML, by default to ``<dirpath>/best_k_models.yaml``."""
        import yaml

        if filepath is None:
            if self.dirpath is None:
                raise MisconfigurationException("ModelCheckpoint.to_yaml() needs a filepath before fit() resolves dirpath.")
            filepath = io.join(self.dirpath, "best_k_models.yaml")
        with io.open_file(os.fspath(filepath), "w") as f:
            yaml.safe_dump({path: score.item() for path, score in self.best_k_models.items()}, f)

    # ----------------------------------------------------------------------------------------
    # When to save
    # ----------------------------------------------------------------------------------------

    def _skip(self, trainer: lit.Trainer) -> bool:
        # Training hooks fire only in fit, never in the sanity check; on_validation_end checks both itself.
        return bool(trainer.fast_dev_run) or self._last_global_step_saved == trainer.global_step  # saved at this step already

    def _epoch_due(self, trainer: lit.Trainer) -> bool:
        return self._every_n_epochs >= 1 and (trainer.current_epoch + 1) % self._every_n_epochs == 0

    def _saves_on_train_epoch_end(self, trainer: lit.Trainer) -> bool:
        """Lightning's rule: at the training epoch's end, unless validation runs otherwise than once per epoch.

        Validation due at an epoch's end runs before ``on_train_epoch_end``, so saving there sees
        its metrics. With no validation at all, always at the epoch's end.
        """
        if self._save_on_train_epoch_end is not None:
            return self._save_on_train_epoch_end
        if not trainer.val_dataloaders:
            return True
        if trainer.check_val_every_n_epoch != 1:
            return False
        return trainer.val_check_interval == 1.0

    # ----------------------------------------------------------------------------------------
    # Saving
    # ----------------------------------------------------------------------------------------

    def _save_point(self, trainer: lit.Trainer, topk: bool) -> None:
        """Save what is due now: a top-k checkpoint (``topk``) and ``last``, then delete what they displaced."""
        with rolled_back_on_failure(self):  # a failed write leaves no path to a missing file
            self._save_point_now(trainer, topk)

    def _save_point_now(self, trainer: lit.Trainer, topk: bool) -> None:
        candidates = self._monitor_candidates(trainer)
        removals: list[str] = []
        if topk and self.save_top_k != 0:
            if self.monitor is None:
                self._save_latest(trainer, candidates, removals)
            elif self.monitor in candidates:
                self._save_if_top_k(trainer, candidates, removals)
            else:
                self._monitor_missing(trainer)
        if self.save_last:
            self._save_last(trainer, candidates, removals, link=self.save_last == "link")
        self._remove(trainer, removals)

    def _monitor_candidates(self, trainer: lit.Trainer) -> dict[str, torch.Tensor]:
        candidates = dict(trainer.callback_metrics)
        epoch, step = candidates.get("epoch"), candidates.get("step")
        # self.log("epoch", ...) stores a float: file names want an int.
        candidates["epoch"] = epoch.int() if isinstance(epoch, torch.Tensor) else torch.tensor(trainer.current_epoch)
        candidates["step"] = step.int() if isinstance(step, torch.Tensor) else torch.tensor(trainer.global_step)
        return candidates

    def _monitor_missing(self, trainer: lit.Trainer) -> None:
        """The monitored key is not among the logged metrics: an error once it had its chance to be logged.

        Before that (a step-based save before the first validation, when the key may be a
        validation metric), warn once and skip the top-k save, as Lightning does.
        """
        import difflib  # only on this error path: the module is imported by every default Trainer

        logged = sorted(trainer.callback_metrics)
        close = difflib.get_close_matches(self.monitor, logged, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        message = (
            f"ModelCheckpoint(monitor={self.monitor!r}) could not find {self.monitor!r} in the logged metrics "
            f"(trainer.callback_metrics): {logged}.{hint} Log it with self.log({self.monitor!r}, value) in your "
            "LightningModule, or fix the monitor name."
        )
        if self._metrics_complete:
            raise MisconfigurationException(message)
        if not self._warned_missing:
            self._warned_missing = True
            warnings.warn(message + " No top-k checkpoint is saved until it is logged.", UserWarning, stacklevel=2)

    def _save_if_top_k(self, trainer: lit.Trainer, candidates: dict[str, torch.Tensor], removals: list[str]) -> None:
        current = candidates[self.monitor]
        if not self.check_monitor_top_k(trainer, current):
            if self.verbose:
                self._say(trainer, candidates, f"{self.monitor!r} was not in top {self.save_top_k}")
            return
        _, best_of, worst_of = _MODES[self.mode]
        k = len(self.best_k_models) + 1 if self.save_top_k == -1 else self.save_top_k
        displaced = None
        if len(self.best_k_models) == k:
            displaced = self.kth_best_model_path
            self.best_k_models.pop(displaced)
        current = current.detach().cpu()
        if torch.isnan(current):
            current = torch.tensor(float("inf") if self.mode == "min" else float("-inf"))
        filepath = self._free_filepath(trainer, candidates, keep=displaced)
        # The state is updated before saving: it is part of the checkpoint being written.
        self.current_score = current
        self.best_k_models[filepath] = current
        if len(self.best_k_models) == k:
            self.kth_best_model_path = worst_of(self.best_k_models, key=self.best_k_models.__getitem__)
            self.kth_value = self.best_k_models[self.kth_best_model_path]
        self.best_model_path = best_of(self.best_k_models, key=self.best_k_models.__getitem__)
        self.best_model_score = self.best_k_models[self.best_model_path]
        if self.verbose:
            self._say(trainer, candidates, f"{self.monitor!r} reached {current.item():0.5f} (best "
                                           f"{self.best_model_score.item():0.5f}), saving model to {filepath!r} as top {k}")
        self._save(trainer, filepath, "top_k")
        if displaced and self._removable(displaced, filepath):
            removals.append(displaced)

    def _save_latest(self, trainer: lit.Trainer, candidates: dict[str, torch.Tensor], removals: list[str]) -> None:
        """No monitor: the newest checkpoint is the "best"; ``save_top_k=1`` keeps it alone."""
        keep_one = self.save_top_k == 1
        filepath = self._free_filepath(trainer, candidates, keep=self.best_model_path if keep_one else None)
        previous, self.best_model_path = self.best_model_path, filepath
        if self.verbose:
            self._say(trainer, candidates, f"saving model to {filepath!r}")
        self._save(trainer, filepath, "top_k")
        if keep_one and previous and self._removable(previous, filepath):
            removals.append(previous)

    def _save_last(self, trainer: lit.Trainer, candidates: dict[str, torch.Tensor], removals: list[str], link: bool) -> None:
        filepath = self._free_filepath(trainer, candidates, keep=self.last_model_path, template=self.CHECKPOINT_NAME_LAST)
        previous, self.last_model_path = self.last_model_path, filepath
        newest = self._last_checkpoint_saved
        if (link and newest and newest != filepath and self._last_global_step_saved == trainer.global_step
                and active_checkpoint_io(trainer) is None):  # a user's CheckpointIO may store no file to link to
            # A checkpoint of this very step exists: point at it instead of writing the same bytes again.
            if trainer.is_global_zero:
                saved = saved_event(self, trainer, filepath, "last")
                _after_writes(trainer, lambda: (io.link_or_copy(newest, filepath), saved()))
            trainer.strategy.barrier("ModelCheckpoint.save_last")
        else:
            self._save(trainer, filepath, "last")
        if previous and self._removable(previous, filepath):
            removals.append(previous)

    def _save(self, trainer: lit.Trainer, filepath: str, kind: str) -> None:
        trainer.save_checkpoint(filepath, weights_only=self.save_weights_only)
        self._last_global_step_saved = trainer.global_step
        self._last_checkpoint_saved = filepath
        if trainer.is_global_zero:  # the process that wrote the file announces it, once it is on disk
            _after_writes(trainer, saved_event(self, trainer, filepath, kind))

    def _free_filepath(self, trainer: lit.Trainer, candidates: dict[str, Any], keep: str | None, template: str | None = None) -> str:
        """The templated path; with the version counter, ``-vN`` added while another file has that name.

        ``keep`` is a file this save replaces anyway (the one it displaces): its name may be reused.
        """
        filepath = self.format_checkpoint_name(candidates, template)
        if self._enable_version_counter:
            version = self.STARTING_VERSION
            while filepath != keep and self.file_exists(filepath, trainer):
                filepath = self.format_checkpoint_name(candidates, template, ver=version)
                version += 1
        return filepath

    def _removable(self, previous: str, current: str) -> bool:
        """Delete ``previous`` only when it is another file, inside this callback's folder (or remote)."""
        if previous == current:
            return False
        local, folder = io.local_path(previous), io.local_path(self.dirpath or "")
        if local is None or folder is None:
            return local is None
        return os.path.commonpath([os.path.abspath(local), os.path.abspath(folder)]) == os.path.abspath(folder)

    def _remove(self, trainer: lit.Trainer, paths: list[str]) -> None:
        if trainer.is_global_zero and paths:
            doomed = list(paths)
            checkpoint_io = active_checkpoint_io(trainer)  # a user's CheckpointIO removes what it wrote
            remove = checkpoint_io.remove_checkpoint if checkpoint_io is not None else io.remove
            removed, source = trainer.plugin_manager.hook.lit_checkpoint_removed, self.state_key

            def remove_all() -> None:
                for path in doomed:
                    remove(path)
                    removed(trainer=trainer, path=path, source=source)

            _after_writes(trainer, remove_all)
        if paths:
            trainer.strategy.barrier("ModelCheckpoint.remove")

    def _say(self, trainer: lit.Trainer, candidates: dict[str, torch.Tensor], what: str) -> None:
        if trainer.is_global_zero:
            print(f"Epoch {int(candidates['epoch'])}, global step {int(candidates['step'])}: {what}")

    # ----------------------------------------------------------------------------------------
    # Folders
    # ----------------------------------------------------------------------------------------

    def _resolve_dirpath(self, trainer: lit.Trainer) -> str:
        """``dirpath`` as given, else ``<trainer.log_dir>/checkpoints`` (``default_root_dir`` without a logger)."""
        if self.dirpath is not None:
            return self.dirpath
        return io.normalize_dir(os.path.join(trainer.log_dir, "checkpoints"))

    def _unwritable_reason(self) -> str | None:
        assert self.dirpath is not None
        if io.is_writable(self.dirpath):
            return None
        return (
            f"ModelCheckpoint cannot write checkpoints to {self.dirpath!r}: it (or the nearest existing folder "
            "above it) is not a folder this process may write to. Pass ModelCheckpoint(dirpath=...) a writable "
            "folder, fix its permissions (e.g. chmod u+w), or set Trainer(default_root_dir=...)."
        )

    def _last_checkpoints(self, trainer: lit.Trainer) -> list[str]:
        """Every existing ``last`` checkpoint this callback could have written.

        Its folder; with the default folder and a logger, also the other versions' checkpoint
        folders (``lightning_logs/version_*/checkpoints``), because a new process logs to a new
        version while the run it resumes wrote to the old one.
        """
        folders = [self._resolve_dirpath(trainer)]
        logger = trainer.logger
        root = logger.root_dir if logger is not None and not self._dirpath_given else None
        if root:
            folders += [io.normalize_dir(os.path.join(root, version, "checkpoints")) for version in io.listdir(root)]
        pattern = self._last_name_pattern()
        found = {io.join(folder, name) for folder in dict.fromkeys(folders) for name in io.listdir(folder) if pattern.fullmatch(name)}
        if self.last_model_path:
            found.add(self.last_model_path)
        return sorted(path for path in found if io.exists(path))

    def _last_name_pattern(self) -> re.Pattern[str]:
        """File names ``CHECKPOINT_NAME_LAST`` gives, with any version suffix (``last.ckpt``, ``last-v2.ckpt``)."""
        fields = re.split(r"\{[^{}]*\}", self.CHECKPOINT_NAME_LAST)
        stem = ".*".join(re.escape(part) for part in fields)
        return re.compile(f"{stem}({re.escape(self.CHECKPOINT_JOIN_CHAR)}v\\d+)?{re.escape(self.FILE_EXTENSION)}")

    def _version_of(self, path: str) -> int:
        """The ``N`` of a ``-vN`` suffix (0 without one): orders files written within one clock tick."""
        found = re.search(f"{re.escape(self.CHECKPOINT_JOIN_CHAR)}v(\\d+){re.escape(self.FILE_EXTENSION)}$", path)
        return int(found.group(1)) if found else 0


def _batch_trigger(callback: ModelCheckpoint) -> Any:
    @lit.hookimpl
    def lit_train_batch_end(trainer: lit.Trainer) -> None:
        callback._on_train_batch_end(trainer)

    return lit_train_batch_end


def _after_writes(trainer: lit.Trainer, action: Any) -> None:
    """Run ``action()`` once the checkpoints written so far are on disk.

    Deleting a displaced checkpoint or linking ``last.ckpt`` needs the new file first. With
    ``AsyncCheckpointIO`` the action is queued behind the background writes (the training thread
    does not wait); otherwise writes are already complete and it runs now.
    """
    writer = async_checkpoint_io(trainer)
    if writer is not None:
        writer.after_writes(action)
    else:
        action()
