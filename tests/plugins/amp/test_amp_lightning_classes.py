"""Lightning's precision plugin classes (``MixedPrecision``, ``HalfPrecision``) from ``lit_core.plugins``."""

from __future__ import annotations

import functools

import pytest
import torch

from lit_core import registry
from lit_core.exceptions import MisconfigurationException
from lit_core.plugins import HalfPrecision, MixedPrecision
from lit_core.plugins.precision import DoublePrecision

bf16_autocast = functools.partial(torch.autocast, "cpu", dtype=torch.bfloat16)


def test_mixed_precision_bf16_in_plugins_trains_under_cpu_autocast(amp_kit, tmp_path):
    module = amp_kit.Recorder()
    trainer = amp_kit.fit(module, tmp_path, plugins=[MixedPrecision("bf16-mixed", "cpu")])
    expected, net = amp_kit.reference(forward=bf16_autocast)
    assert trainer.precision == "bf16-mixed" and isinstance(trainer.precision_plugin, MixedPrecision)
    assert module.losses == pytest.approx(expected, abs=1e-5)
    assert all(p.dtype == torch.float32 for p in module.parameters())
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(module.net.parameters(), net.parameters()))


def test_mixed_precision_16_on_cpu_gets_a_cpu_scaler_as_in_lightning(amp_kit, tmp_path):
    plugin = MixedPrecision("16-mixed", "cpu")
    assert plugin.scaler is not None and plugin.scaler.is_enabled()
    module = amp_kit.Recorder()
    amp_kit.fit(module, tmp_path, epochs=1, plugins=[plugin])
    expected, _ = amp_kit.reference(epochs=1, forward=functools.partial(torch.autocast, "cpu", dtype=torch.float16),
                                    scaler=torch.amp.GradScaler("cpu"))
    assert module.losses == pytest.approx(expected, abs=1e-5)


def test_half_precision_bf16_true_converts_the_module(amp_kit, tmp_path):
    module = amp_kit.Recorder()
    trainer = amp_kit.fit(module, tmp_path, epochs=1, plugins=[HalfPrecision("bf16-true")])
    assert trainer.precision == "bf16-true" and isinstance(trainer.precision_plugin, HalfPrecision)
    assert module.loss_dtypes == {torch.bfloat16}
    assert all(p.dtype == torch.bfloat16 for p in module.parameters())
    assert HalfPrecision().name == "16-true"  # Lightning's default


def test_double_precision_is_lit_cores(amp_kit, tmp_path):
    module = amp_kit.Recorder()
    amp_kit.fit(module, tmp_path, epochs=1, plugins=[DoublePrecision()])
    assert module.loss_dtypes == {torch.float64}


def test_lightning_constructor_mistakes_are_errors():
    with pytest.raises(ValueError, match="'16-mixed' or 'bf16-mixed'"):
        MixedPrecision("32-true", "cpu")
    with pytest.raises(ValueError, match="'16-true' or 'bf16-true'"):
        HalfPrecision("16-mixed")
    with pytest.raises(MisconfigurationException, match="does not use a scaler"):
        MixedPrecision("bf16-mixed", "cpu", scaler=torch.amp.GradScaler("cpu"))


def test_mixed_precision_for_another_device_than_the_trainers_is_an_error(amp_kit, tmp_path):
    with pytest.raises(MisconfigurationException, match=r"device='cuda'.*runs on cpu"):
        amp_kit.fit(amp_kit.Recorder(), tmp_path, plugins=[MixedPrecision("bf16-mixed", "cuda")])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.skipif("cuda" not in registry.installed("accelerator"), reason="needs lit-cuda (accelerator='cuda')")
def test_mixed_precision_16_in_plugins_on_cuda(amp_kit, tmp_path):
    module = amp_kit.Recorder()
    trainer = amp_kit.fit(module, tmp_path, accelerator="cuda", devices=1, plugins=[MixedPrecision("16-mixed", "cuda")])
    expected, _ = amp_kit.reference(forward=functools.partial(torch.autocast, "cuda", dtype=torch.float16),
                                    scaler=torch.amp.GradScaler("cuda"), device="cuda")
    assert trainer.precision == "16-mixed" and trainer.precision_plugin.scaler.is_enabled()
    assert module.losses == pytest.approx(expected, abs=1e-4)
