"""Lightning's ``utilities.enums`` names: ``LightningEnum`` and ``GradClipAlgorithmType``."""

from __future__ import annotations

from enum import Enum


class LightningEnum(str, Enum):
    """A string enum that compares equal to its value in any letter case (``"NORM" == GradClipAlgorithmType.NORM``)."""

    @classmethod
    def from_str(cls, value: str, source: str = "key") -> LightningEnum:
        """The member whose name (``source="key"``) or value (``"value"``, or ``"any"``: either) is ``value``."""
        for member in cls:
            if (source in ("key", "any") and member.name.lower() == value.lower()) or (
                source in ("value", "any") and member.value.lower() == value.lower()
            ):
                return member
        raise ValueError(f"{value!r} is not a {cls.__name__}: use one of {[m.value for m in cls]}.")

    def __eq__(self, other: object) -> bool:
        other = other.value if isinstance(other, Enum) else other
        return isinstance(other, str) and self.value.lower() == other.lower()

    def __hash__(self) -> int:
        return hash(self.value.lower())


class GradClipAlgorithmType(LightningEnum):
    """``Trainer(gradient_clip_algorithm=...)``: clip the gradients' norm or their values."""

    NORM = "norm"
    VALUE = "value"


__all__ = ["GradClipAlgorithmType", "LightningEnum"]
