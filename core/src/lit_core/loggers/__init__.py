"""Lightning's ``lightning.pytorch.loggers``: ``Logger`` here, the loggers from plugins.

``CSVLogger`` (lit-core), ``TensorBoardLogger`` (lit-tensorboard), ``WandbLogger`` (lit-wandb)
and ``MLFlowLogger`` (lit-mlflow) are declared in the ``lit_core.loggers`` entry-point group and
imported when first used (so ``import lit_core.loggers`` never imports wandb or mlflow).
"""

from .. import namespace
from ..logger import Logger

__all__ = ["Logger"]

namespace.install(globals())
