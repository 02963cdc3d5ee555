"""Every precision gives the per-step losses of a hand-written loop with the same torch calls (CPU).

``16-mixed`` runs here too, with an explicit ``torch.amp.GradScaler("cpu")`` and CPU float16
autocast: the scaler recipe (scale, unscale before clipping, step, update) is the one CUDA runs.
"""

from __future__ import annotations

import functools

import pytest
import torch

from lit_amp import FP16MixedPrecision

TRUE = {"bf16-true": torch.bfloat16, "16-true": torch.float16, "64-true": torch.float64}


def autocast(dtype: torch.dtype):
    return functools.partial(torch.autocast, "cpu", dtype=dtype)


def test_bf16_mixed_matches_autocast_loop(amp_kit, tmp_path):
    module = amp_kit.Recorder()
    amp_kit.fit(module, tmp_path, precision="bf16-mixed")
    expected, net = amp_kit.reference(forward=autocast(torch.bfloat16))
    assert module.losses == pytest.approx(expected, abs=1e-5)
    assert module.losses != pytest.approx(amp_kit.reference()[0], abs=1e-5), "autocast really changed the run"
    assert all(p.dtype == torch.float32 for p in module.parameters()), "mixed precision keeps float32 weights"
    assert all(torch.equal(a, b) for a, b in zip(module.net.parameters(), net.parameters()))


@pytest.mark.parametrize("precision", sorted(TRUE))
def test_true_precisions_match_converted_loop(amp_kit, tmp_path, precision):
    dtype = TRUE[precision]
    module = amp_kit.Recorder()
    amp_kit.fit(module, tmp_path, precision=precision)
    expected, net = amp_kit.reference(dtype=dtype, forward=functools.partial(amp_kit.default_dtype, dtype))
    assert module.losses == pytest.approx(expected, abs=1e-5)
    assert module.loss_dtypes == {dtype}
    assert all(p.dtype == dtype for p in module.parameters())
    assert all(torch.equal(a, b) for a, b in zip(module.net.parameters(), net.parameters()))
    assert torch.get_default_dtype() == torch.float32, "the default dtype is restored after every step"


def test_16_mixed_with_a_cpu_scaler_matches_gradscaler_loop(amp_kit, tmp_path):
    module = amp_kit.Recorder()
    plugin = FP16MixedPrecision(scaler=torch.amp.GradScaler("cpu", init_scale=2.0**12, growth_interval=3))
    amp_kit.fit(module, tmp_path, plugins=[plugin])
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**12, growth_interval=3)
    expected, net = amp_kit.reference(forward=autocast(torch.float16), scaler=scaler)
    assert module.losses == pytest.approx(expected, abs=1e-5)
    assert module.loss_dtypes == {torch.float32}, "cross_entropy runs in float32 under autocast"
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(module.net.parameters(), net.parameters()))
    assert plugin.scaler.get_scale() == scaler.get_scale() == 2.0**12 * 2**4, "12 clean steps: grown 4 times"


def test_bf16_mixed_with_accumulation_and_clipping(amp_kit, tmp_path):
    module = amp_kit.Recorder()
    trainer = amp_kit.fit(module, tmp_path, precision="bf16", accumulate_grad_batches=4, gradient_clip_val=0.05)
    expected, _ = amp_kit.reference(forward=autocast(torch.bfloat16), accumulate=4, clip=0.05)
    assert trainer.precision == "bf16-mixed"
    assert module.losses == pytest.approx(expected, abs=1e-5)
    assert module.losses != pytest.approx(amp_kit.reference(forward=autocast(torch.bfloat16), accumulate=4)[0], abs=1e-5)
    assert trainer.global_step == 4


def test_16_mixed_unscales_before_clipping_with_accumulation(amp_kit, tmp_path):
    """Clipping scaled gradients would clip nearly everything: the scaler must unscale first."""
    module = amp_kit.Recorder()
    plugin = FP16MixedPrecision(scaler=torch.amp.GradScaler("cpu", init_scale=2.0**10))
    amp_kit.fit(module, tmp_path, plugins=[plugin], accumulate_grad_batches=2, gradient_clip_val=0.05)
    expected, _ = amp_kit.reference(forward=autocast(torch.float16), scaler=torch.amp.GradScaler("cpu", init_scale=2.0**10),
                                    accumulate=2, clip=0.05)
    assert module.losses == pytest.approx(expected, abs=1e-5)
    unclipped, _ = amp_kit.reference(forward=autocast(torch.float16), scaler=torch.amp.GradScaler("cpu", init_scale=2.0**10), accumulate=2)
    assert module.losses != pytest.approx(unclipped, abs=1e-5), "clipping really changed the run"
