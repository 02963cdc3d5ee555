"""Same seed, same per-step losses as a hand-written PyTorch loop (DESIGN.md §4), to 5 decimals."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

import lit_core as lit

STEPS_DATA = 48
BATCH = 8


def make_data() -> TensorDataset:
    g = torch.Generator().manual_seed(123)
    x = torch.randn(STEPS_DATA, 6, generator=g)
    y = (x.sum(dim=1) > 0).long()
    return TensorDataset(x, y)


def make_net() -> nn.Module:
    torch.manual_seed(7)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 2))


class Recorder(lit.LightningModule):
    """A module whose recipe is given by the test; records every training_step loss."""

    def __init__(self, optim_fn, step_fn=None):
        super().__init__()
        self.net = make_net()
        self.optim_fn = optim_fn
        self.step_fn = step_fn
        self.losses: list[float] = []

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self.net(x), y)
        self.losses.append(loss.item())
        return loss

    def configure_optimizers(self):
        return self.optim_fn(self)


def fit(module: lit.LightningModule, tmp_path, epochs: int = 2, **flags) -> lit.Trainer:
    trainer = lit.Trainer(max_epochs=epochs, default_root_dir=tmp_path, enable_model_summary=False, logger=False, **flags)
    trainer.fit(module, DataLoader(make_data(), batch_size=BATCH))
    return trainer


def reference(epochs: int, optimizer_fn, accumulate: int = 1, clip: float | None = None, scheduler_fn=None, interval: str = "epoch"):
    net = make_net()
    optimizer = optimizer_fn(net)
    scheduler = scheduler_fn(optimizer) if scheduler_fn else None
    losses = []
    loader = DataLoader(make_data(), batch_size=BATCH)
    n = len(loader)
    for _ in range(epochs):
        for i, (x, y) in enumerate(loader):
            loss = F.cross_entropy(net(x), y)
            losses.append(loss.item())
            (loss / accumulate).backward()
            if (i + 1) % accumulate == 0 or i + 1 == n:
                if clip is not None:
                    torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
                optimizer.step()
                optimizer.zero_grad()
                if scheduler is not None and interval == "step":
                    scheduler.step()
        if scheduler is not None and interval == "epoch":
            scheduler.step()
    return losses


def sgd(params_owner) -> torch.optim.Optimizer:
    return torch.optim.SGD(params_owner.parameters(), lr=0.3, momentum=0.9)


def test_single_optimizer_matches_plain_pytorch(tmp_path):
    module = Recorder(sgd)
    fit(module, tmp_path)
    assert module.losses == pytest.approx(reference(2, sgd), abs=1e-5)


def test_gradient_accumulation_matches(tmp_path):
    module = Recorder(sgd)
    trainer = fit(module, tmp_path, accumulate_grad_batches=4)
    assert module.losses == pytest.approx(reference(2, sgd, accumulate=4), abs=1e-5)
    assert trainer.global_step == 2 * 2  # 6 batches per epoch, 4 accumulated -> steps at 4 and at the epoch's end


def test_gradient_clipping_matches(tmp_path):
    module = Recorder(sgd)
    fit(module, tmp_path, gradient_clip_val=0.05)
    expected = reference(2, sgd, clip=0.05)
    assert module.losses == pytest.approx(expected, abs=1e-5)
    assert module.losses != pytest.approx(reference(2, sgd), abs=1e-5)  # clipping really changed the run


@pytest.mark.parametrize("interval", ["epoch", "step"])
def test_schedulers_match(tmp_path, interval):
    def with_scheduler(owner):
        opt = sgd(owner)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": interval}}

    module = Recorder(with_scheduler)
    fit(module, tmp_path, epochs=3)
    expected = reference(3, sgd, scheduler_fn=lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=1, gamma=0.5), interval=interval)
    assert module.losses == pytest.approx(expected, abs=1e-5)


def test_optimizers_and_schedulers_tuple_form(tmp_path):
    def tuple_form(owner):
        opt = sgd(owner)
        return [opt], [torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.7)]

    module = Recorder(tuple_form)
    fit(module, tmp_path, epochs=3)
    expected = reference(3, sgd, scheduler_fn=lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.7))
    assert module.losses == pytest.approx(expected, abs=1e-5)


class TwoOptimizers(lit.LightningModule):
    """The seed's GAN-like shape: training_step(batch, batch_idx, optimizer_idx), two optimizers."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.gen = nn.Linear(6, 6)
        self.disc = nn.Linear(6, 1)
        self.losses: list[tuple[int, float]] = []

    def training_step(self, batch, batch_idx, optimizer_idx):
        loss = two_optimizer_loss(self.gen, self.disc, batch[0], optimizer_idx)
        self.losses.append((optimizer_idx, loss.item()))
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.gen.parameters(), lr=0.1), torch.optim.Adam(self.disc.parameters(), lr=0.01)


def two_optimizer_loss(gen: nn.Module, disc: nn.Module, x: torch.Tensor, idx: int) -> torch.Tensor:
    fake = gen(x)
    if idx == 0:
        return -disc(fake).mean()
    return disc(fake).mean() - disc(x).mean()


def test_two_optimizers_match_plain_pytorch(tmp_path):
    module = TwoOptimizers()
    trainer = fit(module, tmp_path)

    torch.manual_seed(3)
    gen, disc = nn.Linear(6, 6), nn.Linear(6, 1)
    opts = [torch.optim.SGD(gen.parameters(), lr=0.1), torch.optim.Adam(disc.parameters(), lr=0.01)]
    owned = [list(gen.parameters()), list(disc.parameters())]
    expected = []
    for _ in range(2):
        for (x, _y) in DataLoader(make_data(), batch_size=BATCH):
            for idx, opt in enumerate(opts):
                # Lightning toggles: only the stepping optimizer's parameters get gradients.
                for j, params in enumerate(owned):
                    for p in params:
                        p.requires_grad_(j == idx)
                loss = two_optimizer_loss(gen, disc, x, idx)
                expected.append((idx, loss.item()))
                loss.backward()
                opt.step()
                opt.zero_grad()
            for params in owned:
                for p in params:
                    p.requires_grad_(True)
    assert [i for i, _ in module.losses] == [i for i, _ in expected]
    assert [v for _, v in module.losses] == pytest.approx([v for _, v in expected], abs=1e-5)
    assert trainer.global_step == 2 * 6 * 2  # optimizer steps, as in Lightning 2.x


class Manual(lit.LightningModule):
    def __init__(self):
        super().__init__()
        self.automatic_optimization = False
        self.net = make_net()
        self.losses: list[float] = []

    def training_step(self, batch, batch_idx):
        opt = self.optimizers()
        x, y = batch
        loss = F.cross_entropy(self.net(x), y)
        self.losses.append(loss.item())
        opt.zero_grad()
        self.manual_backward(loss)
        opt.step()
        sched = self.lr_schedulers()
        if self.trainer.is_last_batch:
            sched.step()
        return loss

    def configure_optimizers(self):
        opt = sgd(self)
        return [opt], [torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)]


def test_manual_optimization_matches(tmp_path):
    module = Manual()
    trainer = fit(module, tmp_path)
    expected = reference(2, sgd, scheduler_fn=lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=1, gamma=0.5))
    assert module.losses == pytest.approx(expected, abs=1e-5)
    assert trainer.global_step == 12  # opt.step() through the LightningOptimizer counts steps
