"""What every accelerator, strategy and precision plugin shares: a name, and whether it can run here.

A plugin is any object with ``@lit.hookimpl`` methods. The bases built on this one
(``lit_core.accelerators.Accelerator``, ``lit_core.strategies.Strategy``,
``lit_core.plugins.Precision``) add what the ``Trainer`` needs to *choose* one. Third-party
plugins subclass them and register the class under the matching entry-point group (see
``docs/plugins.rst``).
"""

from __future__ import annotations

from typing import ClassVar


class _Plugin:
    #: The user-facing name; the entry-point name is used when this is empty.
    name: ClassVar[str] = ""

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """Why this plugin cannot run on this machine, or ``None`` when it can.

        Must be cheap: ``lit plugins`` and ``accelerator="auto"`` call it.
        """
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
