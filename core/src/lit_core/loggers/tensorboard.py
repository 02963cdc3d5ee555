"""Lightning's ``loggers.tensorboard`` path: ``TensorBoardLogger`` from the ``lit_core.loggers`` group."""

from .. import namespace

namespace.install(globals(), groups=("lit_core.loggers",), only=("TensorBoardLogger",))
