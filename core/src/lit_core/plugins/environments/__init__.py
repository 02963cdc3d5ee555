"""Lightning's ``lightning.pytorch.plugins.environments``: where a process sits in a job.

``ClusterEnvironment`` (the base class) is here: the Trainer recognises an instance in
``plugins=[...]`` and hands it to the strategy (``trainer.strategy.cluster_environment``). The
environments themselves come from the ``lit_core.plugins.environments`` entry-point group:
lit-ddp's ``LightningEnvironment``, ``SLURMEnvironment``, ``TorchElasticEnvironment`` and
``KubeflowEnvironment``, imported when first used.
"""

from ... import namespace
from .cluster_environment import ClusterEnvironment

__all__ = ["ClusterEnvironment"]

namespace.install(globals())
