"""Lightning's ``lightning.pytorch.profilers``, filled from the ``lit_core.profilers`` entry-point group.

No distribution provides profilers yet: issue 17 brings ``SimpleProfiler``, ``AdvancedProfiler``,
``PyTorchProfiler`` and ``PassThroughProfiler`` (importing one now says so).
"""

from .. import namespace

namespace.install(globals())
