"""Kernel-side checkpoints: content, exact mid-epoch resume, load_from_checkpoint, bad files."""

from __future__ import annotations

import pickle
import random

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset

import lit_core as lit
from lit_core.exceptions import CheckpointError, MisconfigurationException, UnsafeCheckpointError

# ------------------------------------------------------------------------------------------
# A run that draws from every random source: shuffled order, a random augmentation in the
# dataset, dropout, Python's and numpy's generators in training_step, Adam and a scheduler.
# ------------------------------------------------------------------------------------------


class NoisyData(Dataset):
    """40 fixed samples; each fetch adds fresh noise from the global torch generator."""

    def __init__(self) -> None:
        g = torch.Generator().manual_seed(11)
        self.x = torch.randn(40, 6, generator=g)
        self.y = torch.randn(40, 1, generator=g)

    def __len__(self) -> int:
        return 40

    def __getitem__(self, i: int):
        return self.x[i] + 0.01 * torch.randn(6), self.y[i]


class Dropper(lit.LightningModule):
    def __init__(self, hidden: int = 16, lr: float = 0.01) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(6, hidden), nn.ReLU(), nn.Dropout(0.5), nn.Linear(hidden, 1))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        scale = 1.0 + 0.01 * random.random() + 0.01 * float(np.random.rand())
        return F.mse_loss(self(x), y) * scale

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
        return [optimizer], [torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)]

    def train_dataloader(self):
        return DataLoader(NoisyData(), batch_size=4, shuffle=True)


class Interrupt(Exception):
    pass


class SaveThenStop(lit.Callback):
    """Save a checkpoint after a given batch of a given epoch, then stop the run as a crash would."""

    def __init__(self, path, epoch: int, batch_idx: int) -> None:
        self.path, self.epoch, self.batch_idx = path, epoch, batch_idx

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.current_epoch == self.epoch and batch_idx == self.batch_idx:
            trainer.save_checkpoint(self.path)
            raise Interrupt


def quiet(tmp_root, **flags):
    return lit.Trainer(default_root_dir=tmp_root, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                       enable_model_summary=False, **flags)


def uninterrupted(tmp_root, epochs: int = 3) -> Dropper:
    lit.seed_everything(7)
    model = Dropper()
    quiet(tmp_root, max_epochs=epochs).fit(model)
    return model


@pytest.mark.parametrize(("epoch", "batch_idx"), [(1, 3), (0, 0), (1, 9)], ids=["mid-epoch", "first-batch", "last-batch"])
def test_mid_epoch_resume_is_bitwise_identical(tmp_root, epoch, batch_idx):
    whole = uninterrupted(tmp_root)

    lit.seed_everything(7)
    crashed = Dropper()
    with pytest.raises(Interrupt):
        quiet(tmp_root, max_epochs=3, callbacks=[SaveThenStop(tmp_root / "mid.ckpt", epoch, batch_idx)]).fit(crashed)

    random.seed(999), np.random.seed(999), torch.manual_seed(999)  # a new process starts elsewhere
    resumed = Dropper()
    trainer = quiet(tmp_root, max_epochs=3)
    trainer.fit(resumed, ckpt_path=tmp_root / "mid.ckpt")
    assert trainer.global_step == 30 and trainer.current_epoch == 3
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), f"{name} differs from the uninterrupted run"


