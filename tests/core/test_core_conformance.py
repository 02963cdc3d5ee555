"""lit-core's own plugins pass the conformance suites of lit_core.testing (as a third party's must)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import torch
import yaml

from lit_core.accelerators import CPUAccelerator
from lit_core.builtins.precision import DoublePrecision, FullPrecision
from lit_core.loggers import CSVLogger
from lit_core.strategies import SingleDeviceStrategy
from lit_core.testing import AcceleratorConformance, LoggedRun, LoggerConformance, PrecisionConformance, StrategyConformance


class TestCSVLogger(LoggerConformance):
    plugin = CSVLogger
    name = "csv"

    def read_back(self, logger, save_dir):
        if not os.path.exists(logger.metrics_file_path):
            return None
        metrics: dict[str, list[tuple[int, float]]] = {}
        with open(logger.metrics_file_path, newline="") as f:
            for row in csv.DictReader(f):
                for key, value in row.items():
                    if key != "step" and value != "":
                        metrics.setdefault(key, []).append((int(row["step"]), float(value)))
        hparams_file = Path(logger.log_dir) / "hparams.yaml"
        hparams = yaml.safe_load(hparams_file.read_text()) if hparams_file.exists() else {}
        return LoggedRun(metrics=metrics, hyperparams=hparams or {})


class TestCPUAccelerator(AcceleratorConformance):
    plugin = CPUAccelerator
    name = "cpu"


class TestFullPrecision(PrecisionConformance):
    plugin = FullPrecision
    name = "32-true"


class TestDoublePrecision(PrecisionConformance):
    plugin = DoublePrecision
    name = "64-true"
    param_dtype = compute_dtype = torch.float64


class TestSingleDeviceStrategy(StrategyConformance):
    plugin = SingleDeviceStrategy
    name = "single_device"
