"""TQDMProgressBar passes lit_core.testing's callback suite: a disabled bar (refresh_rate=0, or any rank but
global zero) adds nothing to the per-batch hooks."""

from __future__ import annotations

from lit_core.testing import CallbackConformance
from lit_tqdm import TQDMProgressBar


class TestTQDMProgressBar(CallbackConformance):
    plugin = TQDMProgressBar
    name = "tqdm"
    keep_installed = ("lit-tqdm",)

    def make_idle(self):
        return TQDMProgressBar(refresh_rate=0)  # disabled, as on every rank but global zero
