"""Lightning's ``loggers.mlflow`` path: ``MLFlowLogger`` from the ``lit_core.loggers`` group."""

from .. import namespace

namespace.install(globals(), groups=("lit_core.loggers",), only=("MLFlowLogger",))
