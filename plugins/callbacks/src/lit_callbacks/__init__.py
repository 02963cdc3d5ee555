"""lit-callbacks: Lightning's built-in callbacks and the tuner for lit.

Import them from Lightning's place, ``from lit_core.callbacks import EarlyStopping``, or from
here, ``from lit_callbacks import EarlyStopping``.
"""

from .device_stats_monitor import DeviceStatsMonitor
from .lambda_function import LambdaCallback
from .model_summary import ModelSummary
from .on_exception_checkpoint import OnExceptionCheckpoint
from .prediction_writer import BasePredictionWriter
from .pruning import ModelPruning
from .spike import SpikeDetection, TrainingSpikeException
from .throughput_monitor import Throughput, ThroughputMonitor

__version__ = "0.1.0"

__all__ = [
    "BasePredictionWriter",
    "DeviceStatsMonitor",
    "LambdaCallback",
    "ModelPruning",
    "ModelSummary",
    "OnExceptionCheckpoint",
    "SpikeDetection",
    "Throughput",
    "ThroughputMonitor",
    "TrainingSpikeException",
    "__version__",
]
