"""Lightning's ``demos.transformer`` path: ``Transformer``, ``WikiText2``, ... from the ``lit_core.demos`` group."""

from .. import namespace

namespace.install(globals(), groups=("lit_core.demos",), only=(
    "Dictionary", "LightningTransformer", "PositionalEncoding", "Transformer", "WikiText2", "tokenize"))
