"""lit-demos: Lightning's ``lightning.pytorch.demos`` for lit: models and datasets for examples, bug reports and tests.

``from lit_core.demos import BoringModel`` (Lightning's path, resolved lazily through the
``lit_core.demos`` entry-point group) or ``from lit_demos import BoringModel``. Everything works
offline: the datasets download real data when asked to and can write a synthetic copy of the
same shape when not (``download=False``).
"""

from .boring_classes import (
    BoringDataModule,
    BoringModel,
    DemoModel,
    ManualOptimBoringModel,
    Net,
    RandomDataset,
    RandomDictDataset,
    RandomIterableDataset,
    RandomIterableDatasetWithLen,
)
from .lstm import LightningLSTM, SequenceSampler, SimpleLSTM
from .mnist_datamodule import MNIST, MNISTDataModule
from .transformer import LightningTransformer, Transformer, WikiText2

__version__ = "0.1.0"

__all__ = [
    "MNIST",
    "BoringDataModule",
    "BoringModel",
    "DemoModel",
    "LightningLSTM",
    "LightningTransformer",
    "MNISTDataModule",
    "ManualOptimBoringModel",
    "Net",
    "RandomDataset",
    "RandomDictDataset",
    "RandomIterableDataset",
    "RandomIterableDatasetWithLen",
    "SequenceSampler",
    "SimpleLSTM",
    "Transformer",
    "WikiText2",
    "__version__",
]
