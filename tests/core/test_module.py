"""LightningModule and LightningDataModule behave as Lightning users expect."""

from __future__ import annotations

import pytest
import torch
import yaml
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

import lit_core as lit


class LitMNIST(lit.LightningModule):
    """The seed's model."""

    def __init__(self):
        super().__init__()
        self.layer_1 = torch.nn.Linear(28 * 28, 128)
        self.layer_2 = torch.nn.Linear(128, 256)
        self.layer_3 = torch.nn.Linear(256, 10)

    def forward(self, x):
        batch_size, channels, width, height = x.size()
        x = x.view(batch_size, -1)
        x = F.relu(self.layer_1(x))
        x = F.relu(self.layer_2(x))
        return F.log_softmax(self.layer_3(x), dim=1)


def test_a_lightning_module_is_a_plain_nn_module():
    net = LitMNIST()
    assert net(torch.randn(1, 1, 28, 28)).shape == torch.Size([1, 10])
    assert isinstance(net, nn.Module) and net.device == torch.device("cpu") and net.dtype == torch.float32
    with pytest.raises(RuntimeError, match="not attached to a `Trainer`"):
        net.trainer


class WithHparams(lit.LightningModule):
    def __init__(self, lr: float = 0.01, layers: int = 2, net: nn.Module | None = None, **extra):
        super().__init__()
        self.save_hyperparameters(ignore="net")


class Child(WithHparams):
    def __init__(self, width: int = 8, lr: float = 0.5):
        super().__init__(lr=lr, layers=3)


def test_save_hyperparameters_forms():
    model = WithHparams(lr=0.1, net=nn.Linear(1, 1), dropout=0.2)
    assert model.hparams == {"lr": 0.1, "layers": 2, "dropout": 0.2}
    assert model.hparams.lr == 0.1
    assert Child().hparams == {"lr": 0.5, "layers": 3, "width": 8}

    class Named(lit.LightningModule):
        def __init__(self, a=1, b=2):
            super().__init__()
            self.save_hyperparameters("a")

    assert Named().hparams == {"a": 1}

    class FromDict(lit.LightningModule):
        def __init__(self, config):
            super().__init__()
            self.save_hyperparameters(config)

    assert FromDict({"x": 1}).hparams == {"x": 1}

    class Wrong(lit.LightningModule):
        def __init__(self, a=1):
            super().__init__()
            self.save_hyperparameters("b")

    with pytest.raises(ValueError, match=r"\['b'\] are not arguments of Wrong.__init__"):
        Wrong()


def test_hparams_reach_the_csv_logger(tmp_root, boring_model):
    class Model(boring_model):
        def __init__(self, lr=0.05, name="boring"):
            super().__init__()
            self.save_hyperparameters()

    trainer = lit.Trainer(max_epochs=1, default_root_dir=tmp_root, enable_model_summary=False)
    trainer.fit(Model())
    with open(f"{trainer.log_dir}/hparams.yaml") as f:
        assert yaml.safe_load(f) == {"lr": 0.05, "name": "boring"}


def test_model_summary_printed_at_fit_start(make_trainer, capsys):
    class Model(LitMNIST):
        def training_step(self, batch, batch_idx):
            return self(batch[0]).mean()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    data = DataLoader(TensorDataset(torch.randn(2, 1, 28, 28)), batch_size=2)
    make_trainer(enable_model_summary=True).fit(Model(), data)
    out = capsys.readouterr().out
    assert "0 | layer_1 | Linear | 100 K" in out
    assert "1 | layer_2 | Linear | 33.0 K" in out
    assert "2 | layer_3 | Linear | 2.6 K" in out
    assert "136 K     Trainable params" in out
    assert "0.544     Total estimated model params size (MB)" in out


def test_freeze_unfreeze_print(capsys):
    model = LitMNIST()
    model.freeze()
    assert not any(p.requires_grad for p in model.parameters()) and not model.training
    model.unfreeze()
    assert all(p.requires_grad for p in model.parameters()) and model.training
    model.print("hello", end="!")
    assert capsys.readouterr().out == "hello!"


