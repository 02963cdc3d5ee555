"""A user mistake raises the exception type Lightning 2.6 raises for it, so users' tests that catch it keep working.

Each row: Trainer flags (or a call) -> the type Lightning raises; lit's own, more precise
message is not compared. Where Lightning raises ``ValueError`` or ``TypeError`` and lit used to
raise ``MisconfigurationException``, lit's error is both (``except MisconfigurationException``
keeps working too).
"""

from __future__ import annotations

import pytest
import torch

import lit_core as lit
from lit_core.exceptions import MisconfigurationException

#: Checked at ``Trainer(...)``: (flags, the exception type Lightning 2.6 raises there or at fit).
INIT_ERRORS = [
    ({"accelerator": "no_such_accelerator"}, ValueError),  # accelerator_connector: "invalid accelerator name"
    ({"strategy": "no_such_strategy"}, ValueError),  # accelerator_connector: "invalid strategy name"
    ({"precision": "13-bits"}, ValueError),  # _convert_precision_to_unified_args
    ({"devices": 0}, MisconfigurationException),  # "Trainer(devices=0) value is not a valid input"
    ({"devices": -2}, TypeError),  # _parse_cpu_cores: "should be an int > 0"
    ({"devices": "many"}, TypeError),
    ({"num_nodes": 0}, ValueError),  # "`num_nodes` must be a positive integer"
    ({"gradient_clip_val": "big"}, TypeError),  # "`gradient_clip_val` should be an int or a float"
    ({"gradient_clip_algorithm": "clip"}, MisconfigurationException),
    ({"fast_dev_run": -1}, MisconfigurationException),
    ({"max_epochs": -2}, MisconfigurationException),  # _FitLoop
    ({"max_steps": -2}, MisconfigurationException),  # _TrainingEpochLoop
    ({"check_val_every_n_epoch": 1.5}, MisconfigurationException),  # data_connector.on_trainer_init
    ({"check_val_every_n_epoch": None, "val_check_interval": 0.5}, MisconfigurationException),
    ({"reload_dataloaders_every_n_epochs": -1}, MisconfigurationException),
    ({"limit_train_batches": -1}, MisconfigurationException),  # _determine_batch_limits
    ({"limit_val_batches": 1.5}, MisconfigurationException),
    ({"limit_test_batches": -0.5}, MisconfigurationException),
    ({"limit_predict_batches": 2.5}, MisconfigurationException),
    ({"overfit_batches": -1}, MisconfigurationException),
    ({"val_check_interval": 1.5}, MisconfigurationException),
]


@pytest.mark.parametrize(("flags", "expected"), INIT_ERRORS, ids=[",".join(f"{k}={v!r}" for k, v in f.items()) for f, _ in INIT_ERRORS])
def test_flag_errors_have_lightnings_type(make_trainer, boring_model, flags, expected):
    with pytest.raises(expected):
        make_trainer(**flags).fit(boring_model())


#: Checked when fit starts (the training data is needed).
FIT_ERRORS = [
    ({"val_check_interval": 100}, ValueError),  # more than the 4 batches of an epoch (fit_loop.setup_data)
    ({"val_check_interval": 100, "limit_val_batches": 0}, ValueError),  # Lightning checks it without validation too
]


@pytest.mark.parametrize(("flags", "expected"), FIT_ERRORS)
def test_fit_time_errors_have_lightnings_type(make_trainer, boring_model, flags, expected):
    with pytest.raises(expected, match="val_check_interval"):
        make_trainer(**flags).fit(boring_model())


@pytest.mark.parametrize("flags", [
    {"val_check_interval": 0.0},  # Lightning: validate after every batch
    {"val_check_interval": 2, "check_val_every_n_epoch": None, "max_steps": 6},
    {"val_check_interval": 0.5, "limit_val_batches": 0},
    {"limit_val_batches": 0, "num_sanity_val_steps": 5},
])
def test_inputs_lightning_accepts_are_accepted(make_trainer, boring_model, flags):
    trainer = make_trainer(**flags)
    trainer.fit(boring_model())
    assert trainer.state.finished


def test_val_check_interval_zero_validates_after_every_batch(make_trainer, boring_model):
    runs = []

    class Counting(boring_model):
        def on_validation_start(self):
            runs.append(self.global_step)

    make_trainer(val_check_interval=0.0, num_sanity_val_steps=0).fit(Counting())
    assert runs == [1, 2, 3, 4]


def test_entry_point_errors_have_lightnings_type(make_trainer, boring_model):
    trainer = make_trainer()
    for call in (trainer.validate, trainer.test, trainer.predict):
        with pytest.raises(TypeError, match="needs a model"):
            call()  # "requires a LightningModule when it hasn't been passed in a previous run"
    with pytest.raises(TypeError, match="LightningModule"):
        trainer.fit(torch.nn.Linear(2, 2))  # "`model` must be a `LightningModule`"
    with pytest.raises(MisconfigurationException):
        trainer.fit(boring_model(), train_dataloaders=[], datamodule=lit.LightningDataModule())
    # lit's own MisconfigurationException is still there for code written against lit.
    with pytest.raises(MisconfigurationException):
        trainer.validate()
