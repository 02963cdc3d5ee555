"""Lightning's ``callbacks.model_checkpoint`` path: ``ModelCheckpoint`` from the ``lit_core.callbacks`` group."""

from .. import namespace

namespace.install(globals(), groups=("lit_core.callbacks",), only=("ModelCheckpoint",))
