"""Each precision mistake gets an error that says what was wrong and what to do."""

from __future__ import annotations

import pytest
import torch

import lit_core as lit
from lit_amp import FP16MixedPrecision
from lit_core import registry
from lit_core.exceptions import MisconfigurationException, PluginError

AMP_NAMES = ("16-mixed", "bf16-mixed", "16-true", "bf16-true")


@pytest.fixture
def without_lit_amp(monkeypatch):
    """lit-amp's entry points hidden, as on a machine where only lit-core is installed."""
    installed = registry.installed
    monkeypatch.setattr(registry, "installed", lambda kind: {n: e for n, e in installed(kind).items() if e.distribution != "lit-amp"})


def test_lit_amp_registers_its_precisions():
    entries = registry.installed("precision")
    assert {name: entries[name].distribution for name in AMP_NAMES} == dict.fromkeys(AMP_NAMES, "lit-amp")
    assert entries["32-true"].distribution == entries["64-true"].distribution == "lit-core"


@pytest.mark.parametrize("value", [*AMP_NAMES, 16, "16", "bf16"])
def test_precision_from_lit_amp_without_it_says_pip_install(without_lit_amp, value):
    with pytest.raises(PluginError, match=r"is provided by lit-amp: `pip install lit-amp`"):
        lit.Trainer(precision=value)


def test_16_mixed_on_cpu_says_use_bf16_mixed():
    with pytest.raises(MisconfigurationException, match=r"precision='16-mixed' needs a CUDA GPU, and this Trainer runs on cpu\. "
                                                        r"On CPU use precision='bf16-mixed'"):
        lit.Trainer(precision="16-mixed", accelerator="cpu")


@pytest.mark.parametrize("value", ["fp8", "16-bit", 8, "bf16-mixd"])
def test_unknown_precision_lists_the_valid_ones(value):
    valid = "32-true, 64-true, 16-mixed, bf16-mixed, 16-true, bf16-true"
    with pytest.raises(PluginError, match=r"Valid values: ") as info:
        lit.Trainer(precision=value)
    listed = str(info.value).split("Valid values: ")[1]
    assert all(name in listed for name in valid.split(", ")), listed
    assert "aliases 16, 32, 64, 'bf16'" in listed


def test_16_mixed_with_overridden_optimizer_step_is_an_error(amp_kit, tmp_path):
    class Warmup(amp_kit.Recorder):
        def optimizer_step(self, epoch, batch_idx, optimizer, optimizer_closure=None):
            optimizer.step(closure=optimizer_closure)

    with pytest.raises(MisconfigurationException, match=r"Warmup\.optimizer_step \(overridden\) would bypass it"):
        amp_kit.fit(Warmup(), tmp_path, plugins=[FP16MixedPrecision(scaler=torch.amp.GradScaler("cpu"))])
    amp_kit.fit(Warmup(), tmp_path, epochs=1, precision="bf16-mixed")  # no scaler: fine


def test_16_mixed_with_lbfgs_is_an_error(amp_kit, tmp_path):
    class WithLBFGS(amp_kit.Recorder):
        def configure_optimizers(self):
            return torch.optim.LBFGS(self.parameters())

    with pytest.raises(MisconfigurationException, match="cannot step LBFGS"):
        amp_kit.fit(WithLBFGS(), tmp_path, plugins=[FP16MixedPrecision(scaler=torch.amp.GradScaler("cpu"))])
