"""Lightning's ``lightning.pytorch.cli``: ``cli_lightning_logo`` here, ``LightningCLI`` from a plugin.

``LightningCLI`` and its companions come from the ``lit_core.cli`` entry-point group (lit-cli
provides them, on jsonargparse; importing this module imports neither). The ``lit`` console
script is ``lit_core.commands``; its ``fit`` / ``validate`` / ``test`` / ``predict`` run ``LightningCLI``.
"""

from __future__ import annotations

from . import namespace

LOGO = r"""
 _ _ _
| (_) |_
| | | __|
| | | |_
|_|_|\__|
"""


def cli_lightning_logo() -> None:
    """Print lit's logo (Lightning's CLI prints its own at start-up)."""
    print(LOGO)


__all__ = ["cli_lightning_logo"]

namespace.install(globals())
