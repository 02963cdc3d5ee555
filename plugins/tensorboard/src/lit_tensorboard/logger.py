"""``TensorBoardLogger``: scalars, hyperparameters and the model graph in TensorBoard event files.

``tensorboard`` (through ``torch.utils.tensorboard``) is imported when the ``SummaryWriter`` is
first needed, so ``import lit_tensorboard`` and building the logger stay cheap.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import lit_core as lit
from lit_core.plugin_api import FolderLogger, move_data_to_device, rank_zero_warn
from lit_core.plugin_api import plain_data as _yaml_safe

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter


class TensorBoardLogger(FolderLogger):
    """Write to TensorBoard event files in ``<save_dir>/<name>/version_N[/<sub_dir>]``.

    :param save_dir: the root folder (``Trainer(logger="tensorboard")`` passes ``default_root_dir``).
    :param name: the experiment folder under ``save_dir``; ``""`` or ``None`` for none.
    :param version: an int (``version_N``) or a folder name; the next free number by default.
    :param log_graph: trace the module with ``example_input_array`` at the start of ``fit`` and
        add its graph.
    :param default_hp_metric: with the hyperparameters, record ``hp_metric = -1`` so the HParams
        tab shows the run; log ``hp_metric`` yourself to give it a value.
    :param prefix: prepended to every metric name.
    :param sub_dir: a folder inside the version folder for the event files.
    :param kwargs: passed to ``SummaryWriter`` (``max_queue``, ``flush_secs``, ``filename_suffix``...).
    """

    def __init__(
        self,
        save_dir: str | os.PathLike = ".",
        name: str | None = "lightning_logs",
        version: int | str | None = None,
        log_graph: bool = False,
        default_hp_metric: bool = True,
        prefix: str = "",
        sub_dir: str | os.PathLike | None = None,
        **kwargs: Any,
    ) -> None:
        if importlib.util.find_spec("tensorboard") is None:
            raise ModuleNotFoundError(
                "TensorBoardLogger needs the `tensorboard` package, which is not installed: "
                "`pip install tensorboard` (or `pip install lit-tensorboard`, which requires it), "
                "or choose another logger, e.g. Trainer(logger='csv').",
                name="tensorboard",
            )
        super().__init__(save_dir, name, version)
        self._log_graph = log_graph
        self._default_hp_metric = default_hp_metric
        self._prefix = prefix
        self._sub_dir = None if sub_dir is None else os.fspath(sub_dir)
        self._kwargs = kwargs
        self._experiment: SummaryWriter | None = None
        self._graph_logged = False
        #: Every hyperparameter recorded so far (what ``hparams.yaml`` holds).
        self.hparams: dict[str, Any] = {}

    @property
    def log_dir(self) -> str:
        """``<save_dir>/<name>/version_N``, then ``sub_dir`` when given: where the event files go."""
        path = super().log_dir or "."
        return os.path.join(path, self._sub_dir) if self._sub_dir else path

    @property
    def experiment(self) -> SummaryWriter | _NoWriter:
        """The ``SummaryWriter``, created on first use; on ranks other than zero, one that writes nothing."""
        if self._experiment is not None:
            return self._experiment
        if lit.rank_zero_only.rank != 0:
            return _NoWriter()
        from torch.utils.tensorboard import SummaryWriter

        self._experiment = SummaryWriter(log_dir=self.log_dir, **self._kwargs)
        return self._experiment

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        writer = self.experiment
        for key, value in metrics.items():
            name = f"{self._prefix}{key}"
            if isinstance(value, Mapping):
                writer.add_scalars(name, dict(value), step)
            else:
                writer.add_scalar(name, value.item() if hasattr(value, "item") else value, step)

    def log_hyperparams(self, params: Mapping[str, Any], metrics: Mapping[str, float] | None = None, *args: Any, **kwargs: Any) -> None:
        """Record ``params`` in ``hparams.yaml`` and the HParams tab, with ``metrics`` as its metric columns.

        Nested dicts are flattened to ``"outer/inner"`` keys; values TensorBoard cannot show
        become strings. Without ``metrics``, ``hp_metric = -1`` is logged when ``default_hp_metric``.
        """
        params = _flatten(dict(params))
        self.hparams.update(params)
        self._write_hparams_yaml()
        if metrics is None and self._default_hp_metric:
            metrics = {"hp_metric": -1}
        if not metrics:
            return
        from torch.utils.tensorboard.summary import hparams

        self.log_metrics(metrics, 0)
        writer = self.experiment
        if isinstance(writer, _NoWriter):
            return
        file_writer = writer._get_file_writer()
        for summary in hparams({k: _tensorboard_value(v) for k, v in params.items()}, dict(metrics)):
            file_writer.add_summary(summary)

    def log_graph(self, model: Any, input_array: Any = None) -> None:
        """Trace ``model`` with ``input_array`` (default: ``model.example_input_array``) and add its graph."""
        if not self._log_graph:
            return
        if input_array is None:
            input_array = getattr(model, "example_input_array", None)
        if input_array is None:
            rank_zero_warn(
                "TensorBoardLogger(log_graph=True) could not log the graph: set `example_input_array` on the "
                "module (an input of its forward), or call logger.log_graph(model, input_array)."
            )
            return
        device = getattr(model, "device", None)
        if device is not None:
            input_array = move_data_to_device(input_array, device)
        self.experiment.add_graph(model, input_array)

    def save(self) -> None:
        if self._experiment is not None:
            self._experiment.flush()

    def finalize(self, status: str) -> None:
        """Flush and close the writer; a later run of the same logger opens a new event file."""
        if self._experiment is not None:
            self._experiment.flush()
            self._experiment.close()
            self._experiment = None

    def __getstate__(self) -> dict[str, Any]:
        # A SummaryWriter holds a thread and an open file: copies of the logger (spawned
        # processes, deepcopies of the trainer) open their own.
        state = self.__dict__.copy()
        state["_experiment"] = None
        return state

    @lit.hookimpl
    def lit_fit_start(self, trainer: lit.Trainer, module: lit.LightningModule) -> None:
        if self._log_graph and not self._graph_logged and trainer.is_global_zero:
            self.log_graph(module)
            self._graph_logged = True

    def _write_hparams_yaml(self) -> None:
        import yaml

        if lit.rank_zero_only.rank != 0:
            return
        os.makedirs(self.log_dir, exist_ok=True)
        with open(os.path.join(self.log_dir, "hparams.yaml"), "w") as f:
            yaml.safe_dump({k: _yaml_safe(v) for k, v in self.hparams.items()}, f)


class _NoWriter:
    """Stands in for the ``SummaryWriter`` on ranks other than zero: every method does nothing."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def _flatten(params: dict[str, Any], parent: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` as ``{"a/b": 1}``, as the HParams tab wants one value per key."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{parent}/{key}" if parent else str(key)
        if isinstance(value, Mapping):
            flat.update(_flatten(dict(value), name))
        else:
            flat[name] = value
    return flat


def _tensorboard_value(value: Any) -> Any:
    """A value the HParams tab accepts: numbers, strings and bools as they are, anything else as text."""
    if isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "numel") and value.numel() == 1:
        return value.item()
    return str(value)
