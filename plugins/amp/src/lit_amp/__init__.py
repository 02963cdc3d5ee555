"""lit-amp: mixed and 16-bit precision for lit.

Installed, ``lit.Trainer(precision=...)`` accepts ``"16-mixed"`` (float16 autocast with a
``torch.amp.GradScaler``, CUDA), ``"bf16-mixed"`` (bfloat16 autocast, CPU or CUDA),
``"16-true"`` and ``"bf16-true"`` (the module and the inputs in that dtype), and the aliases
``16`` and ``"bf16"``. Lightning's plugin classes work too:
``Trainer(plugins=[MixedPrecision("bf16-mixed", "cpu")])``, ``HalfPrecision("16-true")``. Everything happens in lit's hooks; see ``docs/precision.rst``.
"""

from .mixed import BF16MixedPrecision, FP16MixedPrecision, MixedPrecision
from .true import BF16TruePrecision, FP16TruePrecision, HalfPrecision

__version__ = "0.1.0"

__all__ = [
    "BF16MixedPrecision",
    "BF16TruePrecision",
    "FP16MixedPrecision",
    "FP16TruePrecision",
    "HalfPrecision",
    "MixedPrecision",
    "__version__",
]
