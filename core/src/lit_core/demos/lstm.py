"""Lightning's ``demos.lstm`` path: ``LightningLSTM``, ``SimpleLSTM``, ``SequenceSampler`` from the ``lit_core.demos`` group."""

from .. import namespace

namespace.install(globals(), groups=("lit_core.demos",), only=("LightningLSTM", "SequenceSampler", "SimpleLSTM"))
