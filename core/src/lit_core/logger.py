"""``Logger``: the base class of every experiment logger (csv, tensorboard, wandb, mlflow...).

A logger is a plugin: the methods marked ``@hookimpl`` below connect it to the Trainer's
``lit_log_metrics`` / ``lit_log_hyperparams`` hooks, so a subclass only implements
``log_metrics`` and ``log_hyperparams``. Register the subclass under ``lit.loggers`` and
``Trainer(logger="<name>")`` finds it.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from . import first_party, roles
from .markers import hookimpl
from .rank_zero import rank_zero_only

if TYPE_CHECKING:
    from .trainer import Trainer


class Logger:
    """Base class for loggers. Subclasses implement ``log_metrics`` and ``log_hyperparams``."""

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this logger cannot run here (its client library is missing...), or ``None`` when it can.

        A classmethod, as on every kind of plugin (``lit_core.plugin_base``): ``lit plugins`` asks
        the class before any instance exists. Must be cheap: import nothing heavy to answer.
        """
        return None

    @property
    def name(self) -> str | None:
        """The experiment name (a folder under ``save_dir`` for file-based loggers)."""
        return None

    @property
    def version(self) -> int | str | None:
        """The run's version (``version_N`` for file-based loggers)."""
        return None

    @property
    def save_dir(self) -> str | None:
        """The root folder of the logs, or ``None`` when the logger writes no files."""
        return None

    @property
    def root_dir(self) -> str | None:
        """``save_dir/name``: where the versions of this experiment live."""
        if self.save_dir is None:
            return None
        return os.path.join(self.save_dir, self.name or "")

    @property
    def log_dir(self) -> str | None:
        """The folder of this run; ``trainer.log_dir`` returns it."""
        if self.root_dir is None:
            return None
        version = self.version
        version = version if isinstance(version, str) else f"version_{version}"
        return os.path.join(self.root_dir, version)

    @property
    def experiment(self) -> Any:
        """The backend object (a ``SummaryWriter``, a wandb run...)."""
        return None

    @property
    def group_separator(self) -> str:
        """The separator of metric groups in names (``"train/loss"``)."""
        return "/"

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """Record ``metrics`` (name to Python float) at ``step``."""
        raise NotImplementedError(f"{type(self).__name__} must implement log_metrics(metrics, step).")

    def log_hyperparams(self, params: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        """Record the run's hyperparameters."""
        raise NotImplementedError(f"{type(self).__name__} must implement log_hyperparams(params).")

    def log_graph(self, model: Any, input_array: Any = None) -> None:
        """Record the model graph, where the backend can."""

    def save(self) -> None:
        """Flush what is buffered."""

    def finalize(self, status: str) -> None:
        """Close the run; ``status`` is ``"success"``, ``"failed"`` or ``"interrupted"`` (a clean stop: preemption)."""
        self.save()

    def attach(self, trainer: Trainer) -> None:
        """Called when the logger joins ``trainer``; the default does nothing."""

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        """Called after ``checkpoint_callback`` (a ``ModelCheckpoint``) saved a checkpoint file (Lightning's method).

        lit calls it on global rank zero from the ``lit_checkpoint_saved`` event, once the file is
        complete on disk (with ``AsyncCheckpointIO``, on its writer thread), for each file the
        callback announces, and only for a logger class that overrides it (``AfterSaveCheckpoint``).
        """

    # -- the hooks that connect a logger to the loop (global rank zero only) ------------------

    @hookimpl(trylast=True)
    def lit_log_metrics(self, metrics: dict[str, float], step: int) -> None:
        self.log_metrics(metrics, step)

    @hookimpl(trylast=True)
    def lit_log_hyperparams(self, params: dict[str, Any]) -> None:
        self.log_hyperparams(params)

    # Wrappers: the run is finalized after every other implementation (callbacks, the module).

    @hookimpl(wrapper=True)
    def lit_teardown(self, trainer: Trainer) -> Generator[None, None, None]:
        yield
        if trainer.is_global_zero:
            self.finalize("success")

    @hookimpl(wrapper=True)
    def lit_exception(self, trainer: Trainer, exception: BaseException) -> Generator[None, None, None]:
        yield
        if trainer.is_global_zero:
            self.finalize(exit_status(exception))


class AfterSaveCheckpoint:
    """Calls Lightning's ``logger.after_save_checkpoint(checkpoint_callback)`` on the ``lit_checkpoint_saved`` event.

    The Trainer registers one next to each logger whose class overrides the method
    (``after_save_checkpoint_plugin``); other loggers cost nothing when a checkpoint is saved. The
    callback passed is the Trainer's callback whose ``state_key`` is the event's ``source``.
    """

    def __init__(self, logger: Logger) -> None:
        self.logger = logger

    @hookimpl
    def lit_checkpoint_saved(self, trainer: Trainer, source: str) -> None:
        callback = next((cb for cb in trainer.callbacks if cb.state_key == source), None)
        if callback is not None:  # announced by a plugin that is not one of the Trainer's callbacks
            self.logger.after_save_checkpoint(callback)


def after_save_checkpoint_plugin(logger: Logger) -> AfterSaveCheckpoint | None:
    """The ``AfterSaveCheckpoint`` plugin for ``logger`` when its class overrides ``after_save_checkpoint``, else ``None``."""
    return AfterSaveCheckpoint(logger) if type(logger).after_save_checkpoint is not Logger.after_save_checkpoint else None


def exit_status(exception: BaseException) -> str:
    """The ``finalize`` status for a stage that ended with ``exception``.

    ``"interrupted"`` for a clean stop (``SystemExit`` with status 0, as raised after a
    preemption signal saved the run to resume it), ``"failed"`` for everything else (Lightning
    2.6 passes ``"failed"`` for Ctrl+C too).
    """
    if isinstance(exception, SystemExit) and exception.code in (0, None):
        return "interrupted"
    return "failed"


class DummyExperiment:
    """An experiment that accepts any call, attribute or index and does nothing."""

    def nop(self, *args: Any, **kwargs: Any) -> None:
        """Accept anything, do nothing."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # keep copy, pickle and introspection working
            raise AttributeError(name)
        return self.nop

    def __getitem__(self, idx: Any) -> DummyExperiment:
        # ``logger.experiment[0].add_image(...)`` works too
        return self

    def __setitem__(self, *args: Any) -> None:
        pass


class DummyLogger(Logger):
    """A logger that records nothing; any method called on it, or on its experiment, does nothing.

    Lightning's ``DummyLogger``: for code that calls ``self.logger.<anything>`` and should run
    unchanged when logging is off.
    """

    def __init__(self) -> None:
        self._experiment = DummyExperiment()

    @property
    def experiment(self) -> DummyExperiment:
        """A :class:`DummyExperiment`."""
        return self._experiment

    @property
    def name(self) -> str:
        return ""

    @property
    def version(self) -> str:
        return ""

    def log_metrics(self, *args: Any, **kwargs: Any) -> None:
        """Do nothing."""

    def log_hyperparams(self, *args: Any, **kwargs: Any) -> None:
        """Do nothing."""

    def __getitem__(self, idx: int) -> DummyLogger:
        # ``self.logger[0].experiment.add_image(...)`` works too
        return self

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # private and dunder names stay real (pluggy, copy, pickle look them up)
            raise AttributeError(name)

        def method(*args: Any, **kwargs: Any) -> None:
            return None

        return method


class FolderLogger(Logger):
    """A logger that writes under Lightning's ``<save_dir>/<name>/version_N`` layout (csv, tensorboard).

    :param save_dir: the root folder.
    :param name: the experiment folder under ``save_dir`` (``None`` or ``""``: none).
    :param version: an int (``version_N``) or a folder name; by default the next free number,
        fixed when the logger joins a Trainer so loggers created together share one folder. The
        folder is created then (claimed), so runs started at the same moment never share one.
    """

    def __init__(self, save_dir: str | os.PathLike = ".", name: str | None = "lightning_logs",
                 version: int | str | None = None) -> None:
        self._save_dir = os.path.expanduser(os.fspath(save_dir))  # "~/logs" as Lightning accepts it
        self._name = name or ""
        self._version = version
        self._claimed = False  # whether this logger created its version folder (chose the number)

    @property
    def name(self) -> str:
        return self._name

    @property
    def save_dir(self) -> str:
        return self._save_dir

    @property
    def version(self) -> int | str:
        """The version; chosen once, when first asked, by claiming the next free ``version_N`` folder."""
        if self._version is None:
            self._version, self._claimed = claim_version(self.root_dir or "."), True
        return self._version

    def attach(self, trainer: Trainer) -> None:
        """Fix the version when the logger joins a Trainer, so ``trainer.log_dir`` cannot move later.

        A logger of the same Trainer that already claimed a version in the same root shares it
        (``logger=["tensorboard", "csv"]`` writes one ``version_N`` folder).
        """
        if self._version is None:
            for other in trainer.loggers:
                if other is self:
                    break
                if isinstance(other, FolderLogger) and other._claimed and other.root_dir == self.root_dir:
                    self._version = other._version
                    break
        self.version  # noqa: B018


def claim_version(root_dir: str) -> int:
    """The next free version of ``root_dir``, claimed by creating its ``version_N`` folder.

    Runs started at the same moment in one root each get a folder of their own: ``os.mkdir``
    fails for all but one of the processes that try the same number, and the others try the
    next. On ranks other than global rank zero (read from the launcher's environment before the
    Trainer knows it: ``RANK``, ``LOCAL_RANK``, ``SLURM_PROCID``..., and ``NODE_RANK`` for the
    processes of other nodes) nothing is created: those processes write no logs, and rank zero,
    started first by lit's launchers, has already claimed the run's folder, the highest one there.
    """
    if rank_zero_only.rank != 0 or os.environ.get("NODE_RANK", "0") not in ("", "0"):  # type: ignore[attr-defined]
        return max(next_version(root_dir) - 1, 0)
    os.makedirs(root_dir, exist_ok=True)
    version = next_version(root_dir)
    while True:
        try:
            os.mkdir(os.path.join(root_dir, f"version_{version}"))
            return version
        except FileExistsError:  # another run took it between our listing and now
            version = max(version + 1, next_version(root_dir))


def next_version(root_dir: str) -> int:
    """One more than the highest ``version_N`` folder in ``root_dir`` (0 when there is none).

    Loggers that follow Lightning's ``<save_dir>/<name>/version_N`` layout share this rule.
    """
    try:
        names = os.listdir(root_dir)
    except FileNotFoundError:
        return 0
    versions = [int(n.split("_", 1)[1]) for n in names if n.startswith("version_") and n.split("_", 1)[1].isdigit()]
    return max(versions) + 1 if versions else 0


def plain_data(value: Any, _inside: tuple[int, ...] = ()) -> Any:
    """``value`` as YAML / JSON-safe data: plain values as they are, containers converted, anything
    else (a container that holds itself too) its ``repr``."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple, dict)) and id(value) not in _inside:
        inside = (*_inside, id(value))
        if isinstance(value, dict):
            return {str(k): plain_data(v, inside) for k, v in value.items()}
        return [plain_data(v, inside) for v in value]
    return repr(value)


def no_checkpoints_to_log(logger: str, log_model: bool | str) -> str:
    """The warning for a logger whose ``log_model`` uploads checkpoint files, in a Trainer without
    a checkpointing callback to announce them (``WandbLogger``, ``MLFlowLogger``, a third party's).

    The fix depends on whether an installed distribution fills the ``default_checkpointing`` role:
    then checkpointing was turned off; otherwise there is nothing to turn on until one is installed.
    """
    if roles.fill("default_checkpointing") is None:
        dist = first_party.provider(roles.GROUP, "default_checkpointing")
        provider = f"`pip install {dist}`" if dist else "docs/plugins.rst, 'Default roles'"
        fix = (f"install a checkpointing plugin ({provider}), which adds ModelCheckpoint and saves checkpoints "
               "by default (enable_checkpointing=True)")
    else:
        fix = "turn checkpointing on (Trainer(enable_checkpointing=True), or callbacks=[ModelCheckpoint(...)])"
    return (f"{logger}(log_model={log_model!r}) uploads the checkpoint files a checkpointing callback saves, and this "
            f"Trainer has none, so no checkpoint will be uploaded: {fix}, or set log_model=False.")
