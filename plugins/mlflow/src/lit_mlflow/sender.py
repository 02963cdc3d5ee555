"""Sending metrics and params to the tracking store from a background thread.

Training never waits for the network: ``MLFlowLogger.log_metrics`` only appends to a queue that
one thread sends with ``log_batch``. While the store cannot be reached (a tracking server that
died or restarts), the thread keeps what it could not send and tries again, less and less often
(every 1 s, then 2, 4... up to 30 s): a server that comes back receives everything, in order. What
a store that answers refuses (a param changing value) is written to the file, not retried. The
logger waits for the queue to drain only when it must (``finalize``, ``save``, after the
hyperparameters), and at most ``flush_timeout`` seconds; what could not be sent by then is
written to a local file, one JSON object a line, that :func:`send_unsent` sends later.
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import threading
import time
import weakref
from collections.abc import Iterable
from typing import Any

#: Seconds between attempts while the store cannot be reached: the first, and the most.
RETRY_FIRST_S = 1.0
RETRY_MAX_S = 30.0
#: Items kept in memory during an outage; older ones go to the fallback file beyond this.
MAX_BUFFERED = 100_000
#: MLflow's per-request limits for ``log_batch`` (``mlflow.utils.validation``).
_METRICS_PER_BATCH = 1000
_PARAMS_PER_BATCH = 100


class Sender:
    """One thread sending ``Metric`` / ``Param`` entities of one run with ``client.log_batch``."""

    def __init__(self, client: Any, run_id: str, fallback_path: str) -> None:
        self._client, self.run_id, self.fallback_path = client, run_id, fallback_path
        self._cond = threading.Condition()
        self._pending: collections.deque[Any] = collections.deque()
        self._inflight: list[Any] = []
        self._stop = threading.Event()
        self._wake = threading.Event()  # ends a wait between attempts early (a flush, or the end)
        #: Entities written to the fallback file (outage at the end, too many buffered, refused by the store).
        self.written = 0
        #: When the store stopped answering (``time.monotonic()``), ``None`` while it answers.
        self.failing_since: float | None = None
        #: The last error the store gave, as text.
        self.last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"lit-mlflow-sender-{run_id}", daemon=True)
        self._thread.start()
        atexit.register(_flush_at_exit, weakref.ref(self))

    @property
    def closed(self) -> bool:
        """Whether the sender was closed (a new one is needed to send more)."""
        return self._stop.is_set()

    def put(self, entities: Iterable[Any]) -> None:
        """Queue ``entities`` (``Metric`` or ``Param``); never waits for the network."""
        with self._cond:
            self._pending.extend(entities)
            if len(self._pending) > MAX_BUFFERED:  # a long outage: keep memory bounded
                self._write([self._pending.popleft() for _ in range(len(self._pending) - MAX_BUFFERED)])
            self._cond.notify_all()

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued was sent, at most ``timeout`` seconds; whether it was."""
        self._wake.set()  # someone waits: try again now rather than at the end of the backoff
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._inflight, timeout=timeout)

    def close(self, last_try: bool = False) -> int:
        """Stop the thread; what was not confirmed sent goes to the fallback file. Returns how many entities went there.

        :param last_try: first send it once more from the calling thread (whose requests the caller
            bounds), in case the store is back while the thread still waits between MLflow's retries.
        """
        with self._cond:
            self._stop.set()
            self._wake.set()
            rest = [*self._inflight, *self._pending]  # the request in flight may still arrive: a few may repeat
            self._inflight, self._pending = [], collections.deque()
            self._cond.notify_all()
        if last_try:
            while rest:
                batch = self._take(rest)
                try:
                    self._send(batch)
                except Exception as e:
                    self.last_error = f"{type(e).__name__}: {e}"
                    rest[:0] = batch
                    break
        with self._cond:
            self._write(rest)
        return len(rest)

    @staticmethod
    def _take(entities: list[Any] | collections.deque[Any]) -> list[Any]:
        """Remove and return the first batch ``log_batch`` accepts (1000 metrics, 100 params at most)."""
        from mlflow.entities import Metric

        batch: list[Any] = []
        metrics = params = 0
        while entities and metrics < _METRICS_PER_BATCH and params < _PARAMS_PER_BATCH:
            entity = entities.pop(0) if isinstance(entities, list) else entities.popleft()
            batch.append(entity)
            if isinstance(entity, Metric):
                metrics += 1
            else:
                params += 1
        return batch

    # -- the thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        delay = RETRY_FIRST_S
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._stop.is_set())
                if self._stop.is_set():
                    return
                batch = self._inflight = self._take(self._pending)
            try:
                self._send(batch)
            except Exception as e:
                self.last_error = f"{type(e).__name__}: {e}"
                if not self._stop.is_set() and self._reachable():
                    # The store answers: it refuses something in this batch (a param changing value,
                    # say). Send the entities one by one; keep the refused ones in the file, do not retry.
                    refused = [entity for entity in batch if not self._sent_alone(entity)]
                    with self._cond:
                        if self._stop.is_set():
                            return
                        self._write(refused)
                        self._inflight = []
                        self._cond.notify_all()
                    continue
                with self._cond:
                    if self._stop.is_set():
                        return
                    self._inflight = []
                    self._pending.extendleft(reversed(batch))  # sent first when the store is back
                    if self.failing_since is None:
                        self.failing_since = time.monotonic()
                self._wake.wait(delay)
                self._wake.clear()
                if self._stop.is_set():
                    return
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            with self._cond:
                self._inflight = []
                self.failing_since, delay = None, RETRY_FIRST_S
                self._cond.notify_all()

    def _send(self, batch: list[Any]) -> None:
        from mlflow.entities import Metric

        self._client.log_batch(self.run_id, metrics=[e for e in batch if isinstance(e, Metric)],
                               params=[e for e in batch if not isinstance(e, Metric)])

    def _sent_alone(self, entity: Any) -> bool:
        try:
            self._send([entity])
        except Exception as e:
            self.last_error = f"{type(e).__name__}: {e}"
            return False
        return True

    def _reachable(self) -> bool:
        """Whether the store answers (a cheap read of the run)."""
        try:
            self._client.get_run(self.run_id)
        except Exception:
            return False
        return True

    def _write(self, entities: list[Any]) -> None:
        """Append ``entities`` to the fallback file (the caller holds the lock)."""
        if not entities:
            return
        from mlflow.entities import Metric

        os.makedirs(os.path.dirname(self.fallback_path) or ".", exist_ok=True)
        with open(self.fallback_path, "a") as f:
            for e in entities:
                if isinstance(e, Metric):
                    row = {"run_id": self.run_id, "key": e.key, "value": e.value, "timestamp": e.timestamp, "step": e.step}
                else:
                    row = {"run_id": self.run_id, "param": e.key, "value": e.value}
                f.write(json.dumps(row) + "\n")
        self.written += len(entities)


