"""Lightning's ``callbacks.lr_monitor`` path: ``LearningRateMonitor`` from the ``lit_core.callbacks`` group."""

from .. import namespace

namespace.install(globals(), groups=("lit_core.callbacks",), only=("LearningRateMonitor",))
