"""DDPStrategy passes lit_core.testing's strategy suite, launched for one process (gloo on the CPU)."""

from __future__ import annotations

from lit_core.testing import StrategyConformance
from lit_ddp import DDPStrategy


class TestDDPStrategy(StrategyConformance):
    plugin = DDPStrategy
    name = "ddp"
    keep_installed = ("lit-ddp",)
