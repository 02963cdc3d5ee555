"""Lightning's ``lightning.pytorch.callbacks``: the base classes here, the callbacks from plugins.

``Callback``, ``ProgressBar`` and ``Checkpoint`` are lit-core's. The callbacks themselves are
declared by their distributions in the ``lit_core.callbacks`` entry-point group and imported
when first used: ``ModelCheckpoint`` (lit-checkpoint), ``TQDMProgressBar`` (lit-tqdm),
``RichProgressBar`` / ``RichModelSummary`` (lit-rich), ``EarlyStopping``,
``LearningRateMonitor`` and Lightning's other built-in callbacks (lit-callbacks).
"""

from .. import namespace
from ..callback import Callback
from ..progress import ProgressBar
from .checkpoint import Checkpoint

__all__ = ["Callback", "Checkpoint", "ProgressBar"]

namespace.install(globals())
