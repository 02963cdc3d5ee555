"""Lightning's ``lightning.pytorch.plugins.io``: checkpoint IO plugins, from the ``lit_core.plugins.io`` group.

lit-checkpoint provides ``CheckpointIO`` (the base a user subclasses), ``TorchCheckpointIO`` and
``AsyncCheckpointIO``: ``Trainer(plugins=[MyCheckpointIO()])`` saves, loads and removes through it.
"""

from .. import namespace

namespace.install(globals())