def test_batch_transfer_hooks(make_trainer, boring_model):
    seen = []

    class Transfers(boring_model):
        def on_before_batch_transfer(self, batch, dataloader_idx):
            x, y = batch
            return x * 0 + 1, y

        def transfer_batch_to_device(self, batch, device, dataloader_idx):
            seen.append(str(device))
            return [t.to(device) for t in batch]

        def on_after_batch_transfer(self, batch, dataloader_idx):
            x, y = batch
            return x * 2, y

        def training_step(self, batch, batch_idx):
            seen.append(batch[0].unique().tolist())
            return super().training_step(batch, batch_idx)

    make_trainer(limit_train_batches=1, limit_val_batches=0).fit(Transfers())
    assert seen == ["cpu", [2.0]]


@pytest.mark.parametrize("style", ["seed", "seed_short", "v1", "modern"])
def test_backward_override_signatures(make_trainer, boring_model, style):
    calls = []

    class Seed(boring_model):
        def backward(self, use_amp, loss, optimizer, optimizer_idx):
            calls.append((use_amp, type(optimizer).__name__, optimizer_idx))
            loss.backward(retain_graph=True)

    class SeedShort(boring_model):
        def backward(self, use_amp, loss, optimizer):
            calls.append((use_amp, type(optimizer).__name__))
            loss.backward()

    class V1(boring_model):
        def backward(self, loss, optimizer, optimizer_idx, *args, **kwargs):
            calls.append((type(optimizer).__name__, optimizer_idx))
            loss.backward(*args, **kwargs)

    class Modern(boring_model):
        def backward(self, loss, *args, **kwargs):
            calls.append(args)
            loss.backward(*args, **kwargs)

    model = {"seed": Seed, "seed_short": SeedShort, "v1": V1, "modern": Modern}[style]()
    make_trainer(limit_train_batches=1, limit_val_batches=0).fit(model)
    assert calls == [{"seed": (False, "SGD", 0), "seed_short": (False, "SGD"), "v1": ("SGD", 0), "modern": ()}[style]]


def test_optimizer_step_and_zero_grad_overrides(make_trainer, boring_model):
    calls = []

    class Modern(boring_model):
        def optimizer_step(self, epoch, batch_idx, optimizer, optimizer_closure=None):
            calls.append(("step", epoch, batch_idx))
            optimizer.step(closure=optimizer_closure)

        def optimizer_zero_grad(self, epoch, batch_idx, optimizer):
            calls.append(("zero", batch_idx))
            optimizer.zero_grad(set_to_none=False)

    make_trainer(limit_train_batches=2, limit_val_batches=0).fit(Modern())
    assert calls == [("step", 0, 0), ("zero", 0), ("step", 0, 1), ("zero", 1)]

    class V1Names(boring_model):
        def optimizer_step(self, epoch, batch_idx, optimizer, optimizer_idx, optimizer_closure, on_tpu, using_native_amp, using_lbfgs):
            calls.append(("v1", optimizer_idx, on_tpu, using_lbfgs))
            optimizer.step(closure=optimizer_closure)

    calls.clear()
    make_trainer(limit_train_batches=1, limit_val_batches=0).fit(V1Names())
    assert calls == [("v1", 0, False, False)]

    class ForgetsClosure(boring_model):
        def optimizer_step(self, epoch, batch_idx, optimizer, optimizer_closure=None):
            optimizer.step()

    with pytest.raises(lit.trainer.MisconfigurationException, match="did not call the closure"):
        make_trainer(limit_val_batches=0).fit(ForgetsClosure())


def test_lbfgs_closure_is_reevaluated(make_trainer, boring_model):
    class WithLBFGS(boring_model):
        def configure_optimizers(self):
            return torch.optim.LBFGS(self.parameters(), max_iter=3)

    trainer = make_trainer(limit_val_batches=0)
    model = WithLBFGS()
    before = model.layer.weight.detach().clone()
    trainer.fit(model)
    assert not torch.equal(before, model.layer.weight) and trainer.global_step == 4


