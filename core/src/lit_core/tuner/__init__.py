"""Lightning's ``lightning.pytorch.tuner``: ``Tuner`` comes from lit-callbacks (``lit_core.tuner`` group)."""

from .. import namespace
from . import lr_finder as lr_finder  # Lightning's submodule paths (each resolves its name only when asked)
from . import tuning as tuning

namespace.install(globals())
