"""lit-amp's test kit: a small classifier, its data, and the hand-written loop lit must match.

``amp_kit`` gives the pieces as one namespace, since ``tests/`` is not a package: ``Recorder``
(a module recording each ``training_step`` loss), ``fit`` (lit), and ``reference`` (the plain
PyTorch loop with the same autocast / dtype / GradScaler calls written out), so each test states
a precision recipe once and compares per-step losses to 5 decimals.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

import lit_core as lit

SAMPLES = 48
BATCH = 8


def make_data() -> TensorDataset:
    g = torch.Generator().manual_seed(123)
    x = torch.randn(SAMPLES, 6, generator=g)
    return TensorDataset(x, (x.sum(dim=1) > 0).long())


def make_loader() -> DataLoader:
    return DataLoader(make_data(), batch_size=BATCH)


def make_net() -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 2))


def sgd(params: Any, lr: float = 0.3) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=lr, momentum=0.9)


class Recorder(lit.LightningModule):
    """Cross-entropy on ``make_net()``; records every ``training_step`` loss and its dtype."""

    def __init__(self) -> None:
        super().__init__()
        self.net = make_net()
        self.losses: list[float] = []
        self.loss_dtypes: set[torch.dtype] = set()

    def loss(self, batch: Any) -> torch.Tensor:
        x, y = batch
        loss = F.cross_entropy(self.net(x), y)
        self.losses.append(loss.item())
        self.loss_dtypes.add(loss.dtype)
        return loss

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self.loss(batch)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return sgd(self.parameters())


def fit(module: lit.LightningModule, root: Any, epochs: int = 2, ckpt_path: Any = None, **flags: Any) -> lit.Trainer:
    """``trainer.fit`` on ``make_loader()``, quiet: no logger, bar, checkpoints or summary.

    On the cpu accelerator unless ``flags`` say otherwise (on a GPU machine "auto" would pick cuda).
    """
    quiet = {"accelerator": "cpu", "logger": False, "enable_progress_bar": False, "enable_checkpointing": False,
             "enable_model_summary": False}
    trainer = lit.Trainer(max_epochs=epochs, default_root_dir=root, **{**quiet, **flags})
    trainer.fit(module, make_loader(), ckpt_path=ckpt_path)
    return trainer


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype) -> Any:
    saved = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(saved)


def reference(
    epochs: int = 2,
    *,
    forward: Callable[[], Any] = contextlib.nullcontext,
    dtype: torch.dtype | None = None,
    scaler: torch.amp.GradScaler | None = None,
    accumulate: int = 1,
    clip: float | None = None,
    device: str = "cpu",
    spoil: Callable[[nn.Module, int], None] | None = None,
) -> tuple[list[float], nn.Module]:
    """The plain PyTorch loop: per-step losses and the trained net.

    ``forward()`` is the context around the forward pass (``torch.autocast(...)``); ``dtype``
    converts the net and the input floats (``*-true``); ``scaler`` is the GradScaler recipe
    (scale, backward, unscale, clip, step, update); ``spoil(net, step)`` runs after each
    backward (to plant an inf gradient).
    """
    net = make_net().to(device)
    if dtype is not None:
        net.to(dtype=dtype)
    optimizer = sgd(net.parameters())
    loader = make_loader()
    losses: list[float] = []
    step = 0
    for _ in range(epochs):
        for i, (x, y) in enumerate(loader):
            x, y = x.to(device), y.to(device)
            if dtype is not None:
                x = x.to(dtype)
            with forward():
                loss = F.cross_entropy(net(x), y)
            losses.append(loss.item())
            if accumulate > 1:
                loss = loss / accumulate
            (scaler.scale(loss) if scaler is not None else loss).backward()
            if spoil is not None:
                spoil(net, step)
            step += 1
            if (i + 1) % accumulate and i + 1 != len(loader):
                continue
            if scaler is not None:
                scaler.unscale_(optimizer)
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
            if scaler is not None:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            optimizer.zero_grad()
    return losses, net


def weights(module: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in module.parameters()]


@pytest.fixture
def amp_kit() -> SimpleNamespace:
    """The pieces above: ``Recorder``, ``fit``, ``reference``, ``make_net``, ``make_loader``, ``sgd``, ``default_dtype``, ``weights``."""
    return SimpleNamespace(Recorder=Recorder, fit=fit, reference=reference, make_net=make_net, make_loader=make_loader,
                           sgd=sgd, default_dtype=default_dtype, weights=weights, BATCH=BATCH)