def test_torch_optimizers_step_after_the_closure_others_get_it(make_trainer, boring_model, monkeypatch):
    """torch's first-order optimizers run the closure first anyway: lit calls it, then ``step()``.
    A subclass, or an optimizer with step pre-hooks, gets ``step(closure)`` as before."""
    seen = []
    original = torch.optim.SGD.step

    def step(self, closure=None):
        seen.append((type(self).__name__, closure is not None, self.param_groups[0]["params"][0].grad is not None))
        return original(self, closure)

    monkeypatch.setattr(torch.optim.SGD, "step", step)

    class MySGD(torch.optim.SGD):
        pass

    def with_optimizer(make):
        class Model(boring_model):
            def configure_optimizers(self):
                return make(self.parameters())
        return Model()

    make_trainer(limit_train_batches=2, limit_val_batches=0).fit(with_optimizer(lambda p: torch.optim.SGD(p, lr=0.1)))
    assert seen == [("SGD", False, True)] * 2, "stepped without the closure, gradients already computed"
    seen.clear()
    make_trainer(limit_train_batches=2, limit_val_batches=0).fit(with_optimizer(lambda p: MySGD(p, lr=0.1)))
    assert seen == [("MySGD", True, False)] * 2, "a subclass may need the closure: it gets it"
    seen.clear()

    def hooked(params):
        optimizer = torch.optim.SGD(params, lr=0.1)
        optimizer.register_step_pre_hook(lambda opt, args, kwargs: None)
        return optimizer

    make_trainer(limit_train_batches=2, limit_val_batches=0).fit(with_optimizer(hooked))
    assert seen == [("SGD", True, False)] * 2, "step pre-hooks still run before the closure"


def test_configure_gradient_clipping_override(make_trainer, boring_model):
    calls = []

    class Clips(boring_model):
        def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None):
            calls.append((gradient_clip_val, gradient_clip_algorithm))
            self.clip_gradients(optimizer, gradient_clip_val=1e-6, gradient_clip_algorithm="value")
            assert self.layer.weight.grad.abs().max() <= 1e-6

    make_trainer(limit_train_batches=2, limit_val_batches=0, gradient_clip_val=0.5).fit(Clips())
    assert calls == [(0.5, "norm")] * 2


def test_on_train_batch_start_minus_one_ends_the_epoch(make_trainer, boring_model):
    class Stops(boring_model):
        def on_train_batch_start(self, batch, batch_idx):
            return -1 if batch_idx == 2 else None

    trainer = make_trainer(max_epochs=2, limit_val_batches=0)
    trainer.fit(Stops())
    assert trainer.global_step == 4 and trainer.current_epoch == 2


def test_setup_with_any_argument_name_and_teardown(make_trainer, boring_model):
    stages = []

    class SeedSetup(boring_model):
        def setup(self, step):  # the seed names it "step"
            stages.append(("setup", step))

        def teardown(self, stage=None):
            stages.append(("teardown", stage))

    trainer = make_trainer(limit_train_batches=1, limit_val_batches=0)
    model = SeedSetup()
    trainer.fit(model)
    trainer.test(model, verbose=False)
    assert stages == [("setup", "fit"), ("teardown", "fit"), ("setup", "test"), ("teardown", "test")]


def test_predict_returns_outputs(make_trainer, boring_model, random_loader):
    trainer = make_trainer()
    predictions = trainer.predict(boring_model())
    assert len(predictions) == 4 and predictions[0].shape == (2, 1)
    two = trainer.predict(boring_model(), [random_loader(), random_loader(n=4)])
    assert [len(p) for p in two] == [4, 2]
    assert trainer.predict(boring_model(), return_predictions=False) is None


def test_callbacks_seed_init_hooks_and_configure_callbacks(make_trainer, boring_model, capsys):
    class MyPrintingCallback(lit.Callback):
        def on_init_start(self, trainer):
            print("Starting to init trainer!")

        def on_init_end(self, trainer):
            print("Trainer is init now")

        def on_train_end(self, trainer, pl_module):
            print("do something when training ends")

    trainer = lit.Trainer(callbacks=[MyPrintingCallback()], logger=False, enable_model_summary=False, max_epochs=1)
    assert capsys.readouterr().out == "Starting to init trainer!\nTrainer is init now\n"

    order = []

    class Tag(lit.Callback):
        def __init__(self, tag):
            self.tag = tag

        def on_fit_start(self, trainer, pl_module):
            order.append(self.tag)

    class Other(Tag):
        pass

    class WithCallbacks(boring_model):
        def configure_callbacks(self):
            return [Other("model-other")]

        def on_fit_start(self):
            order.append("module")

    trainer = make_trainer(callbacks=[Tag("first"), Other("replaced"), Tag("second")], limit_train_batches=1, limit_val_batches=0)
    trainer.fit(WithCallbacks())
    assert order == ["first", "second", "model-other", "module"]


