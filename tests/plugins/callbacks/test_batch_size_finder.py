"""The batch-size finder: ``Tuner(trainer).scale_batch_size`` and the ``BatchSizeFinder`` callback.

On the CPU, running out of memory is simulated the way it shows on a GPU: a step raises
``RuntimeError("CUDA out of memory ...")`` when its batch is larger than the model's limit
(the message is what the finder recognises, as Lightning's does).
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

import lit_core as lit
from lit_callbacks import BatchSizeFinder, Tuner
from lit_callbacks.tuner.batch_size_finder import is_oom_error
from lit_core.exceptions import MisconfigurationException

N_SAMPLES = 64


def dataset(seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    return TensorDataset(torch.randn(N_SAMPLES, 4, generator=g), torch.randn(N_SAMPLES, 1, generator=g))


class OOMModel(lit.LightningModule):
    """Trains on ``self.batch_size`` batches; a batch over ``fits`` samples 'runs out of memory'."""

    def __init__(self, fits: int = 20, batch_size: int = 2) -> None:
        super().__init__()
        self.fits = fits
        self.batch_size = batch_size
        self.sizes_tried: list[int] = []
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.layer = nn.Linear(4, 1)

    def step(self, batch: Any) -> torch.Tensor:
        x, y = batch
        self.sizes_tried.append(len(x))
        if len(x) > self.fits:
            raise RuntimeError(f"CUDA out of memory. Tried to allocate {len(x) * 4} MiB (simulated)")
        return F.mse_loss(self.layer(x), y)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self.step(batch)

    def validation_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self.step(batch)

    def test_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self.step(batch)

    def predict_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        self.step(batch)
        return self.layer(batch[0])

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=0.01)

    def train_dataloader(self) -> DataLoader:
        return DataLoader(dataset(1), batch_size=self.batch_size)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(dataset(2), batch_size=self.batch_size)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(dataset(3), batch_size=self.batch_size)

    def predict_dataloader(self) -> DataLoader:
        return DataLoader(dataset(4), batch_size=self.batch_size)


@pytest.mark.parametrize(("mode", "fits", "expected"), [("power", 20, 16), ("binsearch", 20, 20), ("power", 5, 4),
                                                        ("binsearch", 5, 5), ("binsearch", 1, 1), ("power", 1000, 64)])
def test_finds_the_largest_size_that_fits(make_trainer: Any, mode: str, fits: int, expected: int) -> None:
    model = OOMModel(fits=fits)
    if expected == N_SAMPLES:  # doubling past the dataset: the size stops at the dataset's length
        with pytest.warns(UserWarning, match="greater or equal than the length of your dataset"):
            found = Tuner(make_trainer()).scale_batch_size(model, mode=mode)
    else:
        found = Tuner(make_trainer()).scale_batch_size(model, mode=mode)
    assert found == expected == model.batch_size


def test_binsearch_tries_as_lightning_does(make_trainer: Any) -> None:
    model = OOMModel(fits=20)
    Tuner(make_trainer()).scale_batch_size(model, mode="binsearch", steps_per_trial=1)
    tried = model.sizes_tried
    # training batch then validation batch per trial (steps_per_trial=1); an OOM stops the trial at its first batch
    firsts = [tried[0]] + [b for a, b in itertools.pairwise(tried) if a != b]
    assert firsts == [2, 4, 8, 16, 32, 24, 20, 22, 21]


def test_max_trials_keeps_the_last_size_that_fitted(make_trainer: Any) -> None:
    model = OOMModel(fits=1000)
    assert Tuner(make_trainer()).scale_batch_size(model, max_trials=3, init_val=2) == 8


def test_state_is_restored_and_fit_uses_the_new_size(make_trainer: Any) -> None:
    model = OOMModel(fits=20)
    trainer = make_trainer(max_epochs=1)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    Tuner(trainer).scale_batch_size(model, mode="power")
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    assert trainer.global_step == 0 and trainer.current_epoch == 0 and trainer.callbacks == []
    trainer.fit(model)
    assert trainer.num_training_batches == N_SAMPLES // 16
    assert trainer.global_step == N_SAMPLES // 16

    plain = OOMModel(fits=20, batch_size=16)
    make_trainer(max_epochs=1).fit(plain)
    for a, b in zip(model.parameters(), plain.parameters()):
        assert torch.equal(a, b)


class SizedData(lit.LightningDataModule):
    def __init__(self, batch_size: int = 2) -> None:
        super().__init__()
        self.batch_size = batch_size

    def train_dataloader(self) -> DataLoader:
        return DataLoader(dataset(1), batch_size=self.batch_size)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(dataset(2), batch_size=self.batch_size)


def test_updates_the_datamodule_and_hparams(make_trainer: Any) -> None:
    class NoSize(OOMModel):
        def __init__(self) -> None:
            super().__init__(fits=8)
            del self.batch_size

    data = SizedData()
    model = NoSize()
    assert Tuner(make_trainer()).scale_batch_size(model, datamodule=data) == 8
    assert data.batch_size == 8

    class HparamsSize(NoSize):
        def __init__(self, batch_size: int = 2) -> None:
            super().__init__()
            self.save_hyperparameters()

        def train_dataloader(self) -> DataLoader:
            return DataLoader(dataset(1), batch_size=self.hparams.batch_size)

        def val_dataloader(self) -> DataLoader:
            return DataLoader(dataset(2), batch_size=self.hparams.batch_size)

    model = HparamsSize()
    assert Tuner(make_trainer()).scale_batch_size(model, mode="binsearch") == 8 == model.hparams.batch_size


@pytest.mark.parametrize("method", ["validate", "test", "predict"])
def test_evaluation_stages(make_trainer: Any, method: str) -> None:
    model = OOMModel(fits=12)
    assert Tuner(make_trainer()).scale_batch_size(model, method=method, mode="binsearch") == 12 == model.batch_size
    assert model.sizes_tried  # the stage's own step ran the trials


def test_callback_form_searches_then_trains(make_trainer: Any) -> None:
    finder = BatchSizeFinder(mode="binsearch", init_val=4)
    model = OOMModel(fits=10)
    trainer = make_trainer(callbacks=[finder], max_epochs=1)
    trainer.fit(model)
    assert finder.optimal_batch_size == 10 == model.batch_size
    assert trainer.global_step == -(-N_SAMPLES // 10)
    assert [type(cb) for cb in make_trainer(callbacks=["batch_size_finder"]).callbacks] == [BatchSizeFinder]


def test_other_errors_propagate(make_trainer: Any) -> None:
    class Broken(OOMModel):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            raise RuntimeError("shapes do not match")

    with pytest.raises(RuntimeError, match="shapes do not match"):
        Tuner(make_trainer()).scale_batch_size(Broken())
    assert is_oom_error(RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"))
    assert is_oom_error(RuntimeError("[enforce fail at alloc_cpu.cpp:114] . DefaultCPUAllocator: can't allocate memory"))
    assert not is_oom_error(ValueError("CUDA out of memory"))


def test_errors(make_trainer: Any) -> None:
    loader = DataLoader(dataset(), batch_size=2)
    with pytest.raises(MisconfigurationException, match="Field nope not found"):
        Tuner(make_trainer()).scale_batch_size(OOMModel(), batch_arg_name="nope")
    with pytest.raises(MisconfigurationException, match="dataloaders passed directly"):
        Tuner(make_trainer()).scale_batch_size(OOMModel(), train_dataloaders=loader)
    with pytest.raises(MisconfigurationException, match="`train_dataloaders` and `val_dataloaders` arguments should be None"):
        Tuner(make_trainer()).scale_batch_size(OOMModel(), method="test", train_dataloaders=loader)
    with pytest.raises(ValueError, match="method 'tune' is invalid"):
        Tuner(make_trainer()).scale_batch_size(OOMModel(), method="tune")
    with pytest.raises(ValueError, match="`mode` should be"):
        Tuner(make_trainer()).scale_batch_size(OOMModel(), mode="triple")
    with pytest.raises(ValueError, match="already configured with a `BatchSizeFinder`"):
        Tuner(make_trainer(callbacks=[BatchSizeFinder()])).scale_batch_size(OOMModel())


def test_both_model_and_hparams_warn(make_trainer: Any) -> None:
    class Both(OOMModel):
        def __init__(self, batch_size: int = 2) -> None:
            super().__init__(fits=4)
            self.save_hyperparameters()

    with pytest.warns(UserWarning, match="mutually exclusive"):
        Tuner(make_trainer()).scale_batch_size(Both())


def test_distributed_strategies_are_refused(make_trainer: Any) -> None:
    pytest.importorskip("lit_ddp")
    trainer = make_trainer(strategy="ddp", devices=2)
    with pytest.raises(ValueError, match="not supported with distributed strategies"):
        Tuner(trainer).scale_batch_size(OOMModel())


@pytest.mark.parametrize("method", ["validate", "test", "predict"])
def test_callback_form_runs_the_rest_of_the_stage_at_the_size_found(make_trainer: Any, method: str) -> None:
    finder = BatchSizeFinder(mode="binsearch")
    model = OOMModel(fits=12)
    result = getattr(make_trainer(callbacks=[finder]), method)(model)
    assert finder.optimal_batch_size == 12 == model.batch_size
    # After the trials (steps_per_trial=3 batches each), the stage's own pass over all 64 samples:
    assert model.sizes_tried[-6:] == [12, 12, 12, 12, 12, 4]
    if method == "predict":
        assert [len(p) for p in result] == [12, 12, 12, 12, 12, 4]
    else:
        assert result == [{}]  # the model logs nothing; the stage finished normally
