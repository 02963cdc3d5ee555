"""Lightning's ``callbacks.early_stopping`` path: ``EarlyStopping`` from the ``lit_core.callbacks`` group."""

from .. import namespace

namespace.install(globals(), groups=("lit_core.callbacks",), only=("EarlyStopping",))
