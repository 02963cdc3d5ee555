"""The tuner on a real GPU: skipped without one (``tests/device_check.sh`` runs the ``gpu`` tests there).

The batch-size finder meets a real ``torch.cuda.OutOfMemoryError`` (each sample of a batch
allocates a fixed slice of GPU memory in the step), and the learning-rate finder puts the
weights and Adam's state back on the GPU.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

import lit_core as lit
from lit_callbacks import Tuner

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

GIB = 1 << 30


class MemoryHungry(lit.LightningModule):
    """Each sample of a batch takes ``per_sample`` bytes of GPU memory during the step."""

    def __init__(self, per_sample: int, batch_size: int = 2) -> None:
        super().__init__()
        self.per_sample = per_sample
        self.batch_size = batch_size
        self.layer = nn.Linear(4, 1)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        workspace = torch.empty(len(x) * self.per_sample, dtype=torch.uint8, device=self.device)
        workspace[::4096].fill_(1)  # touch it, as real activations would be
        return F.mse_loss(self.layer(x), y) + workspace[:1].float().sum() * 0

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=1e-3)

    def train_dataloader(self) -> DataLoader:
        g = torch.Generator().manual_seed(0)
        return DataLoader(TensorDataset(torch.randn(256, 4, generator=g), torch.randn(256, 1, generator=g)),
                          batch_size=self.batch_size)


def gpu_trainer(**flags: Any) -> lit.Trainer:
    defaults = dict(accelerator="cuda", devices=1, max_epochs=1, logger=False, enable_checkpointing=False,
                    enable_progress_bar=False, enable_model_summary=False)
    return lit.Trainer(**{**defaults, **flags})


@pytest.mark.parametrize("mode", ["power", "binsearch"])
def test_real_out_of_memory_bounds_the_batch_size(tmp_root: Any, mode: str) -> None:
    torch.cuda.empty_cache()
    free, _ = torch.cuda.mem_get_info()
    per_sample = max(free // 40, 1)  # about 40 samples fit
    model = MemoryHungry(per_sample)
    trainer = gpu_trainer()
    found = Tuner(trainer).scale_batch_size(model, mode=mode, steps_per_trial=1, max_trials=30)
    baseline = torch.cuda.memory_allocated()
    fits = free // per_sample
    assert found == model.batch_size
    assert found * per_sample < free
    if mode == "binsearch":
        assert found >= fits - 4  # the allocator's own blocks and the CUDA context take a little
    else:
        assert found in (16, 32)  # the largest power of two under about 40
    # Nothing of the failed trials stays allocated, and training at the size found runs.
    trainer.fit(model)
    assert trainer.global_step == -(-256 // found)
    assert torch.cuda.memory_allocated() <= baseline + 64 * 1024 * 1024


def test_lr_find_restores_gpu_state(tmp_root: Any) -> None:
    class Small(MemoryHungry):
        def __init__(self) -> None:
            super().__init__(per_sample=1024, batch_size=8)
            self.lr = 1e-3

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.Adam(self.parameters(), lr=self.lr)

    model = Small()
    trainer = gpu_trainer(max_epochs=2)
    finder = Tuner(trainer).lr_find(model, num_training=40)
    assert len(finder.results["lr"]) == 40 and model.lr == finder.suggestion()
    trainer.fit(model)
    assert model.layer.weight.device.type == "cuda"
    state = trainer.optimizers[0].state[model.layer.weight]
    assert state["exp_avg"].device.type == "cuda" and int(state["step"]) == trainer.global_step == 64
