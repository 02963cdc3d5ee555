"""The plugin API: everything a plugin may import from lit-core, in one module.

A plugin writes ``from lit_core.plugin_api import Strategy, rank_zero_warn, ...`` for what it
builds on, and ``import lit_core as lit`` for the Lightning user API (``lit.Trainer``,
``lit.LightningModule``, ``lit.Callback``, ``lit.hookimpl``: the names of ``lit_core.__all__``).
Nothing else in ``lit_core`` is public to plugins: other modules are the kernel's and change
without notice. The hook specifications (``lit_core.hookspecs``) and the public loop state
(``trainer.state``) are part of this API too; docs/plugins.rst, "The plugin API", has the
stability and deprecation policy.

``PLUGIN_API_VERSION`` is ``(major, minor)``: an addition bumps the minor, a removal or an
incompatible change the major (after a deprecation period). A plugin that needs a name added in
a later minor says so once, at import, so that an old lit-core fails with a clear message
rather than an ``ImportError``:

>>> from lit_core.plugin_api import PLUGIN_API_VERSION, require_plugin_api
>>> require_plugin_api((1, 0))
>>> PLUGIN_API_VERSION >= (1, 0)
True

This module only re-exports; the names keep their home modules (``Strategy.__module__`` is
``lit_core.strategies.strategy``).
"""

from __future__ import annotations

from . import __version__, checkpoint_files, lineage
from .accelerators import Accelerator
from .apply import move_data_to_cpu, move_data_to_device
from .builtins.precision import TruePrecision
from .callback import Callback
from .callbacks.checkpoint import Checkpoint
from .checkpoint import load as load_checkpoint
from .datamodule import LightningDataModule
from .distributed import (
    DistributedBatchSamplerWrapper,
    DistributedSamplerWrapper,
    ShardedLoaders,
    result_payload,
    shard,
    take_back,
)
from .exceptions import (
    ExitStage,
    MisconfigurationException,
    MisconfigurationTypeError,
    MisconfigurationValueError,
    PluginError,
)
from .logger import FolderLogger, Logger, no_checkpoints_to_log, plain_data
from .markers import hookimpl
from .module import LightningModule
from .optim import LRSchedulerConfig
from .plugins.environments import ClusterEnvironment
from .plugins.precision import Precision
from .progress import ProgressBar
from .rank_zero import rank_zero_deprecation, rank_zero_info, rank_zero_only, rank_zero_warn
from .roles import model_summary as default_model_summary
from .strategies import Strategy
from .trainer import Trainer
from .trainer_state import RunningStage, TrainerFn
from .trial import Trial, dataloaders_given, reload_dataloaders, with_callbacks
from .utilities.grads import grad_norm
from .wrappers import StepForward

#: The plugin API's version, ``(major, minor)``. Additions bump the minor; removals and
#: incompatible changes bump the major, after one minor release of deprecation warnings.
PLUGIN_API_VERSION: tuple[int, int] = (1, 0)


def require_plugin_api(version: tuple[int, int]) -> None:
    """Fail unless the installed lit-core provides plugin API ``version`` (same major, minor at least as high).

    Call it at the top of a plugin's module: the error then names the plugin's distribution
    (lit reports import failures with it) and both versions.

    Raises:
        TypeError: ``version`` is not a ``(major, minor)`` tuple of ints.
        PluginError: the installed plugin API is older, or of another major version.
    """
    if not (isinstance(version, tuple) and len(version) == 2 and all(type(v) is int for v in version)):
        raise TypeError(f"require_plugin_api() takes a (major, minor) tuple of ints, like (1, 0); got {version!r}.")
    major, minor = version
    have_major, have_minor = PLUGIN_API_VERSION
    if major == have_major and minor <= have_minor:
        return
    advice = (
        "Upgrade lit-core (pip install -U lit-core), or install a version of this plugin made for it."
        if version > PLUGIN_API_VERSION
        else "Install a version of this plugin made for plugin API "
        f"{have_major}.x, or a lit-core that provides {major}.{minor}."
    )
    raise PluginError(
        f"This plugin needs lit-core's plugin API {major}.{minor} (or a later {major}.x); the installed "
        f"lit-core {__version__} provides plugin API {have_major}.{have_minor}. {advice}"
    )


__all__ = [
    "PLUGIN_API_VERSION",
    "Accelerator",
    "Callback",
    "Checkpoint",
    "ClusterEnvironment",
    "DistributedBatchSamplerWrapper",
    "DistributedSamplerWrapper",
    "ExitStage",
    "FolderLogger",
    "LRSchedulerConfig",
    "LightningDataModule",
    "LightningModule",
    "Logger",
    "MisconfigurationException",
    "MisconfigurationTypeError",
    "MisconfigurationValueError",
    "PluginError",
    "Precision",
    "ProgressBar",
    "RunningStage",
    "ShardedLoaders",
    "StepForward",
    "Strategy",
    "Trainer",
    "TrainerFn",
    "Trial",
    "TruePrecision",
    "checkpoint_files",
    "dataloaders_given",
    "default_model_summary",
    "grad_norm",
    "hookimpl",
    "lineage",
    "load_checkpoint",
    "move_data_to_cpu",
    "move_data_to_device",
    "no_checkpoints_to_log",
    "plain_data",
    "rank_zero_deprecation",
    "rank_zero_info",
    "rank_zero_only",
    "rank_zero_warn",
    "reload_dataloaders",
    "require_plugin_api",
    "result_payload",
    "shard",
    "take_back",
    "with_callbacks",
]
