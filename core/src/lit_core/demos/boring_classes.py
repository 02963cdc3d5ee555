"""Lightning's ``demos.boring_classes`` path: ``BoringModel`` and friends from the ``lit_core.demos`` group."""

from .. import namespace

namespace.install(globals(), groups=("lit_core.demos",), only=(
    "BoringDataModule", "BoringModel", "DemoModel", "ManualOptimBoringModel", "Net", "RandomDataset",
    "RandomDictDataset", "RandomIterableDataset", "RandomIterableDatasetWithLen"))
