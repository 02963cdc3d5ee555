"""LightningDataModule: from_datasets, str(), save_hyperparameters in every form, hparams in
checkpoints and hparams.yaml, hparams_file overrides, and the saving helpers."""

from __future__ import annotations

import os
from argparse import Namespace
from typing import Any

import pytest
import torch
import yaml
from torch.utils.data import DataLoader, IterableDataset, RandomSampler, SequentialSampler, TensorDataset

import lit_core as lit
from lit_core.builtins.csv_logger import CSVLogger
from lit_core.core.saving import (
    load_hparams_from_tags_csv,
    load_hparams_from_yaml,
    save_hparams_to_tags_csv,
    save_hparams_to_yaml,
)


def pairs(n: int, seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    return TensorDataset(torch.randn(n, 4, generator=g), torch.randn(n, 1, generator=g))


class Stream(IterableDataset):
    def __iter__(self) -> Any:
        return iter(pairs(4))


# -- from_datasets and str ------------------------------------------------------------------


def test_from_datasets_serves_loaders_and_trains(make_trainer, boring_model):
    dm = lit.LightningDataModule.from_datasets(train_dataset=pairs(12), val_dataset=[pairs(4, 1), pairs(6, 2)],
                                               batch_size=4)
    train = dm.train_dataloader()
    assert isinstance(train.sampler, RandomSampler) and train.batch_size == 4
    vals = dm.val_dataloader()
    assert [len(v) for v in vals] == [1, 2] and all(isinstance(v.sampler, SequentialSampler) for v in vals)

    class Model(boring_model):
        def validation_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
            self.log("val_loss", self.loss(batch))

    trainer = make_trainer()
    trainer.fit(Model(), datamodule=dm)
    assert trainer.num_training_batches == 3 and trainer.num_val_batches == [1, 2]
    assert set(trainer.callback_metrics) == {"val_loss/dataloader_idx_0", "val_loss/dataloader_idx_1"}
    with pytest.raises(NotImplementedError):
        dm.test_dataloader()  # no test_dataset given: the base class's method


def test_from_datasets_passes_batch_size_to_an_init_that_takes_it():
    class Data(lit.LightningDataModule):
        def __init__(self, batch_size: int, extra: str) -> None:
            super().__init__()
            self.batch_size, self.extra = batch_size, extra

    dm = Data.from_datasets(train_dataset=Stream(), batch_size=2, num_workers=0, extra="x")
    assert (dm.batch_size, dm.extra) == (2, "x")
    assert isinstance(dm.train_dataloader().sampler, type(DataLoader(Stream()).sampler))  # an IterableDataset is not shuffled


def test_str_lists_the_loaders_and_their_sizes():
    dm = lit.LightningDataModule.from_datasets(train_dataset=pairs(64), val_dataset={"a": pairs(32), "b": pairs(16)},
                                               predict_dataset=Stream())
    assert str(dm).split(os.linesep) == [
        "{Train dataloader: size=64}",
        "{Validation dataloader: 1. size=32 ; 2. size=16}",
        "{Test dataloader: None}",
        "{Predict dataloader: size=NA}",
    ]


# -- save_hyperparameters forms ---------------------------------------------------------------


class ByInit(lit.LightningDataModule):
    def __init__(self, batch_size: int = 2, root: str = "data", transform: Any = None) -> None:
        super().__init__()
        self.save_hyperparameters(ignore="transform")

    def train_dataloader(self) -> DataLoader:
        return DataLoader(pairs(8), batch_size=self.hparams.batch_size)


@pytest.mark.parametrize("form", ["init", "names", "dict", "namespace"])
def test_save_hyperparameters_forms(form):
    class Data(lit.LightningDataModule):
        def __init__(self, batch_size: int = 4, root: str = "data") -> None:
            super().__init__()
            if form == "init":
                self.save_hyperparameters()
            elif form == "names":
                self.save_hyperparameters("batch_size")
            elif form == "dict":
                self.save_hyperparameters({"batch_size": batch_size, "note": "d"})
            else:
                self.save_hyperparameters(Namespace(batch_size=batch_size, note="n"))

    expected = {"init": {"batch_size": 8, "root": "data"}, "names": {"batch_size": 8},
                "dict": {"batch_size": 8, "note": "d"}, "namespace": {"batch_size": 8, "note": "n"}}[form]
    dm = Data(batch_size=8)
    assert dm.hparams == expected and dm.hparams_initial == expected
    dm.hparams.batch_size = 99
    assert dm.hparams_initial.batch_size == 8  # a snapshot


def test_save_hyperparameters_mistakes():
    class Data(lit.LightningDataModule):
        def __init__(self, which: Any) -> None:
            super().__init__()
            self.save_hyperparameters(which)

    with pytest.raises(ValueError, match="not arguments"):
        Data("nope")
    with pytest.raises(ValueError, match="unsupported config type int"):
        Data(3)
    assert ByInit(transform=object()).hparams == {"batch_size": 2, "root": "data"}


# -- checkpoints, hparams.yaml, hparams_file --------------------------------------------------


def test_hparams_reach_the_checkpoint_and_hparams_yaml(tmp_root, make_trainer, boring_model):
    class Model(boring_model):
        def __init__(self, lr: float = 0.1) -> None:
            super().__init__()
            self.save_hyperparameters()

    dm = ByInit(batch_size=4)
    logger = CSVLogger(tmp_root)
    trainer = make_trainer(logger=logger, limit_val_batches=0)
    trainer.fit(Model(lr=0.2), datamodule=dm)
    dm.hparams.batch_size = 5  # after the run: the logger already has the initial values
    saved = load_hparams_from_yaml(os.path.join(logger.log_dir, "hparams.yaml"))
    assert saved == {"batch_size": 4, "root": "data", "lr": 0.2}

    trainer.save_checkpoint(tmp_root / "run.ckpt")
    checkpoint = torch.load(tmp_root / "run.ckpt", weights_only=True)
    assert checkpoint["datamodule_hyper_parameters"] == {"batch_size": 5, "root": "data"}
    assert checkpoint["hyper_parameters"] == {"lr": 0.2}

    # A hparams file overrides what the checkpoint saved; keyword arguments override both.
    yaml_file = tmp_root / "override.yaml"
    save_hparams_to_yaml(yaml_file, {"batch_size": 16})
    assert ByInit.load_from_checkpoint(tmp_root / "run.ckpt", hparams_file=yaml_file).hparams.batch_size == 16
    assert ByInit.load_from_checkpoint(tmp_root / "run.ckpt", hparams_file=yaml_file, batch_size=1).hparams.batch_size == 1
    csv_file = tmp_root / "tags.csv"
    save_hparams_to_tags_csv(csv_file, Namespace(lr=0.05))
    assert Model.load_from_checkpoint(tmp_root / "run.ckpt", hparams_file=csv_file).hparams.lr == 0.05
    with pytest.warns(UserWarning, match="Missing hyperparameter file"):  # positional, as in Lightning
        assert Model.load_from_checkpoint(tmp_root / "run.ckpt", None, tmp_root / "lr.yaml").hparams.lr == 0.2
    with pytest.raises(ValueError, match=r"give a \.yaml or a \.csv"):
        Model.load_from_checkpoint(tmp_root / "run.ckpt", hparams_file=tmp_root / "x.json")


def test_logger_false_and_clashing_keys(tmp_root, make_trainer, boring_model):
    class Model(boring_model):
        def __init__(self, batch_size: int = 3) -> None:
            super().__init__()
            self.save_hyperparameters()

    class Quiet(ByInit):
        def __init__(self) -> None:
            super().__init__()
            self.save_hyperparameters({"secret": 1}, logger=False)

    logger = CSVLogger(tmp_root)
    make_trainer(logger=logger, limit_val_batches=0).fit(Model(batch_size=3), datamodule=Quiet())
    assert load_hparams_from_yaml(os.path.join(logger.log_dir, "hparams.yaml")) == {"batch_size": 3}

    with pytest.raises(RuntimeError, match=r"keys \['batch_size'\] are present in both"):
        make_trainer(logger=CSVLogger(tmp_root), limit_val_batches=0).fit(Model(batch_size=3), datamodule=ByInit(batch_size=4))


# -- the saving helpers ---------------------------------------------------------------------


def test_yaml_and_tags_csv_round_trip(tmp_path):
    yaml_file = tmp_path / "h.yaml"
    with pytest.warns(UserWarning, match="Skipping hyperparameter 'fn'"):
        save_hparams_to_yaml(yaml_file, {"lr": 0.1, "layers": [8, 4], "name": "m", "nested": {"a": 1}, "fn": lambda: 0})
    assert load_hparams_from_yaml(yaml_file) == {"lr": 0.1, "layers": [8, 4], "name": "m", "nested": {"a": 1}}
    assert load_hparams_from_yaml(yaml_file, use_omegaconf=False) == yaml.safe_load(yaml_file.read_text())
    with pytest.warns(UserWarning, match="Missing hyperparameter file"):
        assert load_hparams_from_yaml(tmp_path / "none.yaml") == {}
    with pytest.raises(TypeError, match=r"dict or an argparse\.Namespace"):
        save_hparams_to_yaml(yaml_file, [1, 2])

    csv_file = tmp_path / "tags.csv"
    save_hparams_to_tags_csv(csv_file, {"lr": 0.1, "flag": True, "name": "adam", "sizes": [1, 2]})
    assert load_hparams_from_tags_csv(csv_file) == {"lr": 0.1, "flag": True, "name": "adam", "sizes": [1, 2]}
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_hparams_to_tags_csv(tmp_path / "no" / "tags.csv", {"a": 1})
    with pytest.warns(UserWarning, match="Missing hyperparameter file"):
        assert load_hparams_from_tags_csv(tmp_path / "none.csv") == {}
