"""lit-compat: Lightning 1.x's ``Trainer`` flags and argparse helpers for lit.

Installed, ``lit.Trainer(weights_summary="top", progress_bar_refresh_rate=0, ...)`` translates
each 1.x flag to today's, with a deprecation warning (``lit_compat.trainer_flags``), and
``Trainer.add_argparse_args`` / ``from_argparse_args`` / ``parse_argparser`` (and the
``LightningDataModule``'s) work as in Lightning 1.9 (``lit_compat.argparse``, also reachable as
Lightning's ``lit_core.utilities.argparse``). lit-core finds this package through the
``lightning_1x_flags`` role its metadata declares; without it those calls fail with an error
that says to install it, or how to write them today.

This module is the object the role names: lit-core calls ``init_with_legacy_flags`` and the
argparse helpers below by name.
"""

import sys
import warnings

from .argparse import add_argparse_args, default_attributes, from_argparse_args, get_init_arguments_and_types, parse_argparser
from .callbacks import GradNormLogger, WeightsSummary
from .trainer_flags import LEGACY_TRAINER_FLAGS, init_with_legacy_flags

# As lit-core does for its own: Python hides a DeprecationWarning not attributed to __main__, and
# these are attributed to this package's modules. Lightning shows its deprecation warnings; so
# does lit, once per message and place, unless the user chose with -W or PYTHONWARNINGS.
if not sys.warnoptions:
    warnings.filterwarnings("default", category=DeprecationWarning, module=r"lit_compat(\.|$)")

__version__ = "0.1.0"

__all__ = [
    "LEGACY_TRAINER_FLAGS",
    "GradNormLogger",
    "WeightsSummary",
    "__version__",
    "add_argparse_args",
    "default_attributes",
    "from_argparse_args",
    "get_init_arguments_and_types",
    "init_with_legacy_flags",
    "parse_argparser",
]
