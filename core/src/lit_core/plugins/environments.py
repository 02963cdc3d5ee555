"""Lightning's ``lightning.pytorch.plugins.environments``, from the ``lit_core.plugins.environments`` group.

lit-ddp reads the cluster (torchrun, SLURM, its own launcher) from the environment by itself,
so no first-party distribution adds names here; ``docs/decisions.rst`` says what to use instead
of Lightning's environment classes. Third-party distributions may still add some.
"""

from .. import namespace

namespace.install(globals())