def test_manual_optimization_toggle_and_several_optimizers(make_trainer, boring_model):
    class GAN(boring_model):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False
            self.other = nn.Linear(4, 1)

        def training_step(self, batch, batch_idx):
            opt_a, opt_b = self.optimizers()
            self.toggle_optimizer(opt_a)
            assert not self.other.weight.requires_grad and self.layer.weight.requires_grad
            loss = self.loss(batch)
            self.manual_backward(loss)
            opt_a.step()
            opt_a.zero_grad()
            self.untoggle_optimizer(opt_a)
            assert self.other.weight.requires_grad
            loss_b = F.mse_loss(self.other(batch[0]), batch[1])
            self.manual_backward(loss_b)
            opt_b.step()
            opt_b.zero_grad()
            self.log("loss_b", loss_b)

        def configure_optimizers(self):
            return torch.optim.SGD(self.layer.parameters(), lr=0.1), torch.optim.SGD(self.other.parameters(), lr=0.1)

    trainer = make_trainer(limit_val_batches=0)
    trainer.fit(GAN())
    assert trainer.global_step == 8
    assert isinstance(trainer.lightning_module.optimizers(use_pl_optimizer=False)[0], torch.optim.SGD)


class DataModule(lit.LightningDataModule):
    def __init__(self, batch_size: int = 2):
        super().__init__()
        self.save_hyperparameters()
        self.calls: list[str] = []

    def prepare_data(self):
        self.calls.append("prepare_data")

    def setup(self, stage=None):
        self.calls.append(f"setup:{stage}")
        g = torch.Generator().manual_seed(0)
        self.data = TensorDataset(torch.randn(8, 4, generator=g), torch.randn(8, 1, generator=g))

    def train_dataloader(self):
        return DataLoader(self.data, batch_size=self.hparams.batch_size)

    def val_dataloader(self):
        return DataLoader(self.data, batch_size=4)

    def test_dataloader(self):
        return DataLoader(self.data, batch_size=8)

    def teardown(self, stage=None):
        self.calls.append(f"teardown:{stage}")


def test_datamodule_lifecycle(make_trainer, boring_model):
    dm = DataModule(batch_size=4)
    trainer = make_trainer(max_epochs=2)
    model = boring_model()
    trainer.fit(model, datamodule=dm)
    assert trainer.global_step == 4 and trainer.datamodule is dm and dm.trainer is trainer
    (result,) = trainer.test(datamodule=dm, verbose=False)
    assert "test_loss" in result
    assert dm.calls == ["prepare_data", "setup:fit", "teardown:fit", "prepare_data", "setup:test", "teardown:test"]
    assert dm.hparams == {"batch_size": 4}
    trainer.fit(model, dm)  # a datamodule as the second positional argument also works


def test_trainer_reads_hparams_of_datamodule_into_logger(tmp_root, boring_model):
    trainer = lit.Trainer(max_epochs=1, default_root_dir=tmp_root, enable_model_summary=False)
    trainer.fit(boring_model(), datamodule=DataModule(batch_size=4))
    with open(f"{trainer.log_dir}/hparams.yaml") as f:
        assert yaml.safe_load(f) == {"batch_size": 4}


def test_seed_everything_reproduces(make_trainer, boring_model):
    def weights():
        lit.seed_everything(42)
        model = boring_model()
        torch.nn.init.normal_(model.layer.weight)
        make_trainer(limit_val_batches=0).fit(model, DataLoader(TensorDataset(torch.randn(8, 4), torch.randn(8, 1)), batch_size=2, shuffle=True))
        return model.layer.weight.detach().clone()

    assert torch.equal(weights(), weights())
    assert lit.seed_everything(7) == 7
    with pytest.raises(ValueError, match="between 0 and"):
        lit.seed_everything(-1)


def test_rank_zero_only():
    calls = []

    @lit.rank_zero_only
    def record(x):
        calls.append(x)
        return x

    assert record(1) == 1
    lit.rank_zero_only.rank = 1
    try:
        assert record(2) is None
    finally:
        lit.rank_zero_only.rank = 0
    assert calls == [1]


def test_hparams_initial_keeps_every_call_and_is_a_snapshot():
    class TwoCalls(lit.LightningModule):
        def __init__(self, a=1, b=2, c=None):
            super().__init__()
            self.save_hyperparameters("a")
            self.save_hyperparameters("b", "c")

    model = TwoCalls(c=[1])
    model.hparams.c.append(2)
    assert model.hparams_initial == {"a": 1, "b": 2, "c": [1]}


