"""Lightning's ``callbacks.callback`` path for ``Callback``."""

from ..callback import Callback

__all__ = ["Callback"]
