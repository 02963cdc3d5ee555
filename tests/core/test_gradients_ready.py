"""``lit_gradients_ready``: the gradients the optimizer is about to apply (unscaled, clipped)."""

from __future__ import annotations

import torch

import lit_core as lit


def _norm(module):
    return torch.stack([p.grad.norm() for p in module.parameters() if p.grad is not None]).norm().item()


class Watcher:
    def __init__(self):
        self.seen = []

    @lit.hookimpl
    def lit_before_optimizer_step(self, module):
        self.seen.append(("before", _norm(module)))

    @lit.hookimpl
    def lit_gradients_ready(self, trainer, module, optimizer, optimizer_idx):
        self.seen.append(("ready", _norm(module), optimizer is trainer.optimizers[optimizer_idx], trainer.state.batch_idx))


def test_lit_gradients_ready(make_trainer, boring_model, random_loader):
    """It sees the clipped gradients, once per optimizer step (stepping batches only)."""
    watcher = Watcher()
    trainer = make_trainer(plugins=[watcher], gradient_clip_val=1e-3, accumulate_grad_batches=2, max_steps=2)
    trainer.fit(boring_model(), random_loader(n=8, batch_size=2))
    ready = [entry for entry in watcher.seen if entry[0] == "ready"]
    before = [entry for entry in watcher.seen if entry[0] == "before"]
    assert len(ready) == len(before) == 2  # stepping batches only (every second one)
    assert [entry[3] for entry in ready] == [1, 3]
    assert all(entry[2] for entry in ready)
    assert all(b[1] > 1e-3 for b in before)  # unclipped before
    assert all(abs(r[1] - 1e-3) < 1e-6 for r in ready)  # clipped when ready


def test_lit_gradients_ready_without_clipping_and_in_manual_optimization(make_trainer, boring_model, random_loader):
    class Manual(boring_model):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False

        def training_step(self, batch, batch_idx):
            opt = self.optimizers()
            opt.zero_grad()
            self.manual_backward(self.layer(batch[0]).sum())
            self.clip_gradients(opt, gradient_clip_val=1e-3, gradient_clip_algorithm="norm")
            opt.step()

    for model, flags in ((boring_model(), {}), (Manual(), {})):
        watcher = Watcher()
        make_trainer(plugins=[watcher], max_steps=2, **flags).fit(model, random_loader(n=8, batch_size=2))
        ready = [entry for entry in watcher.seen if entry[0] == "ready"]
        assert len(ready) == 2 and all(entry[2] for entry in ready)
    assert all(abs(entry[1] - 1e-3) < 1e-6 for entry in ready)  # the manual step's own clipping is final


def test_a_callback_implements_lit_gradients_ready(make_trainer, boring_model, random_loader):
    class GradNormMonitor(lit.Callback):
        def __init__(self):
            self.norms = []

        @lit.hookimpl
        def lit_gradients_ready(self, module):
            self.norms.append(_norm(module))

    monitor = GradNormMonitor()
    make_trainer(callbacks=[monitor], gradient_clip_val=1e-3, max_steps=3).fit(boring_model(), random_loader(n=8, batch_size=2))
    assert len(monitor.norms) == 3 and all(abs(n - 1e-3) < 1e-6 for n in monitor.norms)
