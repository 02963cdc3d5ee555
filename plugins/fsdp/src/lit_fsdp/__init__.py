"""lit-fsdp: fully sharded data parallel training on PyTorch FSDP2 (``torch.distributed.fsdp.fully_shard``).

Installed, ``lit.Trainer(strategy="fsdp", devices=N)`` trains in ``N`` processes per node, each holding
``1/N`` of the parameters, gradients and optimizer states; launched as lit-ddp launches (a plain
``python train.py``, ``torchrun``, SLURM). ``FSDPStrategy(state_dict_type="sharded")`` writes
checkpoints as folders of shards (``torch.distributed.checkpoint``); the default ``"full"`` writes lit's
usual file; ``consolidate(folder, file)`` turns a folder into such a file. See ``docs/fsdp.rst``.
"""

from .checkpoint import consolidate, is_sharded_checkpoint
from .strategy import FSDPStrategy

__version__ = "0.1.0"

__all__ = ["FSDPStrategy", "__version__", "consolidate", "is_sharded_checkpoint"]
