"""Lightning 1.x's ``Trainer(auto_lr_find=..., auto_scale_batch_size=...)`` with ``trainer.tune()``: deprecated, as in 1.9."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

import lit_core as lit
from lit_callbacks.tuner.lr_finder import LRFinder
from lit_core import tuning
from lit_core.exceptions import MisconfigurationException

# Lightning 1.x's Trainer(auto_lr_find=...) is translated by lit-compat. It is not a declared test
# dependency of lit-callbacks: lit-compat's own tests need lit-callbacks, and pip cannot resolve the two
# editable installs' test extras naming each other. Installed alone (tests/each_alone.py), these skip.
pytest.importorskip("lit_compat", reason="Lightning 1.x flags need lit-compat")


class Model(lit.LightningModule):
    def __init__(self, learning_rate: float = 0.01, batch_size: int = 2) -> None:
        super().__init__()
        self.save_hyperparameters()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.layer = nn.Linear(4, 1)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        if len(x) > 8:
            raise RuntimeError("CUDA out of memory. Tried to allocate 1.00 GiB (simulated)")
        return F.mse_loss(self.layer(x), y)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.hparams.learning_rate)

    def train_dataloader(self) -> DataLoader:
        g = torch.Generator().manual_seed(0)
        x = torch.randn(96, 4, generator=g)
        return DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=self.hparams.batch_size)


def quiet(**flags: Any) -> dict[str, Any]:
    return {"accelerator": "cpu", "logger": False, "enable_progress_bar": False, "enable_checkpointing": False,
            "enable_model_summary": False, "max_epochs": 1, **flags}


def test_tune_runs_both_searches_with_deprecation(tmp_root: Any) -> None:
    with pytest.warns(DeprecationWarning, match="auto_lr_find"):
        trainer = lit.Trainer(**quiet(auto_lr_find=True, auto_scale_batch_size="binsearch", max_epochs=3))
    model = Model()
    with pytest.warns(DeprecationWarning, match="trainer.tune"):
        result = trainer.tune(model, lr_find_kwargs={"num_training": 20})
    assert result["scale_batch_size"] == 8 == model.hparams.batch_size
    assert isinstance(result["lr_find"], LRFinder)
    assert model.hparams.learning_rate == result["lr_find"].suggestion() != 0.01
    trainer.fit(model)
    assert trainer.global_step == 3 * 96 // 8


def test_auto_lr_find_names_the_attribute(tmp_root: Any) -> None:
    class Custom(Model):
        def __init__(self) -> None:
            super().__init__()
            self.my_lr = 0.01

    with pytest.warns(DeprecationWarning):
        trainer = lit.Trainer(**quiet(auto_lr_find="my_lr", max_epochs=3))
    model = Custom()
    with pytest.warns(DeprecationWarning):
        result = trainer.tune(model, lr_find_kwargs={"num_training": 20})
    assert set(result) == {"lr_find"} and model.my_lr == result["lr_find"].suggestion()


def test_flag_errors(tmp_root: Any) -> None:
    with pytest.raises(MisconfigurationException, match="auto_scale_batch_size='double'"):
        lit.Trainer(**quiet(auto_scale_batch_size="double"))
    with pytest.warns(DeprecationWarning):
        trainer = lit.Trainer(**quiet(auto_lr_find=True))
    with pytest.warns(DeprecationWarning), pytest.raises(TypeError, match="requires a `LightningModule`"):
        trainer.tune(nn.Linear(1, 1))
    with pytest.warns(DeprecationWarning), pytest.raises(MisconfigurationException, match="method='fit'"):
        trainer.tune(Model(), method="validate")


def test_no_tuner_installed_is_an_import_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from lit_core import lightning_names, namespace

    namespace.refresh()  # forget the Tuner resolved by earlier tests
    monkeypatch.setattr(namespace, "claims", lambda group: {})  # no distribution declares lit_core.tuner names
    monkeypatch.setattr(lightning_names, "_installed", lambda dist: False)
    try:
        with pytest.raises(ImportError, match="pip install lit-callbacks"):
            tuning.tuner_class()
    finally:
        monkeypatch.undo()
        namespace.refresh()


def test_without_a_tuner_trainer_tune_and_tuner_say_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_root: Any) -> None:
    from lit_core import lightning_names, namespace

    with pytest.warns(DeprecationWarning):
        trainer = lit.Trainer(**quiet(auto_lr_find=True))
    namespace.refresh()
    monkeypatch.setattr(namespace, "claims", lambda group: {})  # no distribution declares lit_core.tuner names
    monkeypatch.setattr(lightning_names, "_installed", lambda dist: False)
    try:
        expected = r"trainer.tune\(\) and trainer.tuner run Lightning 1.9's tuner, which nothing installed provides.*pip install lit-callbacks"
        with pytest.warns(DeprecationWarning), pytest.raises(ImportError, match=expected):
            trainer.tune(Model())
        with pytest.warns(DeprecationWarning), pytest.raises(ImportError, match=expected):
            trainer.tuner
    finally:
        monkeypatch.undo()
        namespace.refresh()


def test_the_1x_tuner_is_lit_callbacks_through_the_tuner_namespace(tmp_root: Any) -> None:
    from lit_callbacks.tuner.legacy import LegacyTuner

    with pytest.warns(DeprecationWarning, match="trainer.tuner"):
        assert type(lit.Trainer(**quiet()).tuner) is LegacyTuner


def test_the_tuner_is_found_through_its_entry_point() -> None:
    from lit_callbacks import Tuner

    assert tuning.tuner_class() is Tuner


def test_trainer_tuner_attribute_has_1x_defaults(tmp_root: Any) -> None:
    trainer = lit.Trainer(**quiet(max_epochs=3))
    model = Model()
    with pytest.warns(DeprecationWarning, match="trainer.tuner"):
        tuner = trainer.tuner
    finder = tuner.lr_find(model, num_training=20)
    assert model.hparams.learning_rate == 0.01  # 1.9: the suggestion is not written unless update_attr=True
    model.hparams.learning_rate = finder.suggestion()
    with pytest.warns(DeprecationWarning):
        assert trainer.tuner.scale_batch_size(model, mode="binsearch") == 8 == model.hparams.batch_size
    trainer.fit(model)
    assert trainer.global_step == 3 * 96 // 8
