"""BasePredictionWriter: per-batch and per-epoch writes with batch indices, and return_predictions."""

from __future__ import annotations

import os

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from lit_callbacks import BasePredictionWriter
from lit_core.exceptions import MisconfigurationException


class DiskWriter(BasePredictionWriter):
    def __init__(self, out_dir, write_interval):
        super().__init__(write_interval)
        self.out_dir = out_dir
        self.batches = []

    def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx):
        torch.save({"prediction": prediction, "indices": batch_indices}, os.path.join(self.out_dir, f"{dataloader_idx}_{batch_idx}.pt"))
        self.batches.append(batch_idx)

    def write_on_epoch_end(self, trainer, pl_module, predictions, batch_indices):
        torch.save({"predictions": predictions, "indices": batch_indices}, os.path.join(self.out_dir, "predictions.pt"))


def shuffled_loader(n=8, batch_size=3):
    x = torch.arange(n, dtype=torch.float32).unsqueeze(1).repeat(1, 4)
    return DataLoader(TensorDataset(x), batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(5))


@pytest.mark.parametrize("return_predictions", [True, False])
def test_batch_and_epoch_writes_with_indices(make_trainer, boring_model, tmp_path, return_predictions):
    class Model(boring_model):
        def predict_step(self, batch, batch_idx, dataloader_idx=0):
            return batch[0][:, 0]  # the sample's own index: the data is arange

    writer = DiskWriter(tmp_path, "batch_and_epoch")
    result = make_trainer(callbacks=[writer]).predict(Model(), shuffled_loader(), return_predictions=return_predictions)
    assert writer.batches == [0, 1, 2]
    for b in range(3):
        saved = torch.load(tmp_path / f"0_{b}.pt")
        assert saved["prediction"].tolist() == [float(i) for i in saved["indices"]], "indices name the samples predicted"
    epoch = torch.load(tmp_path / "predictions.pt")
    assert len(epoch["predictions"]) == 3, "kept for the epoch write even with return_predictions=False"
    assert [p.tolist() for p in epoch["predictions"]] == [[float(i) for i in idx] for idx in epoch["indices"][0]]
    assert sorted(i for idx in epoch["indices"][0] for i in idx) == list(range(8))
    assert (result is None) is (not return_predictions)


def test_batch_only_writer_keeps_nothing_when_not_returning(make_trainer, boring_model, tmp_path):
    writer = DiskWriter(tmp_path, "batch")
    trainer = make_trainer(callbacks=[writer])
    assert trainer.predict(boring_model(), return_predictions=False) is None
    assert trainer.predict_loop.predictions == [], "a batch writer does not make the loop hold outputs"
    assert sorted(os.listdir(tmp_path)) == [f"0_{b}.pt" for b in range(4)]


def test_epoch_writer_with_two_dataloaders(make_trainer, boring_model, tmp_path, random_loader):
    writer = DiskWriter(tmp_path, "epoch")
    make_trainer(callbacks=[writer]).predict(boring_model(), [random_loader(n=4), random_loader(n=6)], return_predictions=False)
    epoch = torch.load(tmp_path / "predictions.pt")
    assert [len(p) for p in epoch["predictions"]] == [2, 3], "one list per dataloader"
    assert epoch["indices"] == [[[0, 1], [2, 3]], [[0, 1], [2, 3], [4, 5]]]
    assert writer.batches == []


def test_write_interval_is_checked():
    with pytest.raises(MisconfigurationException, match="write_interval"):
        DiskWriter(".", "step")


def test_unimplemented_write_says_which(make_trainer, boring_model):
    with pytest.raises(NotImplementedError, match="write_on_batch_end"):
        make_trainer(callbacks=[BasePredictionWriter("batch")]).predict(boring_model())
