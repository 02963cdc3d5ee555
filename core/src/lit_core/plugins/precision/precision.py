"""``Precision``: the base class of precision plugins (entry-point group ``lit.precision``)."""

from __future__ import annotations

import contextlib
from typing import Any

from ...plugin_base import _Plugin


class Precision(_Plugin):
    """The numeric format of training (``lit.precision``)."""

    def state_dict(self) -> dict[str, Any]:
        """State to save in checkpoints (a loss scaler's scale, for instance), under ``"precision"``."""
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned, when training resumes from a checkpoint."""

    def tensor_init_context(self) -> contextlib.AbstractContextManager:
        """The context ``Trainer.init_module()`` and ``configure_model`` run in (a default dtype, for instance)."""
        return contextlib.nullcontext()
