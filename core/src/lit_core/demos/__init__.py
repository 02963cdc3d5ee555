"""Lightning's ``lightning.pytorch.demos``, mirrored: models and datasets for examples, bug reports and tests.

Everything works offline: the datasets download real data when asked to and can write a
synthetic copy of the same shape when not (``download=False``).
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
]
