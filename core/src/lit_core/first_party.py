"""What lit's first-party distributions provide: for "pip install ..." hints only.

The one place in lit-core that names first-party plugins (``tests/core/test_no_plugin_names.py``
enforces it). What a ``Trainer`` *uses* is decided by installed metadata alone: entry points,
and the roles distributions declare (``lit_core.roles``). When a name, a Lightning class or a
role is asked for and nothing installed provides it, this table says which first-party
distribution would (``tests/core/test_no_plugin_names.py`` checks it against their
``pyproject.toml`` files). It never invents a distribution for a name it does not list.
"""

from __future__ import annotations

from collections.abc import Iterator

_CALLBACKS = (
    "BackboneFinetuning", "BaseFinetuning", "BasePredictionWriter", "BatchSizeFinder", "DeviceStatsMonitor",
    "EarlyStopping", "EMAWeightAveraging", "GradientAccumulationScheduler", "LambdaCallback",
    "LearningRateFinder", "LearningRateMonitor", "ModelPruning", "ModelSummary", "OnExceptionCheckpoint",
    "SpikeDetection", "StochasticWeightAveraging", "ThroughputMonitor", "Timer", "WeightAveraging",
)

#: distribution -> entry-point group -> the names it registers there (plugin names in ``lit.*``
#: groups, roles in ``lit.roles``, Lightning class names in the ``lit_core.*`` namespace groups).
DISTRIBUTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "lit-cuda": {
        "lit.accelerators": ("cuda", "gpu"),
        "lit.roles": ("gpus_accelerator",),
        "lit_core.accelerators": ("CUDAAccelerator",),
    },
    "lit-xla": {
        "lit.accelerators": ("xla", "tpu"),
        "lit.strategies": ("xla", "xla_spmd"),
        "lit.roles": ("tpu_cores_accelerator",),
        "lit_core.accelerators": ("XLAAccelerator",),
        "lit_core.strategies": ("XLAStrategy",),
    },
    "lit-ddp": {
        "lit.strategies": ("ddp", "ddp_spawn", "ddp_fork", "ddp_notebook", "ddp_find_unused_parameters_true"),
        "lit.roles": ("multi_device_strategy",),
        "lit_core.strategies": ("DDPStrategy", "DDPSpawnStrategy"),
        "lit_core.plugins.environments": (
            "LightningEnvironment", "SLURMEnvironment", "TorchElasticEnvironment", "KubeflowEnvironment"),
    },
    "lit-fsdp": {"lit.strategies": ("fsdp",), "lit_core.strategies": ("FSDPStrategy",)},
    "lit-amp": {
        "lit.precision": ("16-mixed", "bf16-mixed", "16-true", "bf16-true"),
        "lit.roles": ("precision_16", "precision_bf16"),
        "lit_core.plugins.precision": ("MixedPrecision", "HalfPrecision"),
    },
    "lit-tensorboard": {
        "lit.loggers": ("tensorboard",),
        "lit.roles": ("default_logger",),
        "lit_core.loggers": ("TensorBoardLogger",),
    },
    "lit-wandb": {"lit.loggers": ("wandb",), "lit_core.loggers": ("WandbLogger",)},
    "lit-mlflow": {"lit.loggers": ("mlflow",), "lit_core.loggers": ("MLFlowLogger",)},
    "lit-tqdm": {
        "lit.callbacks": ("tqdm",),
        "lit.roles": ("default_progress_bar",),
        "lit_core.callbacks": ("TQDMProgressBar",),
    },
    "lit-rich": {
        "lit.callbacks": ("rich", "rich_model_summary"),
        "lit_core.callbacks": ("RichProgressBar", "RichModelSummary"),
    },
    "lit-checkpoint": {
        "lit.callbacks": ("checkpoint",),
        "lit.roles": ("default_checkpointing",),
        "lit_core.callbacks": ("ModelCheckpoint",),
        "lit_core.plugins.io": ("AsyncCheckpointIO", "CheckpointIO", "TorchCheckpointIO"),
    },
    "lit-compat": {
        "lit.roles": ("lightning_1x_flags",),
        "lit_core.utilities.argparse": ("add_argparse_args", "from_argparse_args", "parse_argparser",
                                        "get_init_arguments_and_types", "str_to_bool", "str_to_bool_or_str",
                                        "str_to_bool_or_int"),
    },
    "lit-callbacks": {
        "lit.callbacks": ("lr_monitor", "timer", "weight_averaging", "device_stats", "model_summary", "spike_detection",
                          "lr_finder", "batch_size_finder"),
        "lit.roles": ("default_model_summary",),
        "lit_core.callbacks": _CALLBACKS,
        "lit_core.tuner": ("Tuner", "_LRFinder", "_LegacyTuner"),
        "lit_core.utilities.model_summary": (
            "ModelSummary", "LayerSummary", "summarize", "get_human_readable_count", "get_formatted_model_size",
            "parse_batch_shape"),
    },
    "lit-cli": {
        "lit_core.cli": ("LightningCLI", "LightningArgumentParser", "SaveConfigCallback", "ArgsType", "OptimizerCallable",
                         "LRSchedulerCallable", "ReduceLROnPlateau", "instantiate_class"),
    },
    "lit-profilers": {
        "lit.profilers": ("simple", "advanced", "pytorch", "passthrough"),
        "lit_core.profilers": ("Profiler", "SimpleProfiler", "AdvancedProfiler", "PyTorchProfiler", "PassThroughProfiler"),
    },
    "lit-demos": {
        "lit_core.demos": (
            "BoringDataModule", "BoringModel", "DemoModel", "Dictionary", "LightningLSTM", "LightningTransformer", "MNIST",
            "MNISTDataModule", "ManualOptimBoringModel", "Net", "PositionalEncoding", "RandomDataset", "RandomDictDataset",
            "RandomIterableDataset", "RandomIterableDatasetWithLen", "SequenceSampler", "SimpleLSTM", "Transformer",
            "WikiText2", "tokenize"),
    },
}


def provider(group: str, name: str) -> str | None:
    """The first-party distribution that registers ``name`` in entry-point ``group``, or ``None``."""
    return next((dist for dist, groups in DISTRIBUTIONS.items() if name in groups.get(group, ())), None)


def names(group: str) -> Iterator[tuple[str, str]]:
    """``(name, distribution)`` for every first-party name in entry-point ``group``."""
    for dist, groups in DISTRIBUTIONS.items():
        for name in groups.get(group, ()):
            yield name, dist
