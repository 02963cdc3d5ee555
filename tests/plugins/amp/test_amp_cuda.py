"""``16-mixed`` on a CUDA GPU, by name, with the scaler lit makes: skipped without CUDA and lit-cuda.

Losses are compared to 1e-4 here (5 decimals on CPU): two runs on a GPU may pick different
kernels for the same float16 product.
"""

from __future__ import annotations

import functools

import pytest
import torch

from lit_core import registry

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
    pytest.mark.skipif("cuda" not in registry.installed("accelerator"), reason="needs lit-cuda (accelerator='cuda')"),
]

ON_GPU = {"accelerator": "cuda", "devices": 1, "precision": "16-mixed"}
cuda_autocast = functools.partial(torch.autocast, "cuda", dtype=torch.float16)


def test_16_mixed_matches_gradscaler_loop_on_cuda(amp_kit, tmp_path):
    module = amp_kit.Recorder()
    trainer = amp_kit.fit(module, tmp_path, **ON_GPU)
    scaler = torch.amp.GradScaler("cuda")
    expected, net = amp_kit.reference(forward=cuda_autocast, scaler=scaler, device="cuda")
    assert trainer.precision == "16-mixed" and trainer.precision_plugin.scaler.is_enabled()
    assert module.losses == pytest.approx(expected, abs=1e-4)
    assert module.loss_dtypes == {torch.float32}
    assert all(p.device.type == "cuda" and p.dtype == torch.float32 for p in module.parameters())
    assert trainer.precision_plugin.scaler.get_scale() == scaler.get_scale()
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(module.net.parameters(), net.parameters()))


def test_16_mixed_skips_inf_step_and_resumes_scaler_on_cuda(amp_kit, tmp_path):
    spoiled_step = 3

    class Watched(amp_kit.Recorder):
        def on_train_start(self):
            self.start_state = self.trainer.precision_plugin.scaler.state_dict()

    class Overflowing(Watched):
        """Plants an inf gradient after the backward pass of one step, as a float16 overflow would."""

        def __init__(self):
            super().__init__()
            self.steps, self.weights, self.scales = 0, [], []

        def on_before_backward(self, loss):
            self.scales.append(self.trainer.precision_plugin.scaler.get_scale())

        def on_after_backward(self):
            if self.steps == spoiled_step:
                self.net[0].weight.grad[0, 0] = float("inf")
            self.steps += 1

        def on_train_batch_end(self, outputs, batch, batch_idx):
            self.weights.append(amp_kit.weights(self))

    module = Overflowing()
    trainer = amp_kit.fit(module, tmp_path, epochs=1, **ON_GPU)
    init = 2.0**16  # torch.amp.GradScaler's default init_scale
    before, after = module.weights[spoiled_step - 1], module.weights[spoiled_step]
    assert all(torch.equal(a, b) for a, b in zip(before, after)), "the step with an inf gradient changed nothing"
    assert not torch.equal(module.weights[spoiled_step + 1][0], after[0]), "the next step trains again"
    assert module.scales[spoiled_step] == init and module.scales[spoiled_step + 1] == init / 2, "the scale halved"
    assert all(torch.isfinite(p).all() for p in module.parameters())

    ckpt = tmp_path / "cuda.ckpt"
    trainer.save_checkpoint(ckpt)
    saved = torch.load(ckpt, weights_only=True)["precision"]
    assert saved["scale"] == init / 2 and saved["_growth_tracker"] == 6 - spoiled_step - 1

    resumed = Watched()
    trainer2 = amp_kit.fit(resumed, tmp_path, epochs=2, ckpt_path=ckpt, **ON_GPU)
    assert resumed.start_state == saved, "the resumed run starts from the saved scaler, not a fresh one"
    assert trainer2.precision_plugin.scaler.get_scale() == init / 2
    assert trainer2.precision_plugin.scaler.state_dict()["_growth_tracker"] == saved["_growth_tracker"] + 6
