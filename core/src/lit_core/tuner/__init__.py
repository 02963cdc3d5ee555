"""Lightning's ``lightning.pytorch.tuner``: ``Tuner`` comes from lit-callbacks (``lit_core.tuner`` group)."""

from .. import namespace

namespace.install(globals())