def test_resume_batch_indices_continue(tmp_root):
    seen = []

    class Record(lit.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            seen.append((trainer.current_epoch, batch_idx, trainer.global_step))

    lit.seed_everything(7)
    with pytest.raises(Interrupt):
        quiet(tmp_root, max_epochs=2, callbacks=[SaveThenStop(tmp_root / "mid.ckpt", 0, 6)]).fit(Dropper())
    quiet(tmp_root, max_epochs=2, callbacks=[Record()]).fit(Dropper(), ckpt_path=tmp_root / "mid.ckpt")
    assert seen[:2] == [(0, 7, 7), (0, 8, 8)] and seen[3] == (1, 0, 10) and len(seen) == 13


def test_checkpoint_content_loads_with_weights_only(tmp_root):
    lit.seed_everything(7)
    trainer = quiet(tmp_root, max_epochs=1)
    trainer.fit(Dropper(hidden=8))
    trainer.save_checkpoint(tmp_root / "a.ckpt")
    checkpoint = torch.load(tmp_root / "a.ckpt", weights_only=True)
    assert {"state_dict", "optimizer_states", "lr_schedulers", "rng_states", "loops", "hyper_parameters", "lit_version",
            "epoch", "global_step"} <= set(checkpoint)
    assert checkpoint["hyper_parameters"] == {"hidden": 8, "lr": 0.01}
    assert set(checkpoint["rng_states"]) >= {"torch", "python", "numpy"}
    assert checkpoint["loops"]["epoch_rng"]["torch"].dtype == torch.uint8

    trainer.save_checkpoint(tmp_root / "w.ckpt", weights_only=True)
    weights = torch.load(tmp_root / "w.ckpt", weights_only=True)
    assert "optimizer_states" not in weights and "rng_states" not in weights
    with pytest.raises(MisconfigurationException, match=r"holds weights only .* cannot resume training"):
        quiet(tmp_root, max_epochs=2).fit(Dropper(hidden=8), ckpt_path=tmp_root / "w.ckpt")


def test_load_from_checkpoint_rebuilds_from_hyperparameters(tmp_root):
    lit.seed_everything(7)
    model = Dropper(hidden=8, lr=0.02)
    trainer = quiet(tmp_root, max_epochs=1)
    trainer.fit(model)
    trainer.save_checkpoint(tmp_root / "a.ckpt")

    loaded = Dropper.load_from_checkpoint(tmp_root / "a.ckpt")
    assert loaded.hparams == {"hidden": 8, "lr": 0.02} and loaded.net[0].out_features == 8
    for a, b in zip(model.state_dict().values(), loaded.state_dict().values()):
        assert b.device.type == "cpu", "loaded on the CPU unless map_location says otherwise, as in Lightning"
        assert torch.equal(a.cpu(), b)  # the trained model is on a GPU where one is visible (accelerator="auto")
    assert Dropper.load_from_checkpoint(str(tmp_root / "a.ckpt"), lr=0.5, map_location="cpu").hparams.lr == 0.5

    with pytest.raises(CheckpointError, match=r"(?s)does not fit Dropper: .*size mismatch") as info:
        Dropper.load_from_checkpoint(tmp_root / "a.ckpt", hidden=4)
    assert "hyperparameters it was saved with" in str(info.value)


def test_datamodule_load_from_checkpoint(tmp_root, boring_model):
    class Data(lit.LightningDataModule):
        def __init__(self, batch_size: int = 2) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.seen = 0

        def train_dataloader(self):
            return boring_model().train_dataloader()

        def state_dict(self):
            return {"seen": 5}

        def load_state_dict(self, state):
            self.seen = state["seen"]

    trainer = quiet(tmp_root, max_epochs=1)
    trainer.fit(boring_model(), datamodule=Data(batch_size=3))
    trainer.save_checkpoint(tmp_root / "dm.ckpt")
    data = Data.load_from_checkpoint(tmp_root / "dm.ckpt")
    assert data.hparams == {"batch_size": 3} and data.seen == 5
    assert Data.load_from_checkpoint(tmp_root / "dm.ckpt", batch_size=9).hparams.batch_size == 9


def test_checkpoint_of_another_model_lists_the_keys(tmp_root, boring_model):
    trainer = quiet(tmp_root, max_epochs=1)
    trainer.fit(boring_model())
    trainer.save_checkpoint(tmp_root / "boring.ckpt")
    with pytest.raises(CheckpointError, match=r"does not match Dropper: missing keys \[net.0.weight, .*\] \(4\), "
                                              r"unexpected keys \[layer.weight, layer.bias\] \(2\).*strict=False"):
        quiet(tmp_root, max_epochs=2).fit(Dropper(), ckpt_path=tmp_root / "boring.ckpt")
    with pytest.raises(CheckpointError, match=r"missing keys"):
        Dropper.load_from_checkpoint(tmp_root / "boring.ckpt")


def test_truncated_checkpoint_is_explained(tmp_root, boring_model):
    trainer = quiet(tmp_root, max_epochs=1)
    trainer.fit(boring_model())
    trainer.save_checkpoint(tmp_root / "whole.ckpt")
    data = (tmp_root / "whole.ckpt").read_bytes()
    (tmp_root / "cut.ckpt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"truncated or is not a torch checkpoint"):
        quiet(tmp_root, max_epochs=2).fit(boring_model(), ckpt_path=tmp_root / "cut.ckpt")
    torch.save({"weight": torch.ones(1)}, tmp_root / "bare.pt")
    with pytest.raises(CheckpointError, match=r"not a lit / Lightning checkpoint: it has no 'state_dict' \(found \['weight'\]\)"):
        quiet(tmp_root).test(boring_model(), ckpt_path=tmp_root / "bare.pt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        quiet(tmp_root).test(boring_model(), ckpt_path=tmp_root / "missing.ckpt")


ran = []


def _payload():
    ran.append("code ran")
    return {}


class Evil:
    def __reduce__(self):
        return (_payload, ())


def test_checkpoint_that_would_run_code_is_refused(tmp_root, boring_model):
    trainer = quiet(tmp_root, max_epochs=1)
    trainer.fit(boring_model())
    trainer.save_checkpoint(tmp_root / "good.ckpt")
    checkpoint = torch.load(tmp_root / "good.ckpt", weights_only=True)
    checkpoint["hyper_parameters"] = {"features": 4, "extra": Evil()}
    torch.save(checkpoint, tmp_root / "evil.ckpt")
    for load in (lambda: boring_model().load_from_checkpoint(tmp_root / "evil.ckpt"),
                 lambda: quiet(tmp_root).validate(boring_model(), ckpt_path=tmp_root / "evil.ckpt")):
        with pytest.raises(UnsafeCheckpointError, match=r"would run code when loaded \(Unsupported global: GLOBAL test_checkpointing._payload.*weights_only=True") as info:
            load()
        assert isinstance(info.value, pickle.UnpicklingError)
    assert ran == [], "the pickled code never ran"


def test_precision_plugin_state_is_saved_and_restored(tmp_root, boring_model):
    from lit_core.plugins import Precision

    class Scaled(Precision):
        """A precision plugin with state, as a loss scaler has."""

        name = "scaled-test"

        def __init__(self) -> None:
            self.scale = 1.0

        def state_dict(self):
            return {"scale": self.scale}

        def load_state_dict(self, state):
            self.scale = state["scale"]

    saving = Scaled()
    saving.scale = 512.0
    trainer = quiet(tmp_root, max_epochs=1, precision=saving)
    trainer.fit(boring_model())
    trainer.save_checkpoint(tmp_root / "p.ckpt")
    assert torch.load(tmp_root / "p.ckpt", weights_only=True)["precision"] == {"scale": 512.0}

    loading = Scaled()
    quiet(tmp_root, max_epochs=2, precision=loading).fit(boring_model(), ckpt_path=tmp_root / "p.ckpt")
    assert loading.scale == 512.0


def test_test_and_predict_load_ckpt_path(tmp_root, boring_model):
    trainer = quiet(tmp_root, max_epochs=1)
    trained = boring_model()
    trainer.fit(trained)
    trainer.save_checkpoint(tmp_root / "t.ckpt")
    expected = torch.cat(quiet(tmp_root).predict(trained))
    for run in (lambda m: quiet(tmp_root).test(m, ckpt_path=tmp_root / "t.ckpt", verbose=False),
                lambda m: quiet(tmp_root).predict(m, ckpt_path=str(tmp_root / "t.ckpt"))):
        fresh = boring_model()
        with torch.no_grad():
            fresh.layer.weight.zero_()
        run(fresh)
        assert torch.equal(fresh.layer.weight, trained.layer.weight)
    assert torch.equal(torch.cat(quiet(tmp_root).predict(fresh)), expected)
