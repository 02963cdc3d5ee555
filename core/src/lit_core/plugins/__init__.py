"""Lightning's ``lightning.pytorch.plugins``: precision and checkpoint-IO plugins.

``Precision`` is here; the other names come from the entry-point groups ``lit_core.plugins``,
``lit_core.plugins.precision`` and ``lit_core.plugins.io`` (lit-core's ``DoublePrecision``,
lit-amp's ``MixedPrecision``, lit-checkpoint's ``CheckpointIO`` ...), imported when first
used. ``plugins.environments`` and ``plugins.io`` are submodules, as in Lightning.

``Accelerator``, ``Strategy`` and ``SingleDeviceStrategy`` lived here before lit mirrored
Lightning's layout; they stay importable from here for plugins written then, but their homes
are ``lit_core.accelerators`` and ``lit_core.strategies``.
"""

from .. import namespace
from ..accelerators.accelerator import Accelerator  # noqa: F401  (pre-issue-13 home, kept for plugins)
from ..strategies.single_device import SingleDeviceStrategy  # noqa: F401  (idem)
from ..strategies.strategy import Strategy  # noqa: F401  (idem)
from .environments.cluster_environment import ClusterEnvironment  # noqa: F401  (imported here by Lightning too)
from .precision.precision import Precision

__all__ = ["Precision"]

namespace.install(globals(), groups=("lit_core.plugins", "lit_core.plugins.precision", "lit_core.plugins.io"))
