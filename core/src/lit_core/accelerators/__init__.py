"""Lightning's ``lightning.pytorch.accelerators``: ``Accelerator`` here, the rest from plugins.

``CPUAccelerator`` (lit-core), ``CUDAAccelerator`` (lit-cuda) and ``XLAAccelerator`` (lit-xla)
are declared in the ``lit_core.accelerators`` entry-point group and imported when first used.
"""

from .. import namespace
from .accelerator import Accelerator

__all__ = ["Accelerator"]

namespace.install(globals())
