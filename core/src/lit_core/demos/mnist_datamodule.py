"""Lightning's ``demos.mnist_datamodule`` path: ``MNIST``, ``MNISTDataModule`` from the ``lit_core.demos`` group."""

from .. import namespace

namespace.install(globals(), groups=("lit_core.demos",), only=("MNIST", "MNISTDataModule"))
