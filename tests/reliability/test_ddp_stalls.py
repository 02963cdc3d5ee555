"""Issue 14, case 16: a DDP job whose ranks stop meeting fails in seconds, saying why.

Two real gloo processes started by lit's own launcher (``python train.py``), as a user runs
them. Uneven batch counts across ranks (``use_distributed_sampler=False``) are found at the
start of the epoch; a rank that stalls makes the others' collective fail after
``DDPStrategy(timeout=...)`` instead of torch's 30 minutes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest

from lit_core.exceptions import MisconfigurationException
from lit_ddp import DDPStrategy

SCRIPT = """
import os
import sys
import time

import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

import lit_core as lit
from lit_ddp import DDPStrategy

torch.set_num_threads(1)
MODE, ARG = sys.argv[1], int(sys.argv[2])


class Model(lit.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)

    def train_dataloader(self):
        # 'uneven': from epoch ARG on, rank 1 has 3 batches and rank 0 has 4.
        short = MODE == "uneven" and self.global_rank == 1 and self.current_epoch >= ARG
        n = 6 if short else 8
        return DataLoader(TensorDataset(torch.randn(n, 4), torch.randn(n, 1)), batch_size=2)

    def training_step(self, batch, batch_idx):
        if MODE == "stall" and self.global_rank == ARG and self.global_step == 2:
            print(f"rank {ARG} stalls", flush=True)
            time.sleep(3600)
        x, y = batch
        return F.mse_loss(self.layer(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


trainer = lit.Trainer(accelerator="cpu", devices=2, strategy=DDPStrategy(timeout=4), max_epochs=3, logger=False,
                      enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                      use_distributed_sampler=False, reload_dataloaders_every_n_epochs=1, num_sanity_val_steps=0)
assert trainer.strategy.timeout.total_seconds() == 4
trainer.fit(Model())
print(f"FIT DONE rank {trainer.global_rank} epochs {trainer.current_epoch}", flush=True)
"""

RANK_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "NODE_RANK", "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT",
                  "TORCHELASTIC_RUN_ID", "LIT_DDP_LAUNCHED", "LIT_DDP_PARENT_PID", "LIT_DDP_ERROR_FILE")


def _run(tmp_path: Path, mode: str, arg: int, limit: float = 90) -> tuple[subprocess.CompletedProcess[str], float]:
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT))
    env = {k: v for k, v in os.environ.items() if k not in RANK_VARIABLES and not k.startswith("SLURM_")}
    env.update(OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    start = time.monotonic()
    # start_new_session: the whole job can be killed if the test's limit is reached (it never should be)
    proc = subprocess.Popen([sys.executable, str(script), mode, str(arg)], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        stdout, stderr = proc.communicate()
        pytest.fail(f"the job was still running after {limit}s\n--- stdout\n{stdout}\n--- stderr\n{stderr}")
    finally:
        leftover = subprocess.run(["pgrep", "-f", str(script)], capture_output=True, text=True).stdout.split()
        for pid in leftover:
            os.kill(int(pid), 9)
    assert not leftover, "no process of the job is left behind"
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), time.monotonic() - start


def test_case_16_the_collective_timeout_is_a_timedelta_or_seconds():
    assert DDPStrategy(timeout=4).timeout == timedelta(seconds=4)
    assert DDPStrategy(timeout=2.5).timeout == timedelta(seconds=2.5)
    assert DDPStrategy(timeout=timedelta(minutes=2)).timeout == timedelta(minutes=2)
    assert DDPStrategy().timeout == timedelta(minutes=30), "torch's default"
    with pytest.raises(MisconfigurationException, match=r"timeout='5'.*timedelta or a number of seconds") as info:
        DDPStrategy(timeout="5")
    assert isinstance(info.value, TypeError)
    for bad in (0, -1, float("inf"), timedelta(0)):
        with pytest.raises(ValueError, match="positive, finite"):
            DDPStrategy(timeout=bad)


@pytest.mark.slow
def test_case_16_even_batches_train_normally(tmp_path):
    result, _ = _run(tmp_path, "even", 0)
    assert result.returncode == 0, result.stderr
    assert "FIT DONE rank 0 epochs 3" in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("epoch", [0, 2])
def test_case_16_uneven_batches_across_ranks_are_an_error_at_the_epoch_start(tmp_path, epoch):
    result, seconds = _run(tmp_path, "uneven", epoch)
    assert result.returncode != 0
    assert f"training epoch {epoch}" in result.stderr and "rank 0: 4 batches, rank 1: 3 batches" in result.stderr, result.stderr
    assert "use_distributed_sampler" in result.stderr
    assert "Timed out" not in result.stderr and seconds < 60, "found at the epoch start, not by a timed-out collective"


@pytest.mark.slow
@pytest.mark.parametrize("rank", [1, 0])
def test_case_16_a_stalled_rank_fails_the_job_after_the_strategy_timeout(tmp_path, rank):
    result, seconds = _run(tmp_path, "stall", rank)
    assert f"rank {rank} stalls" in result.stdout
    assert result.returncode != 0
    assert "waited longer than the strategy's timeout (4 s, DDPStrategy(timeout=...))" in result.stderr, result.stderr
    assert seconds < 60, f"took {seconds:.0f}s"
