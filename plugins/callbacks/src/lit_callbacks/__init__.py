"""lit-callbacks: Lightning's built-in callbacks and the tuner for lit.

Import them from Lightning's place, ``from lit_core.callbacks import EarlyStopping``, or from
here, ``from lit_callbacks import EarlyStopping``.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
