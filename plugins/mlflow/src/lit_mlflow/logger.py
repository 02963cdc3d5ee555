"""``MLFlowLogger``: metrics, hyperparameters and checkpoints in an MLflow run.

The backend is ``mlflow.MlflowClient`` (from ``mlflow-skinny``), imported when a logger is built,
never when ``lit_mlflow`` is imported. The run is created (or, with ``run_id``, reopened) at the
first use, which the logger forces in ``lit_setup`` on global rank zero: a tracking server that
cannot be reached fails there, within seconds, before any training step has run. Metrics and
params are then sent from a background thread (``sender.py``): a server that goes away during
training never stalls it; what it missed is sent when it returns, or saved to a file.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import warnings
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

import lit_core as lit
from lit_core.plugin_api import MisconfigurationException, no_checkpoints_to_log, rank_zero_warn

from .sender import Sender

if TYPE_CHECKING:
    from mlflow import MlflowClient

#: ``finalize(status)`` to MLflow's ``RunStatus`` names.
RUN_STATUS = {"success": "FINISHED", "failed": "FAILED", "interrupted": "KILLED"}

#: The first contact with a server: no retries, and this many seconds before a request gives up.
#: Later requests use MLflow's own policy (``MLFLOW_HTTP_REQUEST_MAX_RETRIES``, 7 retries with
#: backoff, about 4 minutes) from the sender's thread, which then retries on its own.
FIRST_CONTACT_RETRIES = 0
FIRST_CONTACT_TIMEOUT_S = 10
#: How long the logger waits, at most, for what it queued to reach the store (``flush_timeout``).
FLUSH_TIMEOUT_S = 30.0

# MLflow's limits on names (``mlflow.utils.validation``), stable since MLflow 1.x.
_MAX_KEY_LENGTH = 250
_INVALID_METRIC_CHARS = re.compile(r"[^a-zA-Z0-9_/. -]+")
_INSTALL_HINT = "pip install lit-mlflow (it installs the mlflow-skinny client)"


def import_mlflow() -> Any:
    """``mlflow``, or an ``ImportError`` that says how to install it."""
    try:
        import mlflow
    except ImportError as e:
        raise ImportError(f"MLFlowLogger needs the MLflow client, which is not installed: {_INSTALL_HINT}.") from e
    return mlflow


def is_file_store(uri: str) -> bool:
    """Whether ``uri`` is MLflow's folder-based store (``file:...`` or a plain path)."""
    scheme = uri.split(":", 1)[0] if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]+:", uri) else ""
    return scheme in ("", "file")


