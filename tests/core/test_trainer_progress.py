"""Trainer and module properties Lightning programs read: progress, stepping estimates, status, devices."""

from __future__ import annotations

import pytest
import torch

import lit_core as lit


class ProgressReader(lit.Callback):
    """Reads the loop progress the way Lightning callbacks do."""

    def __init__(self) -> None:
        self.batch_reads: list[tuple[int, int, int]] = []
        self.epoch_reads: list[tuple[int, int]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        progress = trainer.fit_loop.epoch_loop.batch_progress.current
        self.batch_reads.append((batch_idx, progress.ready, progress.completed))

    def on_train_epoch_end(self, trainer, pl_module):
        fit_loop = trainer.fit_loop
        self.epoch_reads.append((fit_loop.epoch_progress.current.completed, fit_loop.epoch_loop._batches_that_stepped))


def test_fit_loop_progress_as_lightning_callbacks_read_it(make_trainer, boring_model):
    reader = ProgressReader()
    trainer = make_trainer(max_epochs=2, limit_train_batches=3, limit_val_batches=0, callbacks=[reader])
    assert trainer.fit_loop.max_epochs == 2
    trainer.fit(boring_model())
    # During on_train_batch_start of batch i: ready i + 1 (fetched), completed i (the batches before it).
    assert reader.batch_reads == [(i, i + 1, i) for i in range(3)] * 2
    assert reader.epoch_reads == [(0, 3), (1, 6)]
    assert trainer.fit_loop.epoch_progress.current.completed == 2 == trainer.current_epoch
    assert trainer.fit_loop.epoch_loop.global_step == 6


def test_fit_loop_max_epochs_can_be_raised_to_train_longer(make_trainer, boring_model):
    model = boring_model()
    trainer = make_trainer(max_epochs=1, limit_train_batches=2, limit_val_batches=0)
    trainer.fit(model)
    trainer.fit_loop.max_epochs = 2
    trainer.fit(model)
    assert trainer.current_epoch == 2 and trainer.global_step == 4


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({"max_epochs": 3}, 12),  # 4 batches a epoch
        ({"max_epochs": 3, "accumulate_grad_batches": 3}, 6),  # ceil(4 / 3) = 2 a epoch
        ({"max_epochs": 3, "limit_train_batches": 2}, 6),
        ({"max_epochs": 3, "max_steps": 5}, 5),
        ({"max_epochs": -1, "max_steps": 7}, 7),
    ],
)
def test_estimated_stepping_batches(make_trainer, boring_model, flags, expected):
    seen = []

    class Reads(boring_model):
        def configure_optimizers(self):
            seen.append(self.trainer.estimated_stepping_batches)  # where OneCycleLR users read it
            return super().configure_optimizers()

    trainer = make_trainer(limit_val_batches=0, **flags)
    trainer.fit(Reads())
    assert seen == [expected]
    assert trainer.estimated_stepping_batches == expected
    if "max_steps" not in flags:
        assert trainer.global_step == expected


def test_estimated_stepping_batches_manual_optimization_counts_batches(make_trainer, boring_model):
    class TwoOptimizers(boring_model):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False

        def training_step(self, batch):
            for opt in self.optimizers():
                opt.zero_grad()
                self.manual_backward(self.loss(batch))
                opt.step()

        def configure_optimizers(self):
            return [torch.optim.SGD(self.parameters(), lr=0.1), torch.optim.SGD(self.parameters(), lr=0.1)]

    trainer = make_trainer(max_epochs=2, limit_val_batches=0)
    trainer.fit(TwoOptimizers())
    assert trainer.estimated_stepping_batches == 8 and trainer.num_training_batches == 4


def test_interrupted_and_ckpt_path(make_trainer, boring_model, tmp_root):
    class Fails(boring_model):
        def training_step(self, batch, batch_idx):
            raise ValueError("boom")

    trainer = make_trainer(limit_val_batches=0)
    assert not trainer.interrupted and trainer.ckpt_path is None
    with pytest.raises(ValueError, match="boom"):
        trainer.fit(Fails())
    assert trainer.interrupted

    model = boring_model()
    trainer = make_trainer(limit_train_batches=2, limit_val_batches=0)
    trainer.fit(model)
    assert not trainer.interrupted and trainer.ckpt_path is None
    trainer.save_checkpoint(tmp_root / "a.ckpt")
    trainer = make_trainer(max_epochs=2, limit_train_batches=2, limit_val_batches=0)
    trainer.fit(model, ckpt_path=tmp_root / "a.ckpt")
    assert trainer.ckpt_path == str(tmp_root / "a.ckpt")
    trainer.test(model, verbose=False)
    assert trainer.ckpt_path is None

    # Lightning's setter: the next stage restores it.
    trainer.ckpt_path = tmp_root / "a.ckpt"
    trainer.fit(model)
    assert trainer.ckpt_path == str(tmp_root / "a.ckpt") and trainer.global_step == 4


