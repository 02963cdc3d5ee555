"""Model-construction and train/eval-mode hooks, as Lightning 2.6: configure_model, on_*_model_eval/train,
Trainer.init_module, Trainer.enable_validation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import lit_core as lit


def test_frozen_submodule_stays_in_eval_mode_through_fit_validation_and_predict(make_trainer, boring_model, random_loader):
    modes = []

    class FrozenNorm(boring_model):
        def __init__(self):
            super().__init__()
            self.norm = nn.BatchNorm1d(4)
            self.norm.eval()  # a frozen backbone part: its running statistics must not move

        def training_step(self, batch, batch_idx):
            modes.append(("train", self.training, self.norm.training))
            self.norm(batch[0])
            return super().training_step(batch, batch_idx)

        def validation_step(self, batch, batch_idx):
            modes.append(("val", self.training, self.norm.training))
            return super().validation_step(batch, batch_idx)

        def predict_step(self, batch, batch_idx, dataloader_idx=0):
            modes.append(("predict", self.training, self.norm.training))
            return super().predict_step(batch, batch_idx)

    model = FrozenNorm()
    before = model.norm.running_mean.clone()
    trainer = make_trainer(max_epochs=2, limit_train_batches=2, limit_val_batches=1, num_sanity_val_steps=1)
    trainer.fit(model, random_loader(), random_loader())
    assert set(modes) == {("val", False, False), ("train", True, False)}
    assert modes[0][0] == "val", "the sanity check ran first"
    assert torch.equal(model.norm.running_mean, before), "the eval-mode BatchNorm kept its statistics"
    trainer.predict(model, random_loader())
    assert modes[-1] == ("predict", False, False)
    assert model.training and not model.norm.training, "each submodule back in its own mode"


def test_overridden_model_eval_and_train_hooks_replace_the_default(make_trainer, boring_model, random_loader):
    calls = []

    class Custom(boring_model):
        def on_validation_model_eval(self):
            calls.append("val_eval")
            self.eval()
            self.layer.train()  # e.g. MC dropout: keep one part stochastic

        def on_validation_model_train(self):
            calls.append("val_train")
            self.train()

        def on_test_model_eval(self):
            calls.append("test_eval")
            super().on_test_model_eval()

        def on_test_model_train(self):
            calls.append("test_train")
            super().on_test_model_train()

        def on_predict_model_eval(self):
            calls.append("predict_eval")
            super().on_predict_model_eval()

        def validation_step(self, batch, batch_idx):
            calls.append(("val_step", self.training, self.layer.training))
            return super().validation_step(batch, batch_idx)

    model = Custom()
    trainer = make_trainer(limit_train_batches=1, limit_val_batches=1, num_sanity_val_steps=0)
    trainer.fit(model, random_loader(), random_loader())
    assert calls == ["val_eval", ("val_step", False, True), "val_train"]
    calls.clear()
    trainer.test(model, random_loader())
    trainer.predict(model, random_loader())
    assert calls == ["test_eval", "test_train", "predict_eval"]
    model.eval()
    trainer.test(model, random_loader())
    assert calls[-1] == "test_train" and model.training, "an overridden *_model_train decides the mode"


def test_configure_model_builds_layers_in_every_stage_after_setup(make_trainer, random_loader):
    order = []

    class Lazy(lit.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = None

        def setup(self, stage):
            order.append(("setup", stage))

        def configure_model(self):
            order.append(("configure_model", torch.get_default_dtype()))
            if self.net is None:  # idempotent, as Lightning asks
                self.net = nn.Linear(4, 1)

        def configure_optimizers(self):
            order.append(("configure_optimizers", sum(p.numel() for p in self.parameters())))
            return torch.optim.SGD(self.parameters(), lr=0.1)

        def training_step(self, batch, batch_idx):
            return self.net(batch[0]).pow(2).mean()

        def test_step(self, batch, batch_idx):
            self.log("out", self.net(batch[0]).mean())

    model = Lazy()
    trainer = make_trainer(max_steps=2)
    trainer.fit(model, random_loader())
    net = model.net
    trainer.test(model, random_loader())
    assert order == [("setup", "fit"), ("configure_model", torch.float32), ("configure_optimizers", 5),
                     ("setup", "test"), ("configure_model", torch.float32)]
    assert model.net is net


def test_configure_model_runs_under_the_precision_dtype(make_trainer, random_loader):
    dtypes = []

    class Lazy(lit.LightningModule):
        def configure_model(self):
            dtypes.append(torch.get_default_dtype())
            self.net = nn.Linear(4, 1)

        def predict_step(self, batch, batch_idx):
            return self.net(batch[0])

    model = Lazy()
    out = make_trainer(precision="64-true").predict(model, random_loader())
    assert dtypes == [torch.float64] and model.net.weight.dtype == torch.float64 and out[0].dtype == torch.float64
    assert torch.get_default_dtype() == torch.float32


def test_init_module(make_trainer):
    trainer = make_trainer(precision="64-true")
    with trainer.init_module():
        layer = nn.Linear(3, 3)
    assert layer.weight.dtype == torch.float64 and layer.weight.device.type == "cpu"
    assert torch.get_default_dtype() == torch.float32
    with make_trainer().init_module():
        plain = nn.Linear(3, 3)
    assert plain.weight.dtype == torch.float32

    torch.manual_seed(0)
    with make_trainer().init_module(empty_init=True):
        torch.manual_seed(0)
        skipped = nn.Linear(64, 64)
    torch.manual_seed(0)
    initialized = nn.Linear(64, 64)
    assert not torch.equal(skipped.weight, initialized.weight), "nn.init was skipped: the weights are not the seeded ones"
    with make_trainer().init_module(empty_init=False):
        torch.manual_seed(0)
        again = nn.Linear(64, 64)
    assert torch.equal(again.weight, initialized.weight)


@pytest.mark.parametrize(("flags", "val", "has_step", "expected"), [
    ({}, True, True, True),
    ({"limit_val_batches": 0}, True, True, False),
    ({}, False, True, False),
    ({}, True, False, False),
])
def test_enable_validation(make_trainer, boring_model, random_loader, flags, val, has_step, expected):
    seen = []

    class Model(boring_model):
        def on_train_start(self):
            seen.append(self.trainer.enable_validation)

    if not has_step:
        Model.validation_step = lit.LightningModule.validation_step
    Model.val_dataloader = lit.LightningModule.val_dataloader
    trainer = make_trainer(max_steps=1, num_sanity_val_steps=0, **flags)
    assert trainer.enable_validation is False, "no model yet"
    trainer.fit(Model(), random_loader(), random_loader() if val else None)
    assert seen == [expected]
