"""The ``csv`` logger: ``<root>/lightning_logs/version_N/metrics.csv`` and ``hparams.yaml``."""

from __future__ import annotations

import csv
import os
from argparse import Namespace
from typing import Any

from ..logger import FolderLogger
from ..logger import plain_data as _yaml_safe


class CSVLogger(FolderLogger):
    """Write metrics to ``metrics.csv`` (one row per logging step) and hparams to ``hparams.yaml``.

    :param save_dir: the root folder (default: the Trainer's ``default_root_dir``).
    :param name: the experiment folder under ``save_dir``.
    :param version: an int (``version_N``) or a folder name; the next free number by default.
    :param prefix: prepended to every metric name.
    :param flush_logs_every_n_steps: how many logging calls are buffered before writing.
    """

    def __init__(
        self,
        save_dir: str = ".",
        name: str = "lightning_logs",
        version: int | str | None = None,
        prefix: str = "",
        flush_logs_every_n_steps: int = 100,
    ) -> None:
        super().__init__(save_dir, name, version)
        self._prefix = prefix
        if flush_logs_every_n_steps < 1:
            raise ValueError(f"CSVLogger(flush_logs_every_n_steps={flush_logs_every_n_steps}) must be at least 1.")
        self._flush_every = flush_logs_every_n_steps
        self._rows: list[dict[str, Any]] = []
        self._columns: list[str] = []
        self._hparams: dict[str, Any] = {}
        self._calls = 0

    @property
    def experiment(self) -> CSVLogger:
        """The logger itself, which is its own backend."""
        return self

    @property
    def metrics_file_path(self) -> str:
        """``<log_dir>/metrics.csv``."""
        return os.path.join(self.log_dir or ".", "metrics.csv")

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        row = {f"{self._prefix}{k}" if self._prefix else k: v for k, v in metrics.items()}
        row["step"] = step
        self._rows.append(row)
        self._calls += 1
        if self._calls % self._flush_every == 0:
            self.save()

    def log_hyperparams(self, params: dict[str, Any] | Namespace | None = None, *args: Any, **kwargs: Any) -> None:
        """Add ``params`` (a dict or an ``argparse.Namespace``; none: just write the file) to ``hparams.yaml``."""
        if isinstance(params, Namespace):
            params = vars(params)
        self._hparams.update(params or {})
        self._write_hparams()

    def save(self) -> None:
        """Write the buffered rows; the file is rewritten (atomically) when new columns appear."""
        if not self._rows:
            return
        os.makedirs(self.log_dir, exist_ok=True)
        path = self.metrics_file_path
        exists = os.path.exists(path)
        if exists and not self._columns:
            with open(path, newline="") as f:  # a run continued in the same version folder
                self._columns = next(csv.reader(f), [])
        new_columns = list(dict.fromkeys(k for row in self._rows for k in row if k not in self._columns))
        if new_columns or not exists:
            self._columns += new_columns
            old_rows: list[dict[str, Any]] = []
            if exists:
                with open(path, newline="") as f:
                    old_rows = list(csv.DictReader(f))
            tmp = f"{path}.tmp"
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=self._columns)
                writer.writeheader()
                writer.writerows(old_rows + self._rows)
            os.replace(tmp, path)
        else:
            with open(path, "a", newline="") as f:
                csv.DictWriter(f, fieldnames=self._columns).writerows(self._rows)
        self._rows = []

    def _write_hparams(self) -> None:
        import yaml

        os.makedirs(self.log_dir, exist_ok=True)
        with open(os.path.join(self.log_dir, "hparams.yaml"), "w") as f:
            yaml.safe_dump({k: _yaml_safe(v) for k, v in self._hparams.items()}, f)
