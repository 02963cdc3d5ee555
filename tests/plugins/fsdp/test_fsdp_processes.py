"""FSDPStrategy for real: 2 (and 4) gloo processes on the CPU, launched by lit's script re-run launcher.

Every test runs ``fsdp_script.py`` (see its docstring for what each process reports).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow


def flat(params: dict[str, list]) -> torch.Tensor:
    return torch.cat([torch.tensor(params[name]).flatten() for name in sorted(params)])


def assert_same_run(got: list[dict], expected: list[dict], atol: float) -> None:
    """Same losses on every rank, same final parameters (``atol=0``: bitwise)."""
    for mine, theirs in zip(got, expected):
        assert len(mine["losses"]) == len(theirs["losses"])
        torch.testing.assert_close(torch.tensor(mine["losses"]), torch.tensor(theirs["losses"]), atol=atol, rtol=0)
        torch.testing.assert_close(flat(mine["end"]), flat(theirs["end"]), atol=atol, rtol=0)


def test_parameters_are_sharded_and_training_matches_ddp(run_fsdp) -> None:
    fsdp = run_fsdp({"strategy": "fsdp", "wrap": "linear", "steps": 10, "validate": True})
    ddp = run_fsdp({"strategy": "ddp", "steps": 10, "validate": True})
    assert all(r["sharded"] for r in fsdp) and not any(r["sharded"] for r in ddp)
    for r in fsdp:  # each rank holds half of every parameter
        assert r["local_numel"] == {"net.0.weight": 64, "net.0.bias": 8, "net.2.weight": 128, "net.2.bias": 8,
                                    "net.4.weight": 32, "net.4.bias": 2}
        assert r["param_bytes"] * 2 == ddp[0]["param_bytes"] and r["optimizer_bytes"] * 2 == ddp[0]["optimizer_bytes"]
    assert_same_run(fsdp, ddp, atol=1e-5)
    for mine, theirs in zip(fsdp, ddp):  # trainer.validate after fit runs through the sharded module too
        assert mine["validated"][0]["val_loss"] == pytest.approx(theirs["validated"][0]["val_loss"], abs=1e-5)
    assert len(fsdp[0]["losses"]) == 10 and fsdp[0]["losses"] != fsdp[1]["losses"]  # each rank its own batches


def test_clipping_accumulation_and_activation_checkpointing_match_ddp(run_fsdp) -> None:
    """Clipping by norm takes the norm over every shard; with accumulation only the stepping batch reduces."""
    config = {"steps": 6, "clip": 0.05, "accumulate": 2}
    fsdp = run_fsdp({**config, "strategy": "fsdp", "wrap": "linear", "checkpointing": True})
    ddp = run_fsdp({**config, "strategy": "ddp"})
    unclipped = run_fsdp({"steps": 6, "accumulate": 2, "strategy": "fsdp", "wrap": "linear"})
    assert_same_run(fsdp, ddp, atol=1e-5)
    assert not torch.allclose(flat(fsdp[0]["end"]), flat(unclipped[0]["end"]), atol=1e-4), "clipping changed nothing"


def test_clipping_by_value_matches_ddp(run_fsdp) -> None:
    """Also with a parameter-count wrap policy and SHARD_GRAD_OP (parameters kept gathered until backward)."""
    config = {"steps": 4, "clip": 0.01, "clip_algorithm": "value"}
    fsdp = run_fsdp({**config, "wrap": 100, "sharding": "SHARD_GRAD_OP"})
    assert_same_run(fsdp, run_fsdp({**config, "strategy": "ddp"}), atol=1e-5)


def test_sharded_checkpoint_is_a_folder_and_resumes_exactly(run_fsdp, tmp_path: Path) -> None:
    straight = run_fsdp({"wrap": "linear", "steps": 10})
    # Saved after fit at the end of the first epoch (8 batches per process).
    saved = run_fsdp({"wrap": "linear", "steps": 8, "state_dict_type": "sharded", "save": "mid.ckpt"})
    folder = tmp_path / "out" / "mid.ckpt"
    assert sorted(os.listdir(folder)) == [".metadata", "__0_0.distcp", "__1_0.distcp", "meta.ckpt"]
    assert not [name for name in os.listdir(folder.parent) if name.startswith("mid.ckpt.")], "temporary folder left"
    resumed = run_fsdp({"wrap": "linear", "steps": 10, "state_dict_type": "sharded", "ckpt_path": "mid.ckpt"})
    for full, second in zip(straight, resumed):
        assert second["losses"] == full["losses"][8:]
        assert flat(second["end"]).tolist() == flat(full["end"]).tolist()  # bitwise
    _consolidated_resumes_in_one_process(folder, tmp_path / "whole.ckpt", saved[0]["end"])
    # torch.distributed.checkpoint reshards: 4 processes read what 2 wrote.
    four = run_fsdp({"wrap": "linear", "steps": 9, "devices": 4, "state_dict_type": "sharded", "ckpt_path": "mid.ckpt"},
                    timeout=180)
    assert four[0]["local_numel"]["net.2.weight"] == 64 and four[0]["global_step"] == 9
    for r in four:
        assert flat(r["start"]).tolist() == flat(saved[0]["end"]).tolist()


def test_full_checkpoint_loads_without_fsdp_and_into_other_world_sizes(run_fsdp, tmp_path: Path) -> None:
    import lit_core as lit

    first = run_fsdp({"wrap": "linear", "steps": 5, "save": "full.ckpt"})
    path = tmp_path / "out" / "full.ckpt"
    checkpoint = torch.load(path, weights_only=True)  # plain tensors: no FSDP, no process group
    saved = {name: value.tolist() for name, value in checkpoint["state_dict"].items()}
    assert flat(saved).tolist() == flat(first[0]["end"]).tolist()
    assert checkpoint["state_dict"]["net.2.weight"].shape == (16, 16) and checkpoint["global_step"] == 5
    assert sorted(checkpoint["optimizer_states"][0]["state"]) == list(range(6))  # numbered, as without FSDP

    script = _script()
    model = script.Model.load_from_checkpoint(path)
    assert flat(script.whole(model)).tolist() == flat(first[0]["end"]).tolist()
    # 2 -> 1: resumed by a plain one-process Trainer (weights and Adam's state).
    one = script.Model()
    trainer = lit.Trainer(accelerator="cpu", devices=1, max_steps=7, logger=False, enable_checkpointing=False,
                          enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(one, torch.utils.data.DataLoader(script.dataset(), batch_size=4), ckpt_path=str(path))
    assert flat(one.start).tolist() == flat(first[0]["end"]).tolist() and trainer.global_step == 7
    # 2 -> 4: every process keeps a quarter.
    four = run_fsdp({"wrap": "linear", "steps": 7, "devices": 4, "ckpt_path": "full.ckpt"}, timeout=180)
    assert [r["world_size"] for r in four] == [4] * 4 and four[0]["global_step"] == 7
    assert four[0]["local_numel"]["net.2.weight"] == 64
    for r in four:
        assert flat(r["start"]).tolist() == flat(first[0]["end"]).tolist()
        assert len(r["losses"]) == 2


def test_model_checkpoint_preemption_and_ckpt_path_last_with_sharded_folders(run_fsdp, tmp_path: Path) -> None:
    """ModelCheckpoint writes folders (and removes the one it displaces); a preempted job saves ``last``
    and resumes from it with ``ckpt_path="last"`` exactly as if never stopped."""
    config = {"wrap": "linear", "steps": 10, "state_dict_type": "sharded", "model_checkpoint": 3}
    straight = run_fsdp({"wrap": "linear", "steps": 10})
    assert run_fsdp({**config, "preempt_at": 7}) == []  # saved at steps 3 and 6, then preempted
    folder = tmp_path / "out" / "ckpts"
    names = sorted(os.listdir(folder))
    assert names == ["epoch=0-step=6.ckpt", "last.ckpt"], names  # step 3's folder was removed (save_top_k=1)
    assert all((folder / name / ".metadata").is_file() for name in names)
    resumed = run_fsdp({**config, "ckpt_path": "last"})
    assert resumed[0]["global_step"] == 10
    for full, second in zip(straight, resumed):
        done = 10 - len(second["losses"])
        # Signalled in step 8 (global_step 7): its check sends the flag, the next step's reads it: saved after step 9.
        assert done == 9, f"resumed from step {done}"
        assert second["losses"] == full["losses"][done:]
        assert flat(second["end"]).tolist() == flat(full["end"]).tolist()  # bitwise


def test_hybrid_shard_two_nodes_of_two_processes(run_fsdp) -> None:
    """HYBRID_SHARD: a 2-D mesh, shards within a node (halves), replicas across the two nodes; same losses as DDP."""
    config = {"steps": 6, "num_nodes": 2, "devices": 2}
    hybrid = run_fsdp({**config, "wrap": "linear", "sharding": "HYBRID_SHARD"}, timeout=180)
    assert [r["world_size"] for r in hybrid] == [4] * 4
    assert all(r["local_numel"]["net.2.weight"] == 128 for r in hybrid)  # 256 / 2 processes per node
    assert_same_run(hybrid, run_fsdp({**config, "strategy": "ddp"}, timeout=180), atol=1e-5)


def test_configure_model_on_the_meta_device(run_fsdp) -> None:
    results = run_fsdp({"wrap": "linear", "steps": 6, "meta": True})
    for r in results:
        assert r["sharded"] and r["local_numel"]["net.2.weight"] == 128
        assert all(torch.isfinite(torch.tensor(r["losses"])))
    assert flat(results[0]["start"]).abs().sum() > 0  # initialised by reset_parameters, not left empty


def _consolidated_resumes_in_one_process(folder: Path, whole: Path, weights: dict) -> None:
    """``lit_fsdp.consolidate`` makes the full file: plain weights, numbered Adam state; a one-process Trainer
    resumes from it (the optimizer state loads into a plain Adam)."""
    import lit_core as lit
    from lit_fsdp import consolidate

    consolidate(folder, whole)
    checkpoint = torch.load(whole, weights_only=True)
    assert flat({k: v.tolist() for k, v in checkpoint["state_dict"].items()}).tolist() == flat(weights).tolist()
    assert sorted(checkpoint["optimizer_states"][0]["state"]) == list(range(6)) and checkpoint["global_step"] == 8
    script = _script()
    model = script.Model()
    trainer = lit.Trainer(accelerator="cpu", devices=1, max_steps=9, logger=False, enable_checkpointing=False,
                          enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(model, torch.utils.data.DataLoader(script.dataset(), batch_size=4), ckpt_path=str(whole))
    assert flat(model.start).tolist() == flat(weights).tolist() and trainer.global_step == 9
    assert len(model.losses) == 1 and torch.isfinite(torch.tensor(model.losses)).all()


def _script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("fsdp_train_script", Path(__file__).with_name("fsdp_script.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
