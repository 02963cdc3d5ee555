"""lit-ddp: multi-process and multi-node training with ``DistributedDataParallel``.

Installed, ``lit.Trainer(strategy="ddp", devices=N)`` (or ``devices=N`` alone) trains in ``N``
processes per node, launched by lit from a plain ``python train.py``, or joining the processes
``torchrun`` / ``srun`` started. ``strategy="ddp_spawn"`` starts them with
``torch.multiprocessing``; ``"ddp_find_unused_parameters_true"`` tolerates parameters without
gradients. See ``docs/distributed.rst``.
"""

from .environment import ClusterEnvironment
from .launchers import ProcessFailedError
from .sampler import DistributedSamplerWrapper
from .strategy import DDPFindUnusedParametersStrategy, DDPSpawnStrategy, DDPStrategy

__version__ = "0.1.0"

__all__ = [
    "ClusterEnvironment",
    "DDPFindUnusedParametersStrategy",
    "DDPSpawnStrategy",
    "DDPStrategy",
    "DistributedSamplerWrapper",
    "ProcessFailedError",
    "__version__",
]
