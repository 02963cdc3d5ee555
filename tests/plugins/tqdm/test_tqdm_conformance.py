"""TQDMProgressBar passes lit_core.testing's callback suite (but one check: see below)."""

from __future__ import annotations

import pytest

from lit_core.testing import CallbackConformance
from lit_tqdm import TQDMProgressBar


class TestTQDMProgressBar(CallbackConformance):
    plugin = TQDMProgressBar
    name = "tqdm"
    keep_installed = ("lit-tqdm",)

    def make_idle(self):
        return TQDMProgressBar(refresh_rate=0)  # disabled, as on every rank but global zero

    @pytest.mark.xfail(strict=True, reason="finding: lit_core.progress.ProgressBar implements lit_*_batch_end as class "
                       "hookimpls, so a disabled bar (refresh_rate=0, or any rank but zero) is still called every batch")
    def test_no_per_step_hook_when_idle(self, tmp_path):
        super().test_no_per_step_hook_when_idle(tmp_path)
