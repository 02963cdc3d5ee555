"""lit-xla: TPUs (and XLA's CPU backend) for lit, through torch_xla.

Installed, it provides the ``xla`` accelerator (alias ``tpu``) and the ``xla`` (one process per
device) and ``xla_spmd`` (one process, batches sharded over a device mesh) strategies.
``import lit_xla`` does not import torch_xla: that happens when a stage starts on XLA, with an
error naming the versions when torch_xla is missing or built for another torch.
"""

from .accelerator import XLAAccelerator
from .strategies import XLASPMDStrategy, XLAStrategy

__version__ = "0.1.0"

__all__ = ["XLAAccelerator", "XLASPMDStrategy", "XLAStrategy", "__version__"]
