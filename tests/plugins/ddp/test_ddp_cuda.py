"""DDP on CUDA (nccl), one GPU: what a single-GPU machine can check. Skipped without a GPU.

Select with ``pytest -m gpu tests/plugins/ddp``. The run happens in a fresh process (the
process group lives as long as its process).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

SCRIPT = """
import json
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset
import lit_core as lit


class Net(lit.LightningModule):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.layer, self.bn, self.out = nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.mse_loss(self.out(self.bn(self.layer(x))), y)
        self.log("loss", loss, sync_dist=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


report = {}


class Probe(lit.Callback):
    def on_train_end(self, trainer, pl_module):
        strategy = trainer.strategy
        report.update(
            backend=torch.distributed.get_backend(),
            model=type(trainer.model).__name__,
            device=str(pl_module.layer.weight.device),
            sync_batchnorm=any(isinstance(m, nn.SyncBatchNorm) for m in pl_module.modules()),
            reduced=strategy.reduce(torch.tensor(3.0), "sum").item(),  # a CPU tensor goes through nccl
            gathered=strategy.all_gather(torch.ones(2, device=pl_module.device)).tolist(),
            broadcast=strategy.broadcast({"a": 1}),
        )
        strategy.barrier()


g = torch.Generator().manual_seed(0)
data = TensorDataset(torch.randn(32, 4, generator=g), torch.randn(32, 1, generator=g))


def fit(strategy, **flags):
    model = Net()
    trainer = lit.Trainer(accelerator="cuda", devices=1, strategy=strategy, max_epochs=2, logger=False,
                          enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, **flags)
    trainer.fit(model, DataLoader(data, batch_size=8))
    return [v for p in model.parameters() for v in p.detach().cpu().flatten().tolist()]


ddp = fit("ddp", sync_batchnorm=True, callbacks=[Probe()])
single = fit("auto")
report["max_difference"] = max(abs(a - b) for a, b in zip(ddp, single))
print("REPORT " + json.dumps(report))
"""


def test_ddp_on_one_gpu(tmp_path):
    """strategy="ddp" on one GPU: nccl, DDP around the module, SyncBatchNorm, collectives, and the
    same training as without the strategy."""
    pytest.importorskip("lit_cuda", reason="the cuda accelerator is lit-cuda's")
    script = tmp_path / "train_gpu.py"
    script.write_text(SCRIPT)
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("REPORT "))
    report = json.loads(line[len("REPORT "):])
    assert report["backend"] == "nccl" and report["model"] == "DistributedDataParallel"
    assert report["device"].startswith("cuda") and report["sync_batchnorm"]
    assert report["reduced"] == 3.0 and report["gathered"] == [[1.0, 1.0]] and report["broadcast"] == {"a": 1}
    assert report["max_difference"] < 1e-5, "one GPU with ddp trains like one GPU without it"
