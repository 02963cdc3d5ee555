"""lit's training step reads no tensor value on the host except where it must (CPU proxy of issue 18's
"no host syncs": on a GPU each such read is a device synchronisation).

A default ``Trainer`` (csv logger, the tqdm bar redrawn with the logging, ``ModelCheckpoint``)
trains with a ``self.log(..., prog_bar=True)`` every step. While each training batch runs (its
start to its end, hooks included), every call that turns a tensor into a host value
(``item``, ``tolist``, ``bool`` / ``float`` / ``int``, ``cpu``, ``numpy``, ``nonzero``) is
counted. Only logging steps (every ``log_every_n_steps``, where the bar redraws too) and the
epoch's last batch may read; ``tests/plugins/cuda/test_cuda_no_host_sync.py`` checks the same on a
GPU with torch's own sync detection.
"""

from __future__ import annotations

import traceback

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

import lit_core as lit

LOG_EVERY = 10
BATCHES = 40
#: The tensor methods that hand a value to the host (a device sync on a GPU).
READS = ("item", "tolist", "__bool__", "__float__", "__int__", "cpu", "numpy", "nonzero")


class Classifier(lit.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 2))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self.net(x), y)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class HostReads(lit.Callback):
    """Counts host reads of tensors per training batch, with where the first one came from."""

    def __init__(self) -> None:
        self.per_batch: list[tuple[int, int, str]] = []
        self.counting = False
        self.count, self.first = 0, ""

    def wrap(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in READS:
            original = getattr(torch.Tensor, name)

            def read(tensor, *args, _original=original, _name=name, **kwargs):
                if self.counting:
                    self.count += 1
                    if not self.first:
                        self.first = f"{_name} at {traceback.format_stack(limit=3)[0].strip()}"
                return _original(tensor, *args, **kwargs)

            monkeypatch.setattr(torch.Tensor, name, read)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.count, self.first, self.counting = 0, "", True

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.counting = False
        self.per_batch.append((batch_idx, self.count, self.first))


def test_quiet_training_steps_read_no_tensor_on_the_host(tmp_path, monkeypatch):
    pytest.importorskip("lit_tqdm")
    pytest.importorskip("lit_checkpoint")
    from lit_core.callbacks import TQDMProgressBar

    g = torch.Generator().manual_seed(0)
    x = torch.randn(BATCHES * 8, 16, generator=g)
    data = TensorDataset(x, (x.sum(dim=1) > 0).long())
    reads = HostReads()
    trainer = lit.Trainer(max_epochs=1, log_every_n_steps=LOG_EVERY, default_root_dir=tmp_path, enable_model_summary=False,
                          num_sanity_val_steps=0, callbacks=[reads, TQDMProgressBar(refresh_rate=LOG_EVERY)], logger="csv")
    assert trainer.checkpoint_callback is not None, "the default checkpoint callback is in the run"
    reads.wrap(monkeypatch)
    trainer.fit(Classifier(), DataLoader(data, batch_size=8))
    assert len(reads.per_batch) == BATCHES
    quiet = [(idx, count, first) for idx, count, first in reads.per_batch
             if (idx + 1) % LOG_EVERY != 0 and idx != BATCHES - 1]
    assert len(quiet) == 36
    assert [q for q in quiet if q[1]] == [], "quiet steps read tensors on the host"
    assert any(count for idx, count, _ in reads.per_batch if (idx + 1) % LOG_EVERY == 0), \
        "the logging steps do read (the counter sees reads at all)"
