"""FSDP on CUDA (nccl), one GPU per process: what a one-GPU machine can check. Skipped without CUDA.

Select with ``pytest -m gpu tests/plugins/fsdp`` (tests/device_check.sh does).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.slow,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_nccl_and_bf16_mixed_precision_policy(run_fsdp, tmp_path: Path) -> None:
    """bf16-mixed: parameters gathered in bfloat16, shards (and the optimizer) in float32; close to float32."""
    config = {"accelerator": "cuda", "devices": 1, "wrap": "linear", "steps": 10}
    [bf16] = run_fsdp({**config, "precision": "bf16-mixed", "save": "full.ckpt"})
    [fp32] = run_fsdp(config)
    assert bf16["backend"] == "nccl" and bf16["sharded"]
    assert bf16["gathered_dtypes"] == ["torch.bfloat16"] and fp32["gathered_dtypes"] == ["torch.float32"]
    assert bf16["dtypes"] == ["torch.float32"]
    torch.testing.assert_close(torch.tensor(bf16["losses"]), torch.tensor(fp32["losses"]), atol=5e-2, rtol=5e-2)
    checkpoint = torch.load(tmp_path / "out" / "full.ckpt", weights_only=True, map_location="cpu")
    assert checkpoint["state_dict"]["net.2.weight"].shape == (16, 16)
    assert checkpoint["state_dict"]["net.2.weight"].dtype == torch.float32


def test_sharded_checkpoint_on_cuda_resumes_exactly(run_fsdp) -> None:
    config = {"accelerator": "cuda", "devices": 1, "wrap": "linear", "state_dict_type": "sharded"}
    [straight] = run_fsdp({**config, "steps": 18})
    run_fsdp({**config, "steps": 16, "save": "mid.ckpt"})  # one process: 16 batches an epoch
    [resumed] = run_fsdp({**config, "steps": 18, "ckpt_path": "mid.ckpt"})
    assert resumed["losses"] == straight["losses"][16:]
    assert resumed["end"] == straight["end"]


def test_cpu_offload_keeps_the_shards_in_cpu_memory(run_fsdp) -> None:
    config = {"accelerator": "cuda", "devices": 1, "wrap": "linear", "steps": 6}
    [offloaded] = run_fsdp({**config, "offload": True})
    [on_gpu] = run_fsdp(config)
    assert offloaded["devices"] == ["cpu"] and on_gpu["devices"] == ["cuda"]
    torch.testing.assert_close(torch.tensor(offloaded["losses"]), torch.tensor(on_gpu["losses"]), atol=1e-4, rtol=1e-4)
