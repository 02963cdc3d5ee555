"""No host-device synchronisation in lit's CUDA training step, except where lit must read a value.

A default ``Trainer`` (csv logger, tqdm bar, ``ModelCheckpoint``) trains on the GPU with
``torch.cuda.set_sync_debug_mode("warn")``: torch then warns at every synchronising call. Each
training batch's warnings are counted from the batch's start to its end (hooks included), and
the batches where lit must read values are told apart: a logging step (every
``log_every_n_steps``, where the bar redraws too) and the epoch's last batch (checkpoint and
epoch-end logging). Every other batch must have none (``tests/e2e/test_no_host_reads.py`` is the
CPU twin: it counts host reads of tensors). Skipped without a GPU
(``tests/device_check.sh`` runs it on a GPU machine).
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

import lit_core as lit

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]

LOG_EVERY = 10
BATCHES = 40


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


class SyncCounter(lit.Callback):
    """Counts torch's synchronisation warnings per training batch."""

    def __init__(self) -> None:
        self.per_batch: list[tuple[int, int]] = []  # (batch_idx, warnings)

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._caught = warnings.catch_warnings(record=True)
        self._records = self._caught.__enter__()
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        torch.cuda.set_sync_debug_mode("default")
        self._caught.__exit__(None, None, None)
        self.per_batch.append((batch_idx, sum("synchroniz" in str(w.message) for w in self._records)))


def test_a_cuda_training_step_does_not_sync_the_host(tmp_path):
    from lit_core.callbacks import TQDMProgressBar

    g = torch.Generator().manual_seed(0)
    x = torch.randn(BATCHES * 8, 16, generator=g)
    data = TensorDataset(x, (x.sum(dim=1) > 0).long())
    counter = SyncCounter()
    # The bar redraws with the logging (every LOG_EVERY batches): the other batches read nothing.
    trainer = lit.Trainer(accelerator="cuda", devices=1, max_epochs=1, log_every_n_steps=LOG_EVERY, default_root_dir=tmp_path,
                          callbacks=[counter, TQDMProgressBar(refresh_rate=LOG_EVERY)], enable_model_summary=False,
                          num_sanity_val_steps=0)
    trainer.fit(Classifier(), DataLoader(data, batch_size=8, pin_memory=True))
    assert len(counter.per_batch) == BATCHES
    quiet = [(idx, syncs) for idx, syncs in counter.per_batch if (idx + 1) % LOG_EVERY != 0 and idx != BATCHES - 1]
    assert len(quiet) == 36
    assert [idx for idx, syncs in quiet if syncs] == [], f"batches that synchronised the host: {counter.per_batch}"
