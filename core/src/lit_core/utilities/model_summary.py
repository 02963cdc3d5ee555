"""Lightning's ``utilities.model_summary`` path: the summary table, from the distribution that provides it.

``ModelSummary``, ``summarize``, ``get_human_readable_count`` ... are declared by lit-callbacks
in the ``lit_core.utilities.model_summary`` entry-point group and imported when first used;
lit-core itself prints no summary (``docs/decisions.rst``).
"""

from .. import namespace

namespace.install(globals())
