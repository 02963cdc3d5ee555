"""Lightning's ``tuner.lr_finder`` path: ``_LRFinder``, the type ``Tuner.lr_find`` returns, from the ``lit_core.tuner`` group."""

from .. import namespace

namespace.install(globals(), groups=("lit_core.tuner",), only=("_LRFinder",))
