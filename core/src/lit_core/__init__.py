"""lit: PyTorch Lightning's API on a small kernel whose loop phases are pluggy hooks.

Write ``import lit_core as lit`` and use ``lit.Trainer``, ``lit.LightningModule``,
``lit.LightningDataModule`` and ``lit.Callback`` as in Lightning. Accelerators, strategies,
precision, loggers and callbacks are plugins found through package entry points.
"""

from . import states  # noqa: F401  (registers Lightning's path lit_core.trainer.states)
from .callback import Callback
from .datamodule import LightningDataModule
from .logger import Logger
from .markers import hookimpl, hookspec
from .module import LightningModule
from .rank_zero import rank_zero_only
from .seed import seed_everything
from .trainer import Trainer

__version__ = "0.1.0"

__all__ = [
    "Callback",
    "LightningDataModule",
    "LightningModule",
    "Logger",
    "Trainer",
    "__version__",
    "hookimpl",
    "hookspec",
    "rank_zero_only",
    "seed_everything",
]

#: Lightning's submodules that ``import lightning.pytorch as pl`` makes reachable as attributes
#: (``pl.callbacks.ModelCheckpoint``, ``pl.loggers.TensorBoardLogger``): imported on first access
#: here, so ``import lit_core`` stays as fast as before.
_LAZY_SUBMODULES = frozenset({
    "accelerators", "callbacks", "cli", "core", "demos", "loggers", "plugins", "profilers", "strategies", "tuner",
    "utilities",
})


def __getattr__(name: str) -> object:
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
