"""Two processes (gloo): ``python predict_script.py OUT``.

Predicts 10 samples (batch size 4) with a prediction writer, then trains one epoch from a custom
batch sampler. Each process writes ``OUT/rank<R>.json``: what ``trainer.predict`` returned, what
the writer was given (its share), and the batches the custom batch sampler gave it per epoch.
"""

from __future__ import annotations

import json
import os
import sys

import torch
from torch import nn
from torch.utils.data import DataLoader, Sampler, TensorDataset

import lit_core as lit
from lit_core.callbacks import BasePredictionWriter

torch.set_num_threads(1)
N = 10


class Doubler(lit.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(1, 1)
        self.seen: list[list[list[int]]] = []

    def training_step(self, batch, batch_idx):
        index, x = batch
        if batch_idx == 0:
            self.seen.append([])
        self.seen[-1].append(index.tolist())
        return self.layer(x).pow(2).mean()

    def predict_step(self, batch, batch_idx):
        index, x = batch
        return {"index": index, "double": 2 * x}

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


class Writer(BasePredictionWriter):
    def __init__(self) -> None:
        super().__init__(write_interval="epoch")
        self.written: dict = {}

    def write_on_epoch_end(self, trainer, pl_module, predictions, batch_indices):
        self.written = {"indices": [[int(i) for i in p["index"]] for p in predictions], "batch_indices": batch_indices}


class Buckets(Sampler):
    """A custom batch sampler: batches of samples of the same parity, reshuffled each epoch (seeded)."""

    def __init__(self, n: int, size: int) -> None:
        self.n, self.size, self.epoch = n, size, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        g = torch.Generator().manual_seed(self.epoch)
        batches = []
        for parity in (0, 1):
            group = list(range(parity, self.n, 2))
            batches += [group[i : i + self.size] for i in range(0, len(group), self.size)]
        return iter([batches[i] for i in torch.randperm(len(batches), generator=g).tolist()])

    def __len__(self) -> int:
        return sum(-(-len(range(p, self.n, 2)) // self.size) for p in (0, 1))


def main(out: str) -> None:
    data = TensorDataset(torch.arange(N), torch.arange(N, dtype=torch.float32).unsqueeze(1))
    writer = Writer()
    trainer = lit.Trainer(strategy="ddp", accelerator="cpu", devices=2, max_epochs=2, logger=False, enable_checkpointing=False,
                          enable_progress_bar=False, enable_model_summary=False, callbacks=[writer], default_root_dir=out)
    model = Doubler()
    predictions = trainer.predict(model, DataLoader(data, batch_size=4))
    trainer.fit(model, DataLoader(data, batch_sampler=Buckets(N, 2)))
    report = {
        "returned": [{"index": p["index"].tolist(), "double": p["double"].squeeze(1).tolist(), "device": str(p["index"].device)}
                     for p in predictions],
        "written": writer.written,
        "trained_batches": model.seen,
    }
    with open(os.path.join(out, f"rank{trainer.global_rank}.json"), "w") as f:
        json.dump(report, f)


if __name__ == "__main__":
    main(sys.argv[1])
