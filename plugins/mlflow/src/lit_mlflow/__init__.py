"""lit-mlflow: Lightning's ``MLFlowLogger`` for lit.

``from lit_mlflow import MLFlowLogger``, or ``Trainer(logger="mlflow")`` (entry point ``mlflow``
in ``lit.loggers``). Importing this package does not import ``mlflow``: the client is imported
when a logger is built.
"""

from .logger import MLFlowLogger
from .sender import send_unsent

__version__ = "0.1.0"

__all__ = ["MLFlowLogger", "__version__", "send_unsent"]
