"""Lightning's ``tuner.tuning`` path: ``Tuner`` from the ``lit_core.tuner`` group."""

from .. import namespace

namespace.install(globals(), groups=("lit_core.tuner",), only=("Tuner",))
