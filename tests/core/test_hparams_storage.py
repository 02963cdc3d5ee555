"""Hyperparameters that are not plain data: Lightning's warning, safe checkpoint storage, rebuilding the module."""

from __future__ import annotations

import dataclasses
import warnings
from argparse import Namespace

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import lit_core as lit
from lit_core.exceptions import CheckpointError


@dataclasses.dataclass
class OptimConfig:
    lr: float = 0.1
    betas: tuple = (0.9, 0.99)


class Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


class Composite(lit.LightningModule):
    """An nn.Module argument, a class, a function, a dataclass and a Namespace, as real programs pass them."""

    def __init__(self, encoder: nn.Module, activation: type = nn.ReLU, loss_fn=F.mse_loss,
                 config: OptimConfig | None = None, extra: Namespace | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.encoder = encoder
        self.head = nn.Sequential(activation(), nn.Linear(3, 1))
        self.loss_fn = loss_fn
        self.config = config or OptimConfig()

    def training_step(self, batch, batch_idx):
        x, y = batch
        return self.loss_fn(self.head(self.encoder(x)), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.config.lr)


def make_composite() -> Composite:
    return Composite(Encoder(), nn.Tanh, F.l1_loss, OptimConfig(lr=0.05), Namespace(depth=2, name="x"))


def test_module_hyperparameter_gets_lightnings_warning():
    with pytest.warns(UserWarning, match=r"Attribute 'encoder' is an instance of `nn.Module` and is already saved.*ignore=\['encoder'\]"):
        model = make_composite()
    assert isinstance(model.hparams.encoder, Encoder), "hparams keep the object itself, as in Lightning"
    with warnings.catch_warnings():
        warnings.simplefilter("error")

        class Ignoring(Composite):
            def __init__(self, encoder: nn.Module) -> None:
                lit.LightningModule.__init__(self)
                self.save_hyperparameters(ignore=["encoder"])

        assert Ignoring(Encoder()).hparams == {}


def test_checkpoint_stores_what_is_safe_and_rebuilds_the_module(make_trainer, random_loader, tmp_root):
    with pytest.warns(UserWarning, match="nn.Module"):
        model = make_composite()
    trainer = make_trainer(limit_train_batches=2)
    trainer.fit(model, random_loader())
    path = tmp_root / "composite.ckpt"
    trainer.save_checkpoint(path)

    raw = torch.load(path, weights_only=True)
    assert raw["hyper_parameters"] == {
        "activation": "torch.nn.modules.activation.Tanh", "loss_fn": "torch.nn.functional.l1_loss",
        "config": {"lr": 0.05, "betas": (0.9, 0.99)}, "extra": {"depth": 2, "name": "x"},
    }
    assert raw["hyper_parameters_encoding"]["encoder"] == "omitted"

    with pytest.raises(CheckpointError, match=r"left out \['encoder'\].*encoder=\.\.\."):
        Composite.load_from_checkpoint(path)
    with pytest.warns(UserWarning, match="nn.Module"):
        loaded = Composite.load_from_checkpoint(path, encoder=Encoder())
    assert isinstance(loaded.head[0], nn.Tanh) and loaded.loss_fn is F.l1_loss
    assert loaded.config == OptimConfig(lr=0.05) and loaded.hparams.extra == Namespace(depth=2, name="x")
    for a, b in zip(loaded.parameters(), model.parameters()):
        assert torch.equal(a, b)


def test_unstorable_object_is_warned_about_and_left_out(make_trainer, random_loader, tmp_root, boring_model):
    class Tokenizer:
        pass

    class WithObject(boring_model):
        def __init__(self, tokenizer=None, lr=0.1):
            super().__init__()
            self.save_hyperparameters()

    with pytest.warns(UserWarning, match="Hyperparameter 'tokenizer' is a Tokenizer.*ignore=\\['tokenizer'\\]"):
        model = WithObject(Tokenizer())
    trainer = make_trainer(limit_train_batches=1, limit_val_batches=0)
    trainer.fit(model)  # a checkpoint save mid-training cannot fail on it
    trainer.save_checkpoint(tmp_root / "w.ckpt")
    assert torch.load(tmp_root / "w.ckpt", weights_only=True)["hyper_parameters"] == {"lr": 0.1}
    assert WithObject.load_from_checkpoint(tmp_root / "w.ckpt").hparams == {"tokenizer": None, "lr": 0.1}


def test_reference_that_cannot_be_imported_names_the_fix(tmp_root):
    checkpoint = {"state_dict": {}, "hyper_parameters": {"activation": "no_such_package.Act"},
                  "hyper_parameters_encoding": {"activation": "import"}}
    torch.save(checkpoint, tmp_root / "ref.ckpt")
    with pytest.raises(CheckpointError, match=r"'activation' was saved as a reference to 'no_such_package.Act'.*activation=\.\.\."):
        Composite.load_from_checkpoint(tmp_root / "ref.ckpt")


def test_container_subclasses_are_stored_as_plain_containers(make_trainer, boring_model, tmp_root):
    import enum
    from collections import OrderedDict, namedtuple

    from lit_core.hparams import AttributeDict

    Pair = namedtuple("Pair", "a b")

    class Mode(enum.IntEnum):
        FAST = 1

    class Configured(boring_model):
        def __init__(self, opt=None, pair=None, schedule=None, mode=Mode.FAST):
            super().__init__()
            self.save_hyperparameters()

    with pytest.warns(UserWarning, match="'mode' is a Mode"):
        model = Configured(AttributeDict(lr=0.1, nested=AttributeDict(beta=0.9)), Pair(1, 2), OrderedDict(warmup=3))
    trainer = make_trainer(limit_train_batches=1, limit_val_batches=0)
    trainer.fit(model)
    trainer.save_checkpoint(tmp_root / "c.ckpt")
    stored = torch.load(tmp_root / "c.ckpt", weights_only=True)["hyper_parameters"]
    assert stored == {"opt": {"lr": 0.1, "nested": {"beta": 0.9}}, "pair": (1, 2), "schedule": {"warmup": 3}}
    with pytest.warns(UserWarning, match="'mode' is a Mode"):  # the default rebuilds it, and __init__ warns again
        loaded = Configured.load_from_checkpoint(tmp_root / "c.ckpt")
    assert loaded.hparams.opt == {"lr": 0.1, "nested": {"beta": 0.9}} and loaded.hparams.mode is Mode.FAST


@pytest.mark.parametrize("path", ["builtins.eval", "this.s", "lit_test_never_imported_module.Thing"])
def test_a_checkpoint_reference_never_imports_or_returns_code(path, tmp_root):
    """A checkpoint names import paths itself: none is imported (importing runs a module's code),
    and only classes and Python functions come back (not ``eval``): a checkpoint cannot run code."""
    import sys

    from lit_core.hparams import decode

    already = "this" in sys.modules
    checkpoint = {"hyper_parameters": {"fn": path}, "hyper_parameters_encoding": {"fn": "import"}}
    with pytest.raises(CheckpointError, match=r"load_from_checkpoint\(path, fn=\.\.\.\)"):
        decode(checkpoint, "hyper_parameters", {})
    assert ("this" in sys.modules) == already
    assert decode(checkpoint, "hyper_parameters", {"fn": print})[0] == {"fn": print}  # an override skips it
