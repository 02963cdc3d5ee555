"""lit-callbacks: Lightning's built-in callbacks and the tuner for lit.

Import them from Lightning's place, ``from lit_core.callbacks import EarlyStopping``, or from
here, ``from lit_callbacks import EarlyStopping``.
"""

from .early_stopping import EarlyStopping, EarlyStoppingReason
from .finetuning import BackboneFinetuning, BaseFinetuning
from .gradient_accumulation import GradientAccumulationScheduler
from .lr_monitor import LearningRateMonitor
from .timer import Timer
from .weight_averaging import StochasticWeightAveraging, WeightAveraging

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
    "BackboneFinetuning",
    "BaseFinetuning",
    "EarlyStopping",
    "EarlyStoppingReason",
    "GradientAccumulationScheduler",
    "LearningRateMonitor",
    "StochasticWeightAveraging",
    "Timer",
    "WeightAveraging",

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
