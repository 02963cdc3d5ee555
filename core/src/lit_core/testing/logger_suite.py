"""``LoggerConformance``: what every lit logger must do, checked by training a tiny model with it.

A logger author subclasses it with the class, how to make one writing under a folder, and how to
read back what the backend recorded::

    class TestJsonLinesLogger(LoggerConformance):
        plugin = JsonLinesLogger
        backend_modules = ("orjson",)

        def read_back(self, logger, save_dir):
            return LoggedRun(metrics=..., hyperparams=..., status=...)

Checks: the class is a ``Logger`` selectable by name; metrics reach the backend at the steps
they were logged; hyperparameters reach it; ``finalize`` is called once with ``"success"``,
``"failed"`` or ``"interrupted"`` (and the backend records it, if it records statuses);
``log_dir`` is the Trainer's, inside ``save_dir`` and fixed before the run; global rank 1 writes nothing; importing the
plugin's module does not import its backend.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import pytest

from ..logger import Logger
from ..markers import hookimpl
from ..rank_zero import rank_zero_only
from .models import TinyModel, quiet_trainer
from .suite import Conformance

#: The hyperparameters the suite's model saves (a float, an int, a string, a bool).
HPARAMS = {"lr": 0.1, "hidden": 4, "optimizer": "sgd", "nesterov": False}


@dataclass
class LoggedRun:
    """What a logger's backend recorded for one run, as the author's ``read_back`` decodes it.

    :param metrics: metric name to ``(step, value)`` pairs, in the order recorded.
    :param hyperparams: the hyperparameters recorded (values as the backend keeps them).
    :param status: the run's final status in the backend's own terms (see
        ``LoggerConformance.backend_status``), or ``None`` when the backend records no status.
    """

    metrics: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    hyperparams: dict[str, Any] = field(default_factory=dict)
    status: Any = None


class _Rank1:
    """Makes the Trainer's process global rank 1 (as the second process of a 2-process job)."""

    @hookimpl
    def lit_setup_environment(self, trainer: Any) -> None:
        trainer.global_rank = 1


