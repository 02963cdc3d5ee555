"""Step methods and ``optimizer_step`` called with the arguments their signatures accept (Lightning's rules)."""

from __future__ import annotations

import copy

import pytest
import torch
from torch.nn import functional as F


def test_steps_without_batch_idx(make_trainer, boring_model, random_loader):
    calls: list[str] = []

    class NoIdx(boring_model):
        def training_step(self, batch):
            calls.append("train")
            return self.loss(batch)

        def validation_step(self, batch):
            calls.append("val")
            self.log("val_loss", self.loss(batch))

        def test_step(self, batch):
            calls.append("test")

        def predict_step(self, batch):
            calls.append("predict")
            return self(batch[0])

    model = NoIdx()
    trainer = make_trainer(limit_train_batches=2, limit_val_batches=1, num_sanity_val_steps=0)
    trainer.fit(model)
    trainer.test(model, verbose=False)
    assert len(trainer.predict(model)) == 4
    assert calls == ["train", "train", "val", *["test"] * 4, *["predict"] * 4]


def test_manual_optimization_training_step_without_batch_idx(make_trainer, boring_model):
    steps = []

    class Manual(boring_model):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False

        def training_step(self, batch):
            opt = self.optimizers()
            opt.zero_grad()
            self.manual_backward(self.loss(batch))
            opt.step()
            steps.append(self.global_step)

    trainer = make_trainer(limit_train_batches=3, limit_val_batches=0)
    trainer.fit(Manual())
    assert steps == [1, 2, 3]


def test_step_with_var_args_gets_batch_idx(make_trainer, boring_model):
    seen = []

    class VarArgs(boring_model):
        def training_step(self, batch, *args):
            seen.append(args)
            return self.loss(batch)

    make_trainer(limit_train_batches=2, limit_val_batches=0).fit(VarArgs())
    assert seen == [(0,), (1,)]


def test_dataloader_idx_passed_only_with_several_loaders(make_trainer, boring_model, random_loader):
    seen = []

    class WithIdx(boring_model):
        def validation_step(self, batch, batch_idx, dataloader_idx=0):
            seen.append(dataloader_idx)

    trainer = make_trainer()
    trainer.validate(WithIdx(), [random_loader(n=2), random_loader(n=2)], verbose=False)
    trainer.validate(WithIdx(), random_loader(n=2), verbose=False)
    assert seen == [0, 1, 0]


def test_required_dataloader_idx_with_one_loader_is_lightnings_error(make_trainer, boring_model, random_loader):
    class NeedsIdx(boring_model):
        def test_step(self, batch, batch_idx, dataloader_idx):
            pass

    with pytest.raises(RuntimeError, match=r"only a single `test_dataloader`.*`dataloader_idx=0`"):
        make_trainer().test(NeedsIdx(), random_loader(n=2), verbose=False)


# -- optimizer_step overrides ------------------------------------------------------------------


def train_weights(model, make_trainer, **flags):
    make_trainer(limit_train_batches=4, limit_val_batches=0, **flags).fit(model)
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("form", ["var_args", "lightning_2", "lightning_1", "var_args_1x"])
def test_optimizer_step_override_forms(make_trainer, boring_model, form):
    """Every form receives the step's arguments; the override halves every other step's learning rate."""
    received = []

    def record(epoch, batch_idx, optimizer, closure):
        received.append((epoch, batch_idx, type(optimizer).__name__))
        for group in optimizer.param_groups:
            group["lr"] = 0.05 if batch_idx % 2 else 0.1
        optimizer.step(closure=closure)

    class VarArgs(boring_model):
        def optimizer_step(self, *args, **kwargs):
            record(*args[:3], args[3])

    class Lightning2(boring_model):
        def optimizer_step(self, epoch, batch_idx, optimizer, optimizer_closure):
            record(epoch, batch_idx, optimizer, optimizer_closure)

    class Lightning1(boring_model):
        def optimizer_step(self, epoch, batch_idx, optimizer, optimizer_idx, optimizer_closure, on_tpu=False,
                           using_native_amp=False, using_lbfgs=False):
            assert optimizer_idx == 0 and using_lbfgs is False
            record(epoch, batch_idx, optimizer, optimizer_closure)

    class VarArgs1x(boring_model):
        def optimizer_step(self, epoch, batch_idx, optimizer, optimizer_idx, *args, **kwargs):
            assert kwargs.keys() == {"on_tpu", "using_native_amp", "using_lbfgs"}
            record(epoch, batch_idx, optimizer, args[0])

    model = {"var_args": VarArgs, "lightning_2": Lightning2, "lightning_1": Lightning1, "var_args_1x": VarArgs1x}[form]()
    weights = train_weights(model, make_trainer)
    assert received == [(0, i, "SGD") for i in range(4)]

    # The same four steps by hand.
    reference = boring_model()
    opt = torch.optim.SGD(reference.parameters(), lr=0.1)
    for batch_idx, batch in enumerate(reference.train_dataloader()):
        opt.param_groups[0]["lr"] = 0.05 if batch_idx % 2 else 0.1
        opt.zero_grad()
        reference.loss(batch).backward()
        opt.step()
    assert all(torch.allclose(a, b) for a, b in zip(weights, reference.parameters()))


def test_manual_opt_step_does_not_go_through_an_optimizer_step_override(make_trainer, boring_model):
    """Lightning: in manual optimization ``opt.step()`` steps the optimizer; ``optimizer_step`` is not called."""
    n_updates = 3

    class PPOLike(boring_model):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False

        def training_step(self, batch, batch_idx):
            opt = self.optimizers()
            for _ in range(n_updates):
                loss = self.loss(batch)
                opt.zero_grad()
                self.manual_backward(loss)
                opt.step()

        def optimizer_step(self, *args, **kwargs):
            raise AssertionError("optimizer_step must not be called in manual optimization")

    model = PPOLike()
    initial = copy.deepcopy(model)
    weights = train_weights(model, make_trainer)
    opt = torch.optim.SGD(initial.parameters(), lr=0.1)
    for batch in initial.train_dataloader():
        for _ in range(n_updates):
            opt.zero_grad()
            F.mse_loss(initial(batch[0]), batch[1]).backward()
            opt.step()
    assert all(torch.allclose(a, b) for a, b in zip(weights, initial.parameters()))
    assert model.global_step == 4 * n_updates


def test_toggled_optimizer_and_the_1x_toggle_form(make_trainer, boring_model):
    seen = []

    class TwoParts(boring_model):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False
            self.other = torch.nn.Linear(4, 1)

        def training_step(self, batch):
            opt_a, opt_b = self.optimizers()
            with self.toggled_optimizer(opt_a):
                seen.append((self.layer.weight.requires_grad, self.other.weight.requires_grad))
            seen.append((self.layer.weight.requires_grad, self.other.weight.requires_grad))
            self.toggle_optimizer(opt_b, 1)  # Lightning 1.x's form
            seen.append((self.layer.weight.requires_grad, self.other.weight.requires_grad))
            self.untoggle_optimizer(1)

        def configure_optimizers(self):
            return torch.optim.SGD(self.layer.parameters(), lr=0.1), torch.optim.SGD(self.other.parameters(), lr=0.1)

    with pytest.warns(DeprecationWarning, match=r"toggle_optimizer\(optimizer, optimizer_idx\)"):
        make_trainer(limit_train_batches=1, limit_val_batches=0).fit(TwoParts())
    assert seen == [(True, False), (True, True), (False, True)]
