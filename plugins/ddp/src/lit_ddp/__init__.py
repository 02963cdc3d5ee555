"""lit-ddp: multi-process and multi-node training with ``DistributedDataParallel``.

Installed, ``lit.Trainer(strategy="ddp", devices=N)`` (or ``devices=N`` alone) trains in ``N``
processes per node, launched by lit from a plain ``python train.py``, or joining the processes
``torchrun`` / ``srun`` started. ``strategy="ddp_spawn"`` starts them with
``torch.multiprocessing``, ``"ddp_fork"`` / ``"ddp_notebook"`` forks them (from a notebook);
``"ddp_find_unused_parameters_true"`` tolerates parameters without
gradients. Lightning's cluster environments (``SLURMEnvironment``, ``TorchElasticEnvironment``,
``LightningEnvironment``, ``KubeflowEnvironment``) choose where the processes come from:
``Trainer(plugins=[SLURMEnvironment(auto_requeue=False)])``. See ``docs/distributed.rst``.
"""

from lit_core.plugin_api import ClusterEnvironment, DistributedSamplerWrapper

from .environment import KubeflowEnvironment, LightningEnvironment, SLURMEnvironment, TorchElasticEnvironment
from .launchers import ProcessFailedError
from .strategy import DDPFindUnusedParametersStrategy, DDPForkStrategy, DDPNotebookStrategy, DDPSpawnStrategy, DDPStrategy

__version__ = "0.1.0"

__all__ = [
    "ClusterEnvironment",
    "DDPFindUnusedParametersStrategy",
    "DDPForkStrategy",
    "DDPNotebookStrategy",
    "DDPSpawnStrategy",
    "DDPStrategy",
    "DistributedSamplerWrapper",
    "KubeflowEnvironment",
    "LightningEnvironment",
    "ProcessFailedError",
    "SLURMEnvironment",
    "TorchElasticEnvironment",
    "__version__",
]
