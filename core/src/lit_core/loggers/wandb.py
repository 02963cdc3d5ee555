"""Lightning's ``loggers.wandb`` path: ``WandbLogger`` from the ``lit_core.loggers`` group."""

from .. import namespace

namespace.install(globals(), groups=("lit_core.loggers",), only=("WandbLogger",))
