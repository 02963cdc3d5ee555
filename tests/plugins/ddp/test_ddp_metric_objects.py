"""torchmetrics objects and ``estimated_stepping_batches`` in a real two-process DDP job (gloo on CPU).

The metric synchronises its own state in ``compute()``; lit must not reduce it again (a second
``sum`` would double it). ``estimated_stepping_batches`` counts the batches of one process's shard.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from ddp_helpers import clean_env

pytestmark = pytest.mark.slow
torchmetrics = pytest.importorskip("torchmetrics")

SCRIPT = textwrap.dedent('''
    import json, sys
    import torch, torchmetrics
    from torch import nn
    from torch.nn import functional as F
    from torch.utils.data import DataLoader, TensorDataset
    import lit_core as lit

    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(32, 4, generator=g), torch.randint(3, (32,), generator=g)
    vx, vy = torch.randn(20, 4, generator=g), torch.randint(3, (20,), generator=g)

    class Model(lit.LightningModule):
        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.net = nn.Linear(4, 3)
            self.samples = torchmetrics.SumMetric()
            self.val_acc = torchmetrics.Accuracy(task="multiclass", num_classes=3)
            self.estimate = None

        def training_step(self, batch, batch_idx):
            inputs, target = batch
            self.samples(torch.tensor(float(len(inputs))))
            self.log("samples", self.samples, on_step=False, on_epoch=True, reduce_fx="sum", sync_dist=True)
            return F.cross_entropy(self.net(inputs), target)

        def validation_step(self, batch, batch_idx):
            inputs, target = batch
            self.val_acc.update(self.net(inputs), target)
            self.log("val_acc", self.val_acc, sync_dist=True)

        def configure_optimizers(self):
            self.estimate = self.trainer.estimated_stepping_batches
            return torch.optim.SGD(self.parameters(), lr=0.0)

    model = Model()
    trainer = lit.Trainer(strategy="ddp", devices=2, accelerator="cpu", max_epochs=2, logger=False,
                          enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                          num_sanity_val_steps=0)
    trainer.fit(model, DataLoader(TensorDataset(x, y), batch_size=4), DataLoader(TensorDataset(vx, vy), batch_size=5))
    with torch.no_grad():
        global_acc = (model.net(vx).argmax(-1) == vy).float().mean().item()
    result = {"samples": trainer.callback_metrics["samples"].item(), "val_acc": trainer.callback_metrics["val_acc"].item(),
              "global_acc": global_acc, "estimate": model.estimate, "steps": trainer.global_step}
    with open(f"{sys.argv[1]}/rank{trainer.global_rank}.json", "w") as f:
        json.dump(result, f)
''')


def test_metric_objects_and_stepping_estimate_under_ddp(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    result = subprocess.run([sys.executable, str(script), str(tmp_path)], cwd=tmp_path, env=clean_env(),
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    for rank in range(2):
        report = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert report["samples"] == 32.0, "every process's samples, summed once by the metric itself"
        assert report["val_acc"] == pytest.approx(report["global_acc"]), "the accuracy over both shards"
        assert report["estimate"] == 8 == report["steps"], "4 batches of this process's shard, 2 epochs"