class MLFlowLogger(lit.Logger):
    """Log to an MLflow run: metrics with ``log_batch``, hyperparameters as params, checkpoints as artifacts.

    :param experiment_name: the MLflow experiment; created when it does not exist.
    :param run_name: the run's name (the ``mlflow.runName`` tag).
    :param tracking_uri: ``http://host:port`` for a server, ``sqlite:///path.db``, or ``file:/path``.
        Default: ``$MLFLOW_TRACKING_URI``, else the folder store ``file:<save_dir>/mlruns``.
    :param tags: tags set on a new run.
    :param save_dir: the local root (the Trainer's ``default_root_dir`` when built by name);
        the default folder store lives in ``<save_dir>/mlruns``.
    :param log_model: ``False``: no checkpoints; ``True``: the checkpoints announced by
        ``lit_checkpoint_saved`` (every ``ModelCheckpoint``'s) and not deleted since are uploaded as
        artifacts (``checkpoints/<file>``) when the run ends; ``"all"``: also each one as it is written.
    :param prefix: prepended to every metric name, joined with ``-``.
    :param artifact_location: where a new experiment keeps its artifacts (an existing one keeps its own).
    :param run_id: continue this run instead of creating one (its experiment is used).
    :param flush_timeout: the most seconds the logger waits for the tracking store, at the end of
        each stage and after logging the hyperparameters; metrics are sent from a background
        thread, so training steps never wait. What could not be sent in that time is written to
        ``<save_dir>/mlflow-unsent-<run id>.jsonl``, named in a warning (:func:`send_unsent`).
    """

    def __init__(
        self,
        experiment_name: str = "lightning_logs",
        run_name: str | None = None,
        tracking_uri: str | None = None,
        tags: Mapping[str, Any] | None = None,
        save_dir: str | os.PathLike = ".",
        log_model: bool | Literal["all"] = False,
        prefix: str = "",
        artifact_location: str | None = None,
        run_id: str | None = None,
        flush_timeout: float = FLUSH_TIMEOUT_S,
    ) -> None:
        if log_model not in (True, False, "all"):
            raise MisconfigurationException(f"MLFlowLogger(log_model={log_model!r}): expected False, True or 'all'.")
        if not isinstance(flush_timeout, (int, float)) or isinstance(flush_timeout, bool) or flush_timeout < 0:
            raise MisconfigurationException(f"MLFlowLogger(flush_timeout={flush_timeout!r}): expected a number of seconds, 0 or more.")
        self._flush_timeout = float(flush_timeout)
        self._sender: Sender | None = None
        self._save_dir = os.path.expanduser(os.fspath(save_dir))
        self._experiment_name = experiment_name
        self._run_name = run_name
        self._tracking_uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or f"file:{os.path.abspath(os.path.join(self._save_dir, 'mlruns'))}"
        self._tags = {str(k): str(v) for k, v in (tags or {}).items()}
        self._log_model = log_model
        self._prefix = prefix
        self._artifact_location = artifact_location
        self._run_id = run_id
        self._experiment_id: str | None = None
        self._client: MlflowClient | None = None
        # The checkpoint files announced by lit_checkpoint_saved and not removed since, in the order saved.
        self._checkpoints: dict[str, None] = {}
        self._uploaded: dict[str, tuple[float, int]] = {}

    # -- identity ---------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The experiment name."""
        return self._experiment_name

    @property
    def version(self) -> str | None:
        """The run id (the run is created on first access)."""
        return self.run_id

    @property
    def save_dir(self) -> str:
        return self._save_dir

    @property
    def log_dir(self) -> None:
        """``None``: runs live in the tracking store, so ``trainer.log_dir`` is ``default_root_dir``."""
        return None

    @property
    def tracking_uri(self) -> str:
        """The store this logger writes to."""
        return self._tracking_uri

    @property
    def experiment(self) -> MlflowClient:
        """The ``MlflowClient``; the first access creates (or reopens) the run."""
        if self._client is None:
            self._client = self._connect()
        return self._client

    @property
    def run_id(self) -> str | None:
        """The MLflow run id."""
        return self._open_run_id()

    @property
    def experiment_id(self) -> str | None:
        """The MLflow experiment id."""
        self._open_run_id()
        return self._experiment_id

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why the logger cannot run here (the MLflow client is missing), or ``None``.

        A classmethod, as on every plugin: ``lit plugins`` asks the class before any instance exists.
        """
        try:
            import_mlflow()
        except ImportError as e:
            return str(e)
        return None

    # -- the run ----------------------------------------------------------------------------

    def _open_run_id(self) -> str | None:
        """Open the run when it is not open yet; its id."""
        _ = self.experiment
        return self._run_id

    def _connect(self) -> MlflowClient:
        import_mlflow()
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        if is_file_store(self._tracking_uri):
            # MLflow 3.x refuses the folder store (client and server alike) unless this is set;
            # it is the store MLflow itself used by default until 3.x, so the logger opts in.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        client = MlflowClient(tracking_uri=self._tracking_uri)
        try:
            with _bounded_requests():
                if self._run_id is not None:
                    run = client.get_run(self._run_id)
                    self._experiment_id = run.info.experiment_id
                    client.update_run(self._run_id, status="RUNNING")
                else:
                    self._experiment_id = self._find_or_create_experiment(client)
                    run = client.create_run(self._experiment_id, run_name=self._run_name, tags=self._tags)
                    self._run_id = run.info.run_id
        except (MlflowException, OSError) as e:
            raise ConnectionError(
                f"MLFlowLogger could not open a run at tracking_uri={self._tracking_uri!r}: {e}\n"
                "Check that the server is running and reachable (`mlflow server --host 127.0.0.1 --port 5000`), "
                "fix tracking_uri=, or log to a local store (tracking_uri='sqlite:///mlflow.db'). "
                "No training step has run yet."
            ) from e
        return client

    def _find_or_create_experiment(self, client: MlflowClient) -> str:
        found = client.get_experiment_by_name(self._experiment_name)
        if found is not None:
            return found.experiment_id
        return client.create_experiment(self._experiment_name, artifact_location=self._artifact_location)

    # -- logging ----------------------------------------------------------------------------

    def _sending(self) -> Sender:
        """The thread that sends metrics and params to the store, started on first use (on global rank zero)."""
        if self._sender is None or self._sender.closed:
            client = self.experiment
            path = os.path.join(os.path.abspath(self._save_dir), f"mlflow-unsent-{self._run_id}.jsonl")
            self._sender = Sender(client, self._run_id, path)
        return self._sender

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """Queue ``metrics`` for the sender's thread: never waits for the network."""
        from mlflow.entities import Metric

        timestamp = int(time.time() * 1000)
        self._sending().put([Metric(key=self._metric_name(k), value=float(v), timestamp=timestamp, step=step or 0) for k, v in metrics.items()])

    def _metric_name(self, name: str) -> str:
        name = f"{self._prefix}-{name}" if self._prefix else name
        clean = _INVALID_METRIC_CHARS.sub("", name)
        if clean != name:
            warnings.warn(f"MLflow metric names allow letters, digits, '_', '/', '.', ' ' and '-': {name!r} is logged as {clean!r}.",
                          RuntimeWarning, stacklevel=3)
        return clean

    def log_hyperparams(self, params: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        from mlflow.entities import Param
        from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH

        kept = []
        for key, value in flatten(params).items():
            text = str(value)
            if len(text) > MAX_PARAM_VAL_LENGTH or len(key) > _MAX_KEY_LENGTH:
                warnings.warn(f"MLflow keeps parameter names up to {_MAX_KEY_LENGTH} and values up to {MAX_PARAM_VAL_LENGTH} "
                              f"characters: {key!r} ({len(text)} characters) is not logged.", RuntimeWarning, stacklevel=2)
                continue
            kept.append(Param(key=key, value=text))
        self._sending().put(kept)
        self.save()  # once per run: recorded when this returns (within flush_timeout)

    def save(self) -> None:
        """Wait until what was logged reached the store, at most ``flush_timeout`` seconds."""
        if self._sender is not None and not self._sender.closed:
            self._sender.flush(self._flush_timeout)

    def finalize(self, status: str) -> None:
        """Send what is queued, upload the checkpoints (``log_model``), mark the run FINISHED, FAILED or KILLED.

        Waits at most ``flush_timeout`` seconds for the store; when it cannot be reached, what was
        not sent goes to the fallback file, named in a warning, and training is not failed.
        """
        if self._client is None:  # never connected: there is no run to close
            return
        sender, self._sender = self._sender, None  # a later stage starts a new thread
        if sender is not None and not sender.closed and not sender.flush(self._flush_timeout):
            self._give_up(sender, status)
            return
        if sender is not None:
            sender.close()  # nothing left: ends the thread
            if sender.written:
                warnings.warn(f"MLFlowLogger: {sender.written} metrics/params of run {self._run_id} were not sent (refused by the "
                              f"store, or more than an outage let the logger keep in memory; {sender.last_error}): they are in "
                              f"{sender.fallback_path}.", RuntimeWarning, stacklevel=2)
        self._close_run(status)

    def _close_run(self, status: str) -> None:
        """Upload the checkpoints and mark the run ended, once what was logged was sent."""
        try:
            if self._log_model:
                self._upload_checkpoints()
            self._client.set_terminated(self._run_id, RUN_STATUS.get(status, "FINISHED"))
        except Exception as e:
            if status == "success":
                raise
            # Closing after a failure: the training error that got us here is the one to see.
            warnings.warn(f"MLFlowLogger could not close run {self._run_id} as {RUN_STATUS.get(status, status)}: {e}", RuntimeWarning, stacklevel=2)

    def _give_up(self, sender: Sender, status: str) -> None:
        """The store did not answer within ``flush_timeout``: keep the rest in the file, say where."""
        since = time.monotonic() - sender.failing_since if sender.failing_since is not None else self._flush_timeout
        final_status = RUN_STATUS.get(status, "FINISHED")
        with _bounded_requests():  # one quick try, no retries: the store was just found unreachable
            unsent = sender.close(last_try=True)
        if not unsent:  # the store was back, and the thread still waiting between MLflow's retries
            self._close_run(status)
            return
        closed = True
        try:
            with _bounded_requests():
                self._client.set_terminated(self._run_id, final_status)  # type: ignore[union-attr]
        except Exception:
            closed = False
        warnings.warn(
            f"MLFlowLogger could not reach {self._tracking_uri} for {since:.0f} s ({sender.last_error}): "
            f"{sender.written} metrics/params of run {self._run_id} were not sent and are in {sender.fallback_path}. "
            f"Send them when the store is back: lit_mlflow.send_unsent({sender.fallback_path!r}, tracking_uri={self._tracking_uri!r})."
            + ("" if closed else f" The run is still marked RUNNING (it ended {final_status}).")
            + (" Checkpoints were not uploaded." if self._log_model else ""),
            RuntimeWarning, stacklevel=3)

    def __getstate__(self) -> dict[str, Any]:
        # The sender's thread belongs to this process: copies start their own.
        state = self.__dict__.copy()
        state["_sender"] = None
        return state

    # -- checkpoints ------------------------------------------------------------------------

    @lit.hookimpl
    def lit_setup(self, trainer: lit.Trainer) -> None:
        # Open the run before training: an unreachable server fails here, not at the first metric.
        if trainer.is_global_zero:
            self._open_run_id()

    @lit.hookimpl
    def lit_fit_start(self, trainer: lit.Trainer) -> None:
        """Warn when ``log_model`` has nothing to upload: no checkpointing callback in this Trainer."""
        if self._log_model and not trainer.checkpoint_callbacks:
            rank_zero_warn(no_checkpoints_to_log(type(self).__name__, self._log_model))

    @lit.hookimpl
    def lit_checkpoint_saved(self, trainer: lit.Trainer, path: str) -> None:
        """Note the file (``log_model``); with ``log_model="all"``, upload what is new or changed now."""
        if not self._log_model or not trainer.is_global_zero:
            return
        self._checkpoints.pop(path, None)  # a rewritten file (last.ckpt) moves to the end
        self._checkpoints[path] = None
        if self._log_model == "all":
            self._upload_checkpoints()

    @lit.hookimpl
    def lit_checkpoint_removed(self, path: str) -> None:
        self._checkpoints.pop(path, None)

    def _upload_checkpoints(self) -> None:
        """Upload the announced local checkpoint files (not deleted since) that are new or changed.

        Not while the store is unreachable (training would wait for MLflow's retries): they are
        uploaded at the next chance.
        """
        if self._sender is not None and self._sender.failing_since is not None:
            return
        for path in [p for p in list(self._checkpoints) if os.path.isfile(p)]:
            stat = os.stat(path)
            if self._uploaded.get(path) == (stat.st_mtime, stat.st_size):
                continue
            self.experiment.log_artifact(self._run_id, path, artifact_path="checkpoints")
            self._uploaded[path] = (stat.st_mtime, stat.st_size)


def flatten(params: Mapping[str, Any], parent: str = "") -> dict[str, Any]:
    """Nested dicts as ``a/b`` keys: ``{"opt": {"lr": 0.1}}`` gives ``{"opt/lr": 0.1}``.

    >>> flatten({"opt": {"lr": 0.1, "betas": (0.9, 0.99)}, "layers": 2})
    {'opt/lr': 0.1, 'opt/betas': (0.9, 0.99), 'layers': 2}
    """
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{parent}/{key}" if parent else str(key)
        if isinstance(value, Mapping):
            flat.update(flatten(value, name))
        else:
            flat[name] = value
    return flat


@contextlib.contextmanager
def _bounded_requests() -> Iterator[None]:
    """MLflow's HTTP retry and timeout settings bounded for the first contact, unless the user set them."""
    bounds = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(FIRST_CONTACT_RETRIES), "MLFLOW_HTTP_REQUEST_TIMEOUT": str(FIRST_CONTACT_TIMEOUT_S)}
    added = [name for name in bounds if name not in os.environ]
    os.environ.update({name: bounds[name] for name in added})
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)