def test_module_device_dtype_on_gpu(boring_model):
    model = boring_model()
    assert model.device == torch.device("cpu") and not model.on_gpu and model.dtype == torch.float32
    model.to(torch.float64)
    assert model.dtype == torch.float64
    with pytest.raises(RuntimeError, match=r"module.to\(new_dtype\)"):
        model.dtype = torch.float16


def test_lr_scheduler_configs_as_lightning_callbacks_read_them(make_trainer, boring_model):
    class Scheduled(boring_model):
        def configure_optimizers(self):
            opt = torch.optim.SGD(self.parameters(), lr=0.1)
            plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": plateau, "monitor": "val_loss", "name": "plateau"}}

    trainer = make_trainer(limit_train_batches=2, limit_val_batches=1)
    trainer.fit(Scheduled())
    (config,) = trainer.lr_scheduler_configs
    assert (config.interval, config.frequency, config.monitor, config.name) == ("epoch", 1, "val_loss", "plateau")
    assert config.reduce_on_plateau and config.scheduler.optimizer is trainer.optimizers[0]



def test_epoch_schedulers_step_after_the_last_batch_plateau_after_epoch_end(make_trainer, boring_model, random_loader):
    make_loader = random_loader
    """Lightning 2.6's order: a plain epoch scheduler has stepped by end-of-epoch validation and
    on_train_epoch_end (so a checkpoint saved there holds it); a plateau one steps after
    on_train_epoch_end (it reads what that logged); an epoch cut short by max_steps steps neither."""
    seen = []

    class Scheduled(boring_model):
        def configure_optimizers(self):
            opt = torch.optim.SGD(self.parameters(), lr=1.0)
            return [opt], [
                torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5),
                {"scheduler": torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.1), "monitor": "late"},
            ]

        def lr(self):
            return self.trainer.optimizers[0].param_groups[0]["lr"]

        def on_validation_epoch_end(self):
            seen.append(("val", self.lr()))

        def on_train_epoch_end(self):
            seen.append(("epoch_end", self.lr()))
            self.log("late", float(self.current_epoch))  # rises: no improvement from the second epoch on

    trainer = make_trainer(max_epochs=2, limit_train_batches=2, limit_val_batches=1, num_sanity_val_steps=0)
    trainer.fit(Scheduled(), make_loader(), make_loader())
    assert seen == [("val", 0.5), ("epoch_end", 0.5), ("val", 0.25), ("epoch_end", 0.25)]
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.025)

    cut = make_trainer(max_steps=3, limit_train_batches=4)
    cut.fit(Scheduled(), make_loader())
    assert cut.optimizers[0].param_groups[0]["lr"] == 1.0


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("method", ["script", "trace"])
def test_to_torchscript(make_trainer, boring_model, tmp_root, method):
    model = boring_model()
    model.example_input_array = torch.randn(3, 4)
    make_trainer(limit_train_batches=2, limit_val_batches=0).fit(model)
    path = tmp_root / f"{method}.pt"
    compiled = model.to_torchscript(path, method=method)
    loaded = torch.jit.load(path)
    x = torch.randn(5, 4)
    assert torch.allclose(loaded(x), model(x)) and torch.allclose(compiled(x), model(x))
    assert model.training, "the training mode is restored"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_to_torchscript_errors(boring_model):
    model = boring_model()
    assert model.to_torchscript()(torch.ones(1, 4)).shape == (1, 1), "no Trainer needed"
    with pytest.raises(RuntimeError, match="not attached to a `Trainer`"):
        _ = model.trainer  # the flag that allowed compiling is gone again
    with pytest.raises(ValueError, match=r"requires either `example_inputs` or `model\.example_input_array`"):
        boring_model().to_torchscript(method="trace")
    with pytest.raises(ValueError, match="only supports 'script' or 'trace'"):
        boring_model().to_torchscript(method="onnx")
