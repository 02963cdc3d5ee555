"""lit-profilers: Lightning's profilers for lit, built on lit's hook layer.

``Trainer(profiler="simple" | "advanced" | "pytorch" | "passthrough")`` or an instance; the
classes are also ``lit_core.profilers.SimpleProfiler`` and the rest (Lightning's import path).
A profiler is a plugin: it times every hook implementation, attributed to the plugin that ran
it, and the step's internals (``lit_profilers.observer``). docs/profiling.rst has the details.
"""

from .advanced import AdvancedProfiler
from .profiler import PassThroughProfiler, Profiler
from .pytorch import PyTorchProfiler
from .simple import SimpleProfiler

__version__ = "0.1.0"

__all__ = ["AdvancedProfiler", "PassThroughProfiler", "Profiler", "PyTorchProfiler", "SimpleProfiler"]