def _flush_at_exit(ref: weakref.ref[Sender]) -> None:
    """At interpreter exit, what was logged outside a Trainer (no ``finalize``) is sent, or saved to the file."""
    sender = ref()
    if sender is None or sender.closed:
        return
    if not sender.flush(RETRY_MAX_S):
        count = sender.close()
        print(f"MLFlowLogger: {count} metrics/params of run {sender.run_id} could not be sent ({sender.last_error}); "
              f"they are in {sender.fallback_path}: send them with lit_mlflow.send_unsent({sender.fallback_path!r}).")


def send_unsent(path: str, tracking_uri: str | None = None) -> int:
    """Send the metrics and params that ``MLFlowLogger`` saved to ``path`` during an outage; delete the file.

    :param path: the file named in the logger's warning.
    :param tracking_uri: the store; default ``$MLFLOW_TRACKING_URI``.
    :returns: how many metrics and params were sent.
    """
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    runs: dict[str, tuple[list[Metric], list[Param]]] = {}
    with open(path) as f:
        for line in f:
            row = json.loads(line)
            metrics, params = runs.setdefault(row["run_id"], ([], []))
            if "param" in row:
                params.append(Param(row["param"], row["value"]))
            else:
                metrics.append(Metric(row["key"], row["value"], row["timestamp"], row["step"]))
    client = MlflowClient(tracking_uri=tracking_uri)
    sent = 0
    for run_id, (metrics, params) in runs.items():
        for start in range(0, len(metrics), _METRICS_PER_BATCH):
            client.log_batch(run_id, metrics=metrics[start : start + _METRICS_PER_BATCH])
        params = list({p.key: p for p in params}.values())  # a param already there with the same value is accepted again
        for start in range(0, len(params), _PARAMS_PER_BATCH):
            client.log_batch(run_id, params=params[start : start + _PARAMS_PER_BATCH])
        sent += len(metrics) + len(params)
    os.remove(path)
    return sent
