"""``SingleDeviceStrategy``: lit-core's default strategy (``strategy="single_device"``)."""

from __future__ import annotations

from .strategy import Strategy


class SingleDeviceStrategy(Strategy):
    """One process, one device: the base class's single-process collectives."""

    name = "single_device"
