"""lit-callbacks: Lightning's built-in callbacks and the tuner for lit.

Import them from Lightning's place, ``from lit_core.callbacks import EarlyStopping``, or from
here, ``from lit_callbacks import EarlyStopping``.
"""

from .device_stats_monitor import DeviceStatsMonitor
from .early_stopping import EarlyStopping, EarlyStoppingReason
from .finetuning import BackboneFinetuning, BaseFinetuning
from .gradient_accumulation import GradientAccumulationScheduler
from .lambda_function import LambdaCallback
from .lr_monitor import LearningRateMonitor
from .model_summary import ModelSummary
from .on_exception_checkpoint import OnExceptionCheckpoint
from .prediction_writer import BasePredictionWriter
from .pruning import ModelPruning
from .spike import SpikeDetection, TrainingSpikeException
from .throughput_monitor import Throughput, ThroughputMonitor
from .timer import Timer
from .weight_averaging import EMAWeightAveraging, StochasticWeightAveraging, WeightAveraging

__version__ = "0.1.0"

__all__ = [
    "BackboneFinetuning",
    "BaseFinetuning",
    "BasePredictionWriter",
    "DeviceStatsMonitor",
    "EMAWeightAveraging",
    "EarlyStopping",
    "EarlyStoppingReason",
    "GradientAccumulationScheduler",
    "LambdaCallback",
    "LearningRateMonitor",
    "ModelPruning",
    "ModelSummary",
    "OnExceptionCheckpoint",
    "SpikeDetection",
    "StochasticWeightAveraging",
    "Throughput",
    "ThroughputMonitor",
    "Timer",
    "TrainingSpikeException",
    "WeightAveraging",
    "__version__",
]

from .tuner import BatchSizeFinder, LearningRateFinder, Tuner

__version__ = "0.1.0"

__all__ = ["BatchSizeFinder", "LearningRateFinder", "Tuner", "__version__"]
