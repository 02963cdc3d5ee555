"""Lightning's ``lightning.pytorch.plugins.precision``: ``Precision`` here, the rest from plugins.

``DoublePrecision`` (lit-core), ``MixedPrecision`` and ``HalfPrecision`` (lit-amp) are declared in the
``lit_core.plugins.precision`` entry-point group and imported when first used.
"""

from ... import namespace
from .precision import Precision

__all__ = ["Precision"]

namespace.install(globals())
