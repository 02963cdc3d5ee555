"""A step, hook or dataloader method set to ``None`` on the instance is absent, as in Lightning;
one set to a function on the instance is present."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from lit_core.exceptions import MisconfigurationException


def counting(boring_model: Any) -> Any:
    class Model(boring_model):
        def __init__(self) -> None:
            super().__init__()
            self.val_calls = 0

        def validation_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            self.val_calls += 1
            return super().validation_step(batch, batch_idx)

    return Model()


@pytest.mark.parametrize("attribute", ["validation_step", "val_dataloader"])
def test_none_validation_step_or_loader_skips_validation(attribute, make_trainer, boring_model):
    model = counting(boring_model)
    setattr(model, attribute, None)
    trainer = make_trainer(max_epochs=2)
    trainer.fit(model)
    assert model.val_calls == 0 and trainer.global_step == 8 and trainer.val_dataloaders == []
    assert "val_loss" not in trainer.callback_metrics


def test_none_test_step_is_a_clear_error(make_trainer, boring_model):
    model = boring_model()
    model.test_step = None
    with pytest.raises(MisconfigurationException, match=r"needs BoringModel\.test_step"):
        make_trainer().test(model)


def test_none_dataloader_on_the_datamodule_falls_back(make_trainer, boring_model, random_loader):
    import lit_core as lit

    class Data(lit.LightningDataModule):
        def train_dataloader(self) -> Any:
            return random_loader(n=6)

        def val_dataloader(self) -> Any:
            raise AssertionError("set to None: never called")

    dm = Data()
    dm.val_dataloader = None
    model = counting(boring_model)
    model.val_dataloader = None
    trainer = make_trainer()
    trainer.fit(model, datamodule=dm)
    assert trainer.num_training_batches == 3 and model.val_calls == 0


def test_instance_functions_are_used(make_trainer, boring_model, random_loader):
    model = counting(boring_model)
    model.train_dataloader = lambda: random_loader(n=4)
    model.val_dataloader = lambda: random_loader(n=6)
    epochs: list[int] = []
    model.on_train_epoch_end = lambda: epochs.append(model.current_epoch)
    trainer = make_trainer(max_epochs=2, num_sanity_val_steps=0)
    trainer.fit(model)
    assert trainer.num_training_batches == 2 and model.val_calls == 6 and epochs == [0, 1]


def test_none_hook_is_not_called(make_trainer, boring_model):
    model = boring_model()
    model.on_train_epoch_end = None
    model.on_before_batch_transfer = None
    trainer = make_trainer()
    trainer.fit(model)
    assert trainer.global_step == 4
