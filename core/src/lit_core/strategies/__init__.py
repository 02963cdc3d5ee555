"""Lightning's ``lightning.pytorch.strategies``: ``Strategy`` here, the rest from plugins.

``SingleDeviceStrategy`` (lit-core), ``DDPStrategy`` (lit-ddp) and ``XLAStrategy`` (lit-xla) are
declared in the ``lit_core.strategies`` entry-point group and imported when first used.
"""

from .. import namespace
from .strategy import Strategy

__all__ = ["Strategy"]

namespace.install(globals())
