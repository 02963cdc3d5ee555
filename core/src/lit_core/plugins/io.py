"""Lightning's ``lightning.pytorch.plugins.io``: checkpoint IO plugins, from the ``lit_core.plugins.io`` group.

lit-checkpoint provides ``CheckpointIO``, ``TorchCheckpointIO`` and ``AsyncCheckpointIO``.
"""

from .. import namespace

namespace.install(globals())
