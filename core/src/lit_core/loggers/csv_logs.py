"""Lightning's ``loggers.csv_logs`` path: ``CSVLogger`` from the ``lit_core.loggers`` group."""

from .. import namespace

namespace.install(globals(), groups=("lit_core.loggers",), only=("CSVLogger",))
