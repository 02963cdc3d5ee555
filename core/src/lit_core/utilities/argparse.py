"""Lightning's ``utilities.argparse`` path: the 1.x argparse helpers, from the ``lit_core.utilities.argparse`` group.

``from lit_core.utilities.argparse import add_argparse_args`` imports them from the distribution
that provides them (lit-compat), and says what to install when none does.
"""

from .. import namespace

namespace.install(globals())
