"""Lightning's ``MixedPrecision(precision, ...)`` / ``HalfPrecision(precision)``: one class name
for two formats. Constructing the base picks lit-amp's class for the format asked for."""

from __future__ import annotations

from typing import Any


def class_for(cls: type, base: type, kinds: dict[str, type], precision: Any) -> type:
    """``cls`` itself for a subclass; for ``base``, the class of ``kinds`` that ``precision`` names."""
    if cls is not base:
        return cls
    if precision not in kinds:
        raise ValueError(f"{base.__name__}(precision={precision!r}): precision must be {' or '.join(map(repr, kinds))}.")
    return kinds[precision]
