"""Lightning's ``callbacks.progress`` path: ``ProgressBar`` here, the bars from the ``lit_core.callbacks`` group."""

from ... import namespace
from ...progress import ProgressBar

__all__ = ["ProgressBar"]

namespace.install(globals(), groups=("lit_core.callbacks",), only=("TQDMProgressBar", "RichProgressBar"))
