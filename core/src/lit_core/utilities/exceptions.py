"""Lightning's ``utilities.exceptions`` path for ``MisconfigurationException``."""

from ..exceptions import MisconfigurationException

__all__ = ["MisconfigurationException"]
