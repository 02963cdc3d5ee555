"""Lightning's ``lightning.pytorch.profilers``, filled from the ``lit_core.profilers`` entry-point group.

lit-profilers provides ``Profiler``, ``SimpleProfiler``, ``AdvancedProfiler``, ``PyTorchProfiler``
and ``PassThroughProfiler`` (``pip install lit-profilers``; importing one without it says so).
``Trainer(profiler="simple")`` finds them by name in the ``lit.profilers`` group
(``lit_core.profiling``).
"""

from .. import namespace

namespace.install(globals())
