"""Lightning's ``lightning.pytorch.demos``: the demo models and datasets come from a distribution.

``BoringModel``, ``MNISTDataModule``, ``Transformer`` and the rest are declared by lit-demos in
the ``lit_core.demos`` entry-point group and imported when first used; without it, importing
one is an ``ImportError`` that says what to install. Lightning's submodule paths
(``lit_core.demos.boring_classes``, ``.mnist_datamodule``, ``.transformer``, ``.lstm``) offer
their own names from the same group.
"""

from .. import namespace
from . import boring_classes as boring_classes  # Lightning's submodule paths (each resolves its names only when asked)
from . import lstm as lstm
from . import mnist_datamodule as mnist_datamodule
from . import transformer as transformer

namespace.install(globals())
