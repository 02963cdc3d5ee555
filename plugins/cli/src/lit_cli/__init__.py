"""lit-cli: Lightning's ``LightningCLI`` for lit, on jsonargparse.

``from lit_core.cli import LightningCLI`` (or ``from lit_cli import LightningCLI``)::

    LightningCLI(MyModel, MyDataModule)     # python train.py fit --config config.yaml

Installed, it also gives the ``lit`` command its ``fit`` / ``validate`` / ``test`` / ``predict``
subcommands: ``lit fit --config config.yaml`` runs the ``model.class_path`` the config names.
"""

__version__ = "0.1.0"

from .arguments import ArgsType, LRSchedulerCallable, OptimizerCallable, ReduceLROnPlateau, instantiate_class
from .cli import LightningCLI
from .parser import LightningArgumentParser
from .save_config import SaveConfigCallback

__all__ = ["ArgsType", "LRSchedulerCallable", "LightningArgumentParser", "LightningCLI", "OptimizerCallable",
           "ReduceLROnPlateau", "SaveConfigCallback", "__version__", "instantiate_class"]
