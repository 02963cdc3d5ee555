"""``WandbLogger``: metrics, config, gradients and checkpoints in a Weights & Biases run.

``wandb`` is imported when the run is first needed (``wandb.init`` starts a service process), so
``import lit_wandb`` and building the logger stay cheap. The run id is chosen at construction,
so ``version`` and ``log_dir`` are known before the run starts.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import string
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import lit_core as lit
from lit_core.plugin_api import MisconfigurationException, no_checkpoints_to_log, rank_zero_warn
from lit_core.plugin_api import plain_data as _yaml_safe

if TYPE_CHECKING:
    import torch

STEP_METRIC = "trainer/global_step"


class WandbLogger(lit.Logger):
    """Log to a Weights & Biases run.

    :param name: the run's display name.
    :param save_dir: where wandb writes its files (``<save_dir>/wandb/``); ``Trainer(logger="wandb")``
        passes ``default_root_dir``.
    :param version: the run id (same as ``id``).
    :param offline: write the run locally, to upload later with ``wandb sync``; no account needed.
    :param id: the run id; a new one by default.
    :param anonymous: log anonymously (``wandb.init(anonymous="allow")``).
    :param project: the project; ``$WANDB_PROJECT`` or ``"lightning_logs"`` by default.
    :param log_model: upload the checkpoints announced by ``lit_checkpoint_saved`` (``ModelCheckpoint``'s)
        as ``model`` artifacts: ``True`` at the end of a successful run (those not deleted since),
        ``"all"`` as they are saved, ``False`` never.
    :param prefix: prepended to every metric name.
    :param checkpoint_name: the artifact's name; ``model-<run id>`` by default.
    :param kwargs: passed to ``wandb.init`` (``entity``, ``tags``, ``group``, ``resume``, ``settings``...).
    """

    def __init__(
        self,
        name: str | None = None,
        save_dir: str | os.PathLike = ".",
        version: str | None = None,
        offline: bool = False,
        id: str | None = None,
        anonymous: bool | None = None,
        project: str | None = None,
        log_model: bool | Literal["all"] = False,
        prefix: str = "",
        checkpoint_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        if importlib.util.find_spec("wandb") is None:
            raise ModuleNotFoundError(
                "WandbLogger needs the `wandb` package, which is not installed: `pip install wandb` "
                "(or `pip install lit-wandb`, which requires it), or choose another logger, e.g. Trainer(logger='csv').",
                name="wandb",
            )
        if log_model not in (True, False, "all"):
            raise MisconfigurationException(f"WandbLogger(log_model={log_model!r}): use True (at the end), 'all' (every checkpoint) or False.")
        self._save_dir = os.path.expanduser(os.fspath(save_dir))
        self._project = project or os.environ.get("WANDB_PROJECT", "lightning_logs")
        self._id = id or version or _new_run_id()
        self._offline = offline
        self._log_model = log_model
        self._prefix = prefix
        self._checkpoint_name = checkpoint_name
        self._init_kwargs: dict[str, Any] = {
            "project": self._project, "name": name, "id": self._id, "dir": self._save_dir, "resume": "allow",
            **({"mode": "offline"} if offline else {}),
            **({"anonymous": "allow"} if anonymous else {}),
            **kwargs,
        }
        self._experiment: Any = None
        # The checkpoint files announced by lit_checkpoint_saved and not removed since, in the order saved.
        self._checkpoints: dict[str, _Checkpoint] = {}
        #: The best file of each checkpointing callback (``source``), as last announced.
        self._best: dict[str, str] = {}
        self._logged_checkpoints: dict[str, float] = {}

    @property
    def name(self) -> str:
        """The project."""
        return self._project

    @property
    def version(self) -> str:
        """The run id."""
        return self._id

    @property
    def save_dir(self) -> str:
        return self._save_dir

    @property
    def experiment(self) -> Any:
        """The wandb run, started on first use; on ranks other than zero, one that does nothing."""
        if self._experiment is not None:
            return self._experiment
        if lit.rank_zero_only.rank != 0:
            return _Nothing()
        import wandb

        os.makedirs(self._save_dir, exist_ok=True)
        try:
            run = wandb.init(**self._init_kwargs)
        except wandb.errors.UsageError as exc:
            if "api key" in str(exc).lower():
                raise MisconfigurationException(
                    f"WandbLogger could not start a run: {exc} Run `wandb login`, or set the WANDB_API_KEY "
                    "environment variable, or log without an account with WandbLogger(offline=True) "
                    "(upload later with `wandb sync`)."
                ) from exc
            raise
        run.define_metric(STEP_METRIC)
        run.define_metric("*", step_metric=STEP_METRIC, step_sync=True)
        self._experiment = run
        return run

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        # wandb's own step must only grow; the Trainer's step goes in a column of its own.
        row = {f"{self._prefix}{k}": v for k, v in metrics.items()}
        if step is not None:
            row[STEP_METRIC] = step
        self.experiment.log(row)

    def log_hyperparams(self, params: Mapping[str, Any], *args: Any, **kwargs: Any) -> None:
        """Add ``params`` to the run's config (values that are not plain data as their ``repr``)."""
        self.experiment.config.update({str(k): _yaml_safe(v) for k, v in params.items()}, allow_val_change=True)

    def watch(self, model: torch.nn.Module, log: str | None = "gradients", log_freq: int = 100, log_graph: bool = True) -> None:
        """Log ``model``'s gradients (``"gradients"``), parameters (``"parameters"``) or both (``"all"``) every ``log_freq`` steps."""
        self.experiment.watch(model, log=log, log_freq=log_freq, log_graph=log_graph)

    def finalize(self, status: str) -> None:
        """Upload the checkpoints (``log_model``, successful runs only) and finish the run.

        Returns once wandb's service has written and closed the run's files, so an offline run's
        ``.wandb`` file holds everything logged when ``fit()`` returns.
        """
        if self._experiment is None:
            return
        if status == "success" and self._log_model:
            self._log_checkpoints()
        self._experiment.finish(exit_code=0 if status == "success" else 1)
        self._experiment = None
        wait_for_closed_runs()

    @lit.hookimpl
    def lit_fit_start(self, trainer: lit.Trainer) -> None:
        """Warn when ``log_model`` has nothing to upload: no checkpointing callback in this Trainer."""
        if self._log_model and not trainer.checkpoint_callbacks:
            rank_zero_warn(no_checkpoints_to_log(type(self).__name__, self._log_model))

    @lit.hookimpl
    def lit_checkpoint_saved(self, trainer: lit.Trainer, path: str, score: Any, is_best: bool, source: str,
                             settings: dict[str, Any]) -> None:
        """Note the file (``log_model``); with ``log_model="all"``, upload what is new now."""
        if not self._log_model or not trainer.is_global_zero:
            return
        self._checkpoints.pop(path, None)  # a rewritten file (last.ckpt) moves to the end
        self._checkpoints[path] = _Checkpoint(score, source, settings)
        if is_best:
            self._best[source] = path
        if self._log_model == "all":
            self._log_checkpoints()

    @lit.hookimpl
    def lit_checkpoint_removed(self, path: str) -> None:
        self._checkpoints.pop(path, None)

    def _log_checkpoints(self) -> None:
        """Upload the announced checkpoint files not uploaded yet (oldest first).

        Files not on the local disk (fsspec URLs) are skipped; one rewritten since its upload
        (``last.ckpt``) is uploaded again.
        """
        import wandb

        found = {path: (os.path.getmtime(path), saved) for path, saved in list(self._checkpoints.items()) if os.path.isfile(path)}
        run = self.experiment
        for path, (mtime, saved) in sorted(found.items(), key=lambda item: item[1][0]):
            if self._logged_checkpoints.get(path) == mtime:
                continue
            metadata = {
                "score": saved.score.item() if hasattr(saved.score, "item") else saved.score,
                "original_filename": os.path.basename(path),
                "ModelCheckpoint": {k: v for k, v in saved.settings.items() if isinstance(v, (str, int, float, bool))},
            }
            artifact = wandb.Artifact(name=self._checkpoint_name or f"model-{run.id}", type="model", metadata=metadata)
            artifact.add_file(path, name="model.ckpt")
            aliases = ["latest", "best"] if self._best.get(saved.source) == path else ["latest"]
            run.log_artifact(artifact, aliases=aliases)
            self._logged_checkpoints[path] = mtime

    def __getstate__(self) -> dict[str, Any]:
        # The run belongs to this process; copies (spawned processes, deepcopies) do not carry it.
        state = self.__dict__.copy()
        state["_experiment"] = None
        return state


#: How long ``finalize`` waits for wandb's service to close a finished run (its files complete).
CLOSE_TIMEOUT_S = 60.0


def wait_for_closed_runs(timeout: float = CLOSE_TIMEOUT_S) -> None:
    """Return once wandb's service has closed every run this process finished (their files written).

    ``run.finish()`` returns when the service has acknowledged the run's exit record, then asks
    the service to close the run without waiting for an answer (``inform_finish``); only closing
    it writes out the run's ``.wandb`` file, so a reader right after ``finish()`` could find it
    empty (the 5-10 % of offline runs of issue 14, case 6). The service handles the requests of a
    connection one after the other, closing a run before it reads the next request: any request
    that gets an answer on the same connection, sent after ``finish()``, proves the run is
    closed. The one sent is a status query for a sync operation that does not exist, which the
    service answers at once, doing nothing.
    """
    import wandb

    try:
        from wandb.sdk import wandb_setup

        service = wandb_setup.singleton().assert_service()
        service._asyncer.run(lambda: service.sync_status("")).wait_or(timeout=timeout)
    except Exception as e:  # another wandb version, or a service that died: say so, do not fail the run
        global _close_warned
        if not _close_warned:
            _close_warned = True
            rank_zero_warn(f"WandbLogger could not confirm that wandb {wandb.__version__}'s service wrote the finished "
                           f"run's files ({type(e).__name__}: {e}); a reader started at once may find them incomplete.")


_close_warned = False


class _Checkpoint(NamedTuple):
    """What ``lit_checkpoint_saved`` said about a file: its score, the callback that saved it, its settings."""

    score: Any
    source: str
    settings: dict[str, Any]


class _Nothing:
    """Stands in for the run on ranks other than zero: every attribute and call gives itself back."""

    def __getattr__(self, name: str) -> _Nothing:
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> _Nothing:
        return self


def _new_run_id() -> str:
    """Eight lowercase letters and digits, like wandb's own ids, chosen without importing wandb."""
    return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))