def test_predict_restores_train_mode(make_trainer, boring_model):
    model = boring_model()
    assert model.training
    make_trainer().predict(model)
    assert model.training


def test_defaultdict_batches_keep_their_type():
    from collections import defaultdict

    from lit_core.apply import move_data_to_device

    batch = defaultdict(list, x=torch.ones(2))
    moved = move_data_to_device(batch, "cpu")
    assert isinstance(moved, defaultdict) and moved.default_factory is list and torch.equal(moved["x"], torch.ones(2))


def test_configure_gradient_clipping_1x_signature(make_trainer, boring_model):
    calls = []

    class V1Clipping(boring_model):
        def configure_gradient_clipping(self, optimizer, optimizer_idx, gradient_clip_val=None, gradient_clip_algorithm=None):
            calls.append((type(optimizer).__name__, optimizer_idx, gradient_clip_val, gradient_clip_algorithm))

    make_trainer(limit_train_batches=1, limit_val_batches=0, gradient_clip_val=0.5).fit(V1Clipping())
    assert calls == [("SGD", 0, 0.5, "norm")]


def test_optimizer_frequencies_alternate_optimizers(make_trainer, boring_model):
    used = []

    class Alternating(boring_model):
        def training_step(self, batch, batch_idx, optimizer_idx):
            used.append(optimizer_idx)
            return super().training_step(batch, batch_idx)

        def configure_optimizers(self):
            return [
                {"optimizer": torch.optim.SGD(self.parameters(), lr=0.1), "frequency": 1},
                {"optimizer": torch.optim.SGD(self.parameters(), lr=0.01), "frequency": 2},
            ]

    make_trainer(max_epochs=2, limit_val_batches=0).fit(Alternating())
    assert used == [0, 1, 1, 0, 1, 1, 0, 1]


class _Pair:
    """A batch type torch cannot move by itself (Lightning's docs' ``CustomBatch``)."""

    def __init__(self, rows):
        self.x = torch.stack([r[0] for r in rows])
        self.y = torch.stack([r[1] for r in rows])


class _PairData(lit.LightningDataModule):
    def __init__(self, log):
        super().__init__()
        self.log = log

    def train_dataloader(self):
        data = TensorDataset(torch.randn(8, 4), torch.randn(8, 1))
        return DataLoader(data, batch_size=4, collate_fn=_Pair)

    def on_before_batch_transfer(self, batch, dataloader_idx):
        self.log.append("datamodule before")
        batch.x = batch.x * 0 + 1
        return batch

    def transfer_batch_to_device(self, batch, device, dataloader_idx):
        self.log.append(f"datamodule transfer {device}")
        return batch.x.to(device), batch.y.to(device)

    def on_after_batch_transfer(self, batch, dataloader_idx):
        self.log.append("datamodule after")
        return batch[0] * 3, batch[1]


def test_a_datamodules_batch_transfer_hooks_run(make_trainer, boring_model):
    """As in Lightning: the batch-transfer hooks of ``DataHooks`` may live in the data module."""
    log = []

    class Model(boring_model):
        def training_step(self, batch, batch_idx):
            log.append(batch[0].unique().tolist())
            return self.layer(batch[0]).sum()

    make_trainer(limit_train_batches=1, limit_val_batches=0).fit(Model(), datamodule=_PairData(log))
    assert log == ["datamodule before", "datamodule transfer cpu", "datamodule after", [3.0]]


def test_batch_transfer_hooks_in_both_the_datamodules_run_with_a_warning(make_trainer, boring_model):
    log = []

    class Model(boring_model):
        def on_before_batch_transfer(self, batch, dataloader_idx):
            log.append("module before")
            return batch

        def transfer_batch_to_device(self, batch, device, dataloader_idx):
            log.append("module transfer")
            return batch

        def training_step(self, batch, batch_idx):
            return self.layer(batch[0]).sum()

    with pytest.warns(UserWarning, match="overridden in both Model .*_PairData.*the LightningDataModule's runs") as record:
        make_trainer(limit_train_batches=1, limit_val_batches=0).fit(Model(), datamodule=_PairData(log))
    assert len([w for w in record if "overridden in both" in str(w.message)]) == 2  # before and transfer; not after
    assert log == ["datamodule before", "datamodule transfer cpu", "datamodule after"]
