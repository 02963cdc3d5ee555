"""Lightning's ``lightning.pytorch.utilities``, mirrored: ``from lit_core.utilities import ...``.

Names a distribution adds come from the ``lit_core.utilities`` entry-point group.
"""

from .. import namespace
from ..apply import move_data_to_device
from ..seed import seed_everything
from .combined_loader import CombinedLoader
from .enums import GradClipAlgorithmType, LightningEnum
from .grads import grad_norm
from .parsing import AttributeDict, is_picklable
from .rank_zero import rank_zero_deprecation, rank_zero_info, rank_zero_only, rank_zero_warn
from .workers import suggested_max_num_workers

__all__ = [
    "AttributeDict",
    "CombinedLoader",
    "GradClipAlgorithmType",
    "LightningEnum",
    "grad_norm",
    "is_picklable",
    "move_data_to_device",
    "rank_zero_deprecation",
    "rank_zero_info",
    "rank_zero_only",
    "rank_zero_warn",
    "seed_everything",
    "suggested_max_num_workers",
]

namespace.install(globals())
