"""Every foreseeable user mistake gets an error saying what was wrong and how to fix it."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, IterableDataset, TensorDataset

import lit_core as lit
from lit_core import registry
from lit_core.exceptions import MisconfigurationException, PluginError


class Model(lit.LightningModule):
    def __init__(self, step=None, optimizers=None):
        super().__init__()
        self.layer = torch.nn.Linear(3, 2)
        self._step = step
        self._optimizers = optimizers

    def training_step(self, batch, batch_idx):
        loss = F.cross_entropy(self.layer(batch[0]), batch[1])
        return self._step(self, loss) if self._step else loss

    def configure_optimizers(self):
        return self._optimizers(self) if self._optimizers else torch.optim.SGD(self.parameters(), lr=0.1)


def loader(n: int = 8, batch_size: int = 2) -> DataLoader:
    return DataLoader(TensorDataset(torch.randn(n, 3), torch.randint(0, 2, (n,))), batch_size=batch_size)


def fit(model, tmp_path, data=None, **flags) -> lit.Trainer:
    if not {"accelerator", "gpus", "tpu_cores"} & flags.keys():
        flags["accelerator"] = "cpu"  # the same test on a machine with a GPU (see conftest's make_trainer)
    trainer = lit.Trainer(max_epochs=1, default_root_dir=tmp_path, logger=False, enable_model_summary=False, **flags)
    trainer.fit(model, data if data is not None else loader())
    return trainer


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (lambda m, loss: loss.item(), r"training_step returned float; it must return the loss tensor, a dict with a 'loss' key, or None"),
        (lambda m, loss: "loss", r"training_step returned str"),
        (lambda m, loss: {"los": loss}, r"dict without a 'loss' key \(keys: \['los'\]\)"),
        (lambda m, loss: {"loss": 1.0}, r"loss is a float, not a tensor"),
        (lambda m, loss: loss.repeat(3), r"loss of shape \(3,\); it must be a scalar"),
        (lambda m, loss: loss.detach(), r"does not require grad: it was detached"),
    ],
)
def test_training_step_wrong_return(tmp_path, returned, message):
    with pytest.raises(MisconfigurationException, match=message):
        fit(Model(step=returned), tmp_path)


def test_training_step_may_return_none_to_skip(tmp_path):
    trainer = fit(Model(step=lambda m, loss: None), tmp_path)
    assert trainer.global_step == 4  # the optimizer still steps (with no gradients), as in Lightning


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (lambda m: None, r"configure_optimizers returned NoneType"),
        (lambda m: "adam", r"configure_optimizers returned str"),
        (lambda m: [1, 2], r"1 is not a torch.optim.Optimizer"),
        (lambda m: {"optimiser": torch.optim.SGD(m.parameters(), lr=0.1)}, r"has no 'optimizer' key"),
        (lambda m: {"optimizer": torch.optim.SGD(m.parameters(), lr=0.1), "lr_scheduler": {"sched": 1}}, r"has no 'scheduler' key"),
        (lambda m: [], r"configure_optimizers returned list"),
    ],
)
def test_configure_optimizers_garbage(tmp_path, returned, message):
    with pytest.raises(MisconfigurationException, match=message) as info:
        fit(Model(optimizers=returned), tmp_path)
    assert "Return an optimizer; a list or tuple of optimizers" in str(info.value)


def test_plateau_scheduler_needs_monitor(tmp_path):
    def plateau(m):
        opt = torch.optim.SGD(m.parameters(), lr=0.1)
        return [opt], [torch.optim.lr_scheduler.ReduceLROnPlateau(opt)]

    with pytest.raises(MisconfigurationException, match=r"ReduceLROnPlateau scheduler without a metric to monitor"):
        fit(Model(optimizers=plateau), tmp_path)


def test_plateau_monitor_not_logged(tmp_path):
    def plateau(m):
        opt = torch.optim.SGD(m.parameters(), lr=0.1)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": torch.optim.lr_scheduler.ReduceLROnPlateau(opt), "monitor": "val_loss"}}

    with pytest.raises(MisconfigurationException, match=r"monitors 'val_loss', which was not logged.*self.log\('val_loss'"):
        fit(Model(optimizers=plateau), tmp_path)


def nan_from_step(step):
    def at(m, loss):
        return loss * float("nan") if m.trainer.global_step >= step else loss

    return at


def test_nan_loss_stops_with_advice(tmp_path):
    # Read at each epoch's end and with the logging, not every step (a host read, a device sync off the CPU).
    model = Model(step=nan_from_step(2))
    with pytest.raises(FloatingPointError, match=(
        r"NaN or infinite \(found at epoch 0, global step 4: lit reads the latest loss at each epoch's end, so it "
        r"may have turned NaN earlier\)\. Lower the learning rate.*gradient_clip_val.*detect_anomaly=True"
    )):
        fit(model, tmp_path)  # logger=False


def test_nan_loss_found_with_the_logging(tmp_path):
    model = Model(step=nan_from_step(5))
    trainer = lit.Trainer(max_epochs=1, default_root_dir=tmp_path, accelerator="cpu", enable_model_summary=False,
                          enable_progress_bar=False, log_every_n_steps=3)
    with pytest.raises(FloatingPointError, match=(
        r"found at epoch 0, global step 6: lit reads the latest loss with the logging, every 3 optimizer steps "
        r"\(log_every_n_steps\), and at each epoch's end"
    )):
        trainer.fit(model, loader(n=40))


def test_nan_loss_with_detect_anomaly_stops_before_backward(tmp_path):
    model = Model(step=nan_from_step(2))
    with pytest.raises(FloatingPointError, match=r"NaN or infinite at epoch 0, global step 2\. .*gradient_clip_val"):
        fit(model, tmp_path, detect_anomaly=True)
    assert torch.isfinite(model.layer.weight).all()  # raised before the NaN reached the weights


def test_nan_loss_in_manual_optimization(tmp_path):
    class Manual(Model):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False

        def training_step(self, batch, batch_idx):
            optimizer = self.optimizers()
            loss = F.cross_entropy(self.layer(batch[0]), batch[1]) * float("nan")
            optimizer.zero_grad()
            self.manual_backward(loss)
            optimizer.step()
            return loss

    with pytest.raises(FloatingPointError, match=r"found at epoch 0, global step 4"):
        fit(Manual(), tmp_path)


def test_empty_dataloader(tmp_path):
    empty = DataLoader(TensorDataset(torch.randn(0, 3), torch.randint(0, 2, (0,))), batch_size=2)
    with pytest.raises(MisconfigurationException, match=r"train dataloader is empty \(len 0\).*batch_size / drop_last"):
        fit(Model(), tmp_path, data=empty)


def test_empty_iterable_dataloader(tmp_path):
    class Nothing(IterableDataset):
        def __iter__(self):
            return iter(())

    with pytest.raises(MisconfigurationException, match="yielded no batches"):
        fit(Model(), tmp_path, data=DataLoader(Nothing(), batch_size=2))


def test_drop_last_leaving_nothing(tmp_path):
    data = DataLoader(TensorDataset(torch.randn(3, 3), torch.randint(0, 2, (3,))), batch_size=4, drop_last=True)
    with pytest.raises(MisconfigurationException, match="is empty"):
        fit(Model(), tmp_path, data=data)


def test_no_training_data(tmp_path):
    trainer = lit.Trainer(default_root_dir=tmp_path, logger=False)
    with pytest.raises(MisconfigurationException, match="found no training data"):
        trainer.fit(Model())


def test_gpus_without_cuda_plugin(hide_distribution):
    hide_distribution("lit-cuda")
    with pytest.warns(DeprecationWarning, match=r"gpus=1\) is deprecated"), pytest.raises(PluginError, match=r"needs the lit-cuda plugin.*pip install lit-cuda"):
        lit.Trainer(gpus=1)


def test_tpu_cores_without_xla_plugin(hide_distribution):
    hide_distribution("lit-xla")
    with pytest.warns(DeprecationWarning, match="tpu_cores"), pytest.raises(PluginError, match=r"needs the lit-xla plugin.*pip install lit-xla"):
        lit.Trainer(tpu_cores=8)


def test_ddp_without_ddp_plugin(hide_distribution):
    hide_distribution("lit-ddp")
    with pytest.warns(DeprecationWarning, match=r"accelerator='ddp'\) is deprecated"), pytest.raises(PluginError, match=r"Unknown strategy 'ddp'.*pip install lit-ddp"):
        lit.Trainer(accelerator="ddp")


def test_several_devices_without_a_multiprocess_strategy(hide_distribution):
    hide_distribution("lit-ddp")
    with pytest.raises(PluginError, match=r"devices=2.*pip install lit-ddp"):
        lit.Trainer(accelerator="cpu", devices=2)


@pytest.mark.parametrize(("value", "message"), [("16-mixed", r"pip install lit-amp"), ("fp8", r"Valid values: .*32-true.*64-true"), (17, "Valid values")])
def test_unknown_or_missing_precision(value, message, monkeypatch):
    installed = registry.installed  # as with lit-core alone: lit-amp's entry points hidden
    monkeypatch.setattr(registry, "installed", lambda kind: {n: e for n, e in installed(kind).items() if e.distribution != "lit-amp"})
    with pytest.raises(PluginError, match=message):
        lit.Trainer(precision=value)


def test_not_a_lightning_module(tmp_path):
    with pytest.raises(MisconfigurationException, match=r"expects a lit_core.LightningModule, got Linear"):
        lit.Trainer(default_root_dir=tmp_path).fit(torch.nn.Linear(2, 2), loader())


def test_missing_training_step_and_optimizers(tmp_path):
    class NoStep(lit.LightningModule):
        def configure_optimizers(self):
            return None

    with pytest.raises(MisconfigurationException, match=r"needs NoStep.training_step\(self, batch, batch_idx\)"):
        lit.Trainer(default_root_dir=tmp_path, logger=False).fit(NoStep(), loader())

    class NoOptim(lit.LightningModule):
        def training_step(self, batch, batch_idx):
            return batch[0].sum()

    with pytest.raises(MisconfigurationException, match=r"needs NoOptim.configure_optimizers\(\)"):
        lit.Trainer(default_root_dir=tmp_path, logger=False).fit(NoOptim(), loader())


def test_test_without_test_step(tmp_path):
    with pytest.raises(MisconfigurationException, match=r"trainer.test\(\) needs Model.test_step"):
        lit.Trainer(default_root_dir=tmp_path, logger=False).test(Model(), loader())


def test_log_non_scalar(tmp_path):
    def logs_vector(m, loss):
        m.log("vec", torch.ones(3))
        return loss

    with pytest.raises(MisconfigurationException, match=r"self.log\('vec', value\) takes a scalar; got a tensor of shape \(3,\)"):
        fit(Model(step=logs_vector), tmp_path)


def test_log_wrong_type(tmp_path):
    def logs_string(m, loss):
        m.log("name", "text")
        return loss

    with pytest.raises(MisconfigurationException, match=r"takes a number or a scalar tensor; got str"):
        fit(Model(step=logs_string), tmp_path)


def test_log_without_trainer():
    with pytest.raises(RuntimeError, match="not attached to a Trainer"):
        Model().log("x", 1.0)


def test_log_outside_the_loops(tmp_path):
    class LogsInSetup(Model):
        def setup(self, stage):
            self.log("x", 1.0)

    with pytest.raises(MisconfigurationException, match=r"called outside the loops"):
        fit(LogsInSetup(), tmp_path)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"limit_train_batches": 0.01}, r"limit_train_batches=0.01 of 4 batches is less than one batch"),
        ({"limit_train_batches": 1.5}, r"limit_train_batches=1.5: use an int"),
        ({"val_check_interval": 10}, r"val_check_interval=10 is more than the 4 training batches"),
        ({"accumulate_grad_batches": 0}, r"accumulate_grad_batches=0 must be an int >= 1"),
        ({"gradient_clip_algorithm": "l2"}, r"gradient_clip_algorithm='l2': use 'norm' or 'value'"),
        ({"max_time": "1 hour"}, r"max_time='1 hour': use 'DD:HH:MM:SS'"),
        ({"devices": 0}, r"devices=0 is not valid"),
    ],
)
def test_bad_flags(tmp_path, flags, message):
    class WithVal(Model):
        def validation_step(self, batch, batch_idx):
            pass

    with pytest.raises(MisconfigurationException, match=message):
        trainer = lit.Trainer(max_epochs=1, default_root_dir=tmp_path, logger=False, **flags)
        trainer.fit(WithVal(), loader(), loader())


def test_barebones_rejects_features_and_logging(tmp_path):
    with pytest.raises(MisconfigurationException, match=r"barebones=True\) turns off"):
        lit.Trainer(barebones=True, enable_progress_bar=True)

    def logs(m, loss):
        m.log("x", loss)
        return loss

    with pytest.raises(MisconfigurationException, match=r"self.log\(\) is off with Trainer\(barebones=True\)"):
        fit(Model(step=logs), tmp_path, barebones=True)


def test_dataloaders_and_datamodule_together(tmp_path):
    with pytest.raises(MisconfigurationException, match="give dataloaders or a datamodule, not both"):
        lit.Trainer(default_root_dir=tmp_path).fit(Model(), loader(), datamodule=lit.LightningDataModule())


def test_exception_reaches_callbacks_and_is_reraised(tmp_path):
    seen = []

    class Watch(lit.Callback):
        def on_exception(self, trainer, pl_module, exception):
            seen.append((type(exception).__name__, trainer.state.status.value))

    def boom(m, loss):
        raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        fit(Model(step=boom), tmp_path, callbacks=[Watch()])
    assert seen == [("KeyError", "interrupted")]


def test_manual_optimization_with_accumulation_is_refused(tmp_path):
    class ManualModel(Model):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False

    with pytest.raises(MisconfigurationException, match="accumulate_grad_batches=2 works with automatic optimization only"):
        fit(ManualModel(), tmp_path, accumulate_grad_batches=2)


def test_limit_train_batches_zero_skips_training(tmp_path):
    model = Model()
    before = model.layer.weight.detach().clone()
    trainer = fit(model, tmp_path, limit_train_batches=0)
    assert trainer.global_step == 0 and torch.equal(before, model.layer.weight)


def test_barebones_skips_the_nan_check(tmp_path):
    trainer = fit(Model(step=lambda m, loss: loss * float("nan")), tmp_path, barebones=True, log_every_n_steps=1)
    assert trainer.global_step == 4  # documented: barebones turns the check off


def test_barebones_checks_nan_with_detect_anomaly(tmp_path):
    with pytest.raises(FloatingPointError, match=r"at epoch 0, global step 0\."):
        fit(Model(step=lambda m, loss: loss * float("nan")), tmp_path, barebones=True, detect_anomaly=True)


def test_plateau_monitor_given_next_to_a_bare_scheduler(tmp_path):
    # Lightning's documented form {"optimizer", "lr_scheduler": scheduler, "monitor"}: the dict's monitor is the scheduler's.
    def plateau(m):
        opt = torch.optim.SGD(m.parameters(), lr=0.1)
        return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.ReduceLROnPlateau(opt), "monitor": "val_loss"}

    with pytest.raises(MisconfigurationException, match=r"monitors 'val_loss', which was not logged"):
        fit(Model(optimizers=plateau), tmp_path)