class LoggerConformance(Conformance):
    """The logger conformance suite. Set ``plugin`` and implement ``read_back``; override ``make`` if needed.

    - ``backend_modules``: top-level modules of the backend (``("wandb",)``) that importing the
      plugin's module must not import (users who do not log to it must not pay for it);
    - ``backend_status(status)``: what ``read_back`` reports for lit's ``status`` (MLflow:
      ``"FINISHED"`` for ``"success"``), when the backend records run statuses;
    - ``by_name_defaults``: whether ``Trainer(logger=name)`` can build one with the Trainer's
      defaults (``save_dir``); ``False`` for a logger that needs arguments.
    """

    kind = "logger"
    backend_modules: ClassVar[tuple[str, ...]] = ()
    by_name_defaults: ClassVar[bool] = True

    def make(self, save_dir: Path) -> Logger:
        """A logger that writes everything under ``save_dir`` (default: ``plugin(save_dir=save_dir)``)."""
        return type(self).plugin(save_dir=str(save_dir))

    def backend_status(self, status: str) -> Any:
        """The backend's record of lit's ``status`` (``"success"``, ``"failed"``, ``"interrupted"``); ``None``: it records none."""
        return None

    def read_back(self, logger: Logger, save_dir: Path) -> LoggedRun | None:
        """What the backend recorded for ``logger``'s run, read with the backend's own reader; ``None``: nothing."""
        raise NotImplementedError(f"{type(self).__name__} must implement read_back(logger, save_dir) -> LoggedRun.")

    # -- helpers -----------------------------------------------------------------------------

    def watched(self, tmp_path: Path) -> tuple[Logger, Path, list[str]]:
        """A logger made under ``tmp_path/logs``, its folder, and the statuses its ``finalize`` is called with."""
        save_dir = tmp_path / "logs"
        logger = self.make(save_dir)
        statuses: list[str] = []
        finalize = logger.finalize

        def recording_finalize(status: str) -> None:  # observes the real method, which still runs
            statuses.append(status)
            finalize(status)

        logger.finalize = recording_finalize  # type: ignore[method-assign]
        return logger, save_dir, statuses

    def fit(self, tmp_path: Path, model: TinyModel, **flags: Any) -> tuple[Logger, Path, list[str]]:
        """Train ``model`` for one epoch (4 steps) logging every step; returns ``watched``'s triple."""
        logger, save_dir, statuses = self.watched(tmp_path)
        quiet_trainer(tmp_path, logger=logger, log_every_n_steps=1, **flags).fit(model)
        return logger, save_dir, statuses

    # -- the checks --------------------------------------------------------------------------

    def test_is_a_logger_selected_by_name(self, tmp_path: Path) -> None:
        """A ``lit_core.plugin_api.Logger`` subclass; ``Trainer(logger=name)`` and ``plugins=[name]`` build one."""
        assert issubclass(type(self).plugin, Logger), f"{type(self).plugin!r} must subclass lit_core.plugin_api.Logger"
        if not self.by_name_defaults:
            pytest.skip("by_name_defaults = False: this logger needs arguments a name cannot give")
        for flags in ({"logger": self.name}, {"plugins": [self.name]}):
            trainer = quiet_trainer(tmp_path, **{"logger": None, **flags})
            assert isinstance(trainer.logger, type(self).plugin), f"Trainer(**{flags}) gave {trainer.logger!r}"

    def test_metrics_reach_the_backend(self, tmp_path: Path) -> None:
        """Every ``self.log`` value arrives at the step it was logged at."""
        model = TinyModel()
        logger, save_dir, _ = self.fit(tmp_path, model)
        run = self.read_back(logger, save_dir)
        assert run is not None, "read_back found no run"
        assert [step for step, _ in model.losses] == [0, 1, 2, 3]
        got = run.metrics.get("loss")
        assert got is not None, f"no 'loss' metric recorded; recorded: {sorted(run.metrics)}"
        assert [(int(s), pytest.approx(v, rel=1e-5)) for s, v in got] == model.losses

    def test_hyperparameters_reach_the_backend(self, tmp_path: Path) -> None:
        """``save_hyperparameters`` values arrive (as values or their ``str``)."""
        logger, save_dir, _ = self.fit(tmp_path, TinyModel(**HPARAMS))
        run = self.read_back(logger, save_dir)
        assert run is not None, "read_back found no run"
        missing = {k: v for k, v in HPARAMS.items() if not _same(run.hyperparams.get(k, _MISSING), v)}
        assert not missing, f"hyperparameters not recorded as logged: {missing}; recorded: {run.hyperparams}"

    @pytest.mark.parametrize(("error", "status"), [(None, "success"), (RuntimeError("boom"), "failed"),
                                                  (SystemExit(0), "interrupted")], ids=["success", "failed", "interrupted"])
    def test_finalize_status(self, tmp_path: Path, error: BaseException | None, status: str) -> None:
        """``finalize`` runs once with the run's status; what was logged before a failure is kept."""
        model = TinyModel(fail_with=error, fail_at=2)
        logger, save_dir, statuses = self.watched(tmp_path)
        trainer = quiet_trainer(tmp_path, logger=logger, log_every_n_steps=1)
        if error is None:
            trainer.fit(model)
        else:
            with pytest.raises(type(error)):
                trainer.fit(model)
        assert statuses == [status], f"finalize was called with {statuses}, expected [{status!r}]"
        run = self.read_back(logger, save_dir)
        assert run is not None, "read_back found no run"
        assert [int(s) for s, _ in run.metrics.get("loss", [])] == [s for s, _ in model.losses]
        expected = self.backend_status(status)
        if expected is not None:
            assert run.status == expected, f"the backend recorded {run.status!r} for {status!r}, expected {expected!r}"

    def test_log_dir(self, tmp_path: Path) -> None:
        """``trainer.log_dir`` is the logger's ``log_dir``: inside its ``save_dir``, known before ``fit``, unchanged by it."""
        logger = self.make(tmp_path / "logs")
        trainer = quiet_trainer(tmp_path, logger=logger, log_every_n_steps=1)
        before = trainer.log_dir
        trainer.fit(TinyModel())
        if logger.log_dir is None:
            assert trainer.log_dir == before == trainer.default_root_dir
            return
        assert trainer.log_dir == logger.log_dir == before, f"log_dir moved during fit: {before} -> {trainer.log_dir}"
        assert Path(logger.log_dir).resolve().is_relative_to((tmp_path / "logs").resolve()), (
            f"log_dir {logger.log_dir} is outside save_dir {tmp_path / 'logs'}")

    def test_rank_zero_only(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """On global rank 1 (``rank_zero_only.rank == 1``) the logger writes nothing and finalizes nothing."""
        monkeypatch.setattr(rank_zero_only, "rank", 1)  # a launched process knows its rank before the Trainer
        logger, save_dir, statuses = self.fit(tmp_path, TinyModel(**HPARAMS), plugins=[_Rank1()])
        assert statuses == [], "rank 1 must not finalize the run"
        written = sorted(str(p.relative_to(save_dir)) for p in save_dir.rglob("*")) if save_dir.exists() else []
        assert written == [], f"rank 1 wrote {written}"
        monkeypatch.setattr(rank_zero_only, "rank", 0)
        run = self.read_back(logger, save_dir)
        assert run is None or not (run.metrics or run.hyperparams), f"rank 1 recorded {run}"

    def test_backend_imported_lazily(self) -> None:
        """Importing the plugin's module imports none of ``backend_modules`` (checked in a fresh interpreter)."""
        if not self.backend_modules:
            pytest.skip("backend_modules is empty: no backend to keep out")
        module = type(self).plugin.__module__
        script = (
            f"import importlib, json, sys\nimportlib.import_module({module!r})\n"
            f"backend = {list(self.backend_modules)!r}\n"
            "print(json.dumps(sorted(m for m in sys.modules if any(m == b or m.startswith(b + '.') for b in backend))))\n"
        )
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        imported = json.loads(done.stdout.strip().splitlines()[-1])
        assert imported == [], f"`import {module}` imported {imported}: import the backend when the logger first needs it"


_MISSING = object()


def _same(recorded: Any, logged: Any) -> bool:
    return recorded is not _MISSING and (recorded == logged or str(recorded) == str(logged))
