"""lit-xla on XLA's CPU backend, with real torch_xla (run in ``.venv-xla``, ``PJRT_DEVICE=CPU``).

Loss parity tolerance: the XLA runs and the eager CPU reference execute the same float32
operations on the same batches from the same weights, but XLA compiles them into fused kernels
whose reductions may sum in another order, so a loss can differ by a few ulps (measured:
1.2e-7 over 24 steps). SGD on this linear regression contracts such differences instead of
amplifying them. ``TOL = 1e-5`` is two orders of magnitude above that, and two below the
smallest change of the loss between steps (~1e-2): a missed, repeated or misplaced update, or
a wrong batch, fails it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch_xla.core.xla_model as xm
import torch_xla.debug.metrics as met

import lit_core as lit
from lit_core.exceptions import MisconfigurationException
from lit_xla import XLAAccelerator, XLASPMDStrategy, XLAStrategy

sys.path.insert(0, str(Path(__file__).parent / "scripts"))
from common import Recorded, fit, loader

TOL = 1e-5


@pytest.fixture(scope="module")
def eager() -> tuple[list[float], torch.Tensor]:
    """Losses and final weight of three epochs in eager mode on the CPU: the reference."""
    _, model = fit(accelerator="cpu")
    return model.cpu_losses(), model.layer.weight.detach().clone()


def close(a: list[float], b: list[float]) -> float:
    assert len(a) == len(b)
    return max(abs(x - y) for x, y in zip(a, b))


def test_single_device_matches_eager_cpu(tmp_path, monkeypatch, eager):
    monkeypatch.chdir(tmp_path)
    trainer, model = fit(accelerator="xla", devices=1)
    assert isinstance(trainer.accelerator, XLAAccelerator) and trainer.device == torch.device("xla", 0)
    assert model.layer.weight.device.type == "xla" and model.losses[0].device.type == "xla"
    losses, weight = eager
    assert close(model.cpu_losses(), losses) < TOL
    torch.testing.assert_close(model.layer.weight.detach().cpu(), weight, atol=TOL, rtol=0)


def test_auto_and_tpu_alias_and_seed_flag_pick_xla(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert lit.Trainer(logger=False).accelerator.name == "xla"  # PJRT_DEVICE=CPU: an XLA device is there
    assert isinstance(lit.Trainer(accelerator="tpu", logger=False).accelerator, XLAAccelerator)
    with pytest.warns(DeprecationWarning, match=r"tpu_cores=1\) is deprecated.*accelerator='xla', devices=1"):
        trainer = lit.Trainer(tpu_cores=1, logger=False)
    assert isinstance(trainer.accelerator, XLAAccelerator) and trainer.num_devices == 1


def test_more_devices_than_exist(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CPU_NUM_DEVICES", raising=False)
    with pytest.raises(MisconfigurationException, match=r"devices=8 asks for 8 xla device\(s\) but this machine has 1"):
        lit.Trainer(accelerator="xla", devices=8, logger=False)
    with pytest.warns(DeprecationWarning), pytest.raises(MisconfigurationException, match="this machine has 1"):
        lit.Trainer(tpu_cores=8, logger=False)


def test_several_devices_pick_the_xla_strategy(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CPU_NUM_DEVICES", "4")
    assert isinstance(lit.Trainer(accelerator="xla", devices=4, logger=False).strategy, XLAStrategy)
    with pytest.warns(DeprecationWarning):
        assert isinstance(lit.Trainer(tpu_cores=4, logger=False).strategy, XLAStrategy)
    assert isinstance(lit.Trainer(accelerator="xla", strategy="xla_spmd", logger=False).strategy, XLASPMDStrategy)


def _metric_count(name: str) -> int:
    data = met.metric_data(name)
    return data[0] if data else 0


class _Counters(lit.Callback):
    """After each training batch: (graphs compiled, graphs executed, device-to-host transfers) so far."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, int, int]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        xm.wait_device_ops()  # executions are counted when they finish, asynchronously
        self.rows.append((met.counter_value("UncachedCompile") or 0, _metric_count("ExecuteTime"),
                          _metric_count("TransferFromDeviceTime")))


class _Logged(Recorded):
    def training_step(self, batch, batch_idx):
        loss = super().training_step(batch, batch_idx)
        self.log("loss", loss)
        return loss


@pytest.mark.parametrize("logging", [False, True], ids=["no-logger", "log-every-step"])
def test_one_graph_per_step_over_100_steps(tmp_path, monkeypatch, logging):
    """Compilations stop after the first steps; each step runs one graph, logged values included
    (the optimizer step's sync computes them; reading them runs nothing more, and the training
    loader adds no boundary of its own); without logging, nothing is read from the device."""
    monkeypatch.chdir(tmp_path)
    counters = _Counters()
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(800, 4), torch.randn(800, 1)), batch_size=8)
    trainer = lit.Trainer(accelerator="xla", max_steps=100, logger="csv" if logging else False, log_every_n_steps=1,
                          enable_progress_bar=False, enable_checkpointing=False, enable_model_summary=False,
                          callbacks=[counters])
    trainer.fit(_Logged() if logging else Recorded(), data)
    assert trainer.global_step == 100 and len(counters.rows) == 100
    (compiled_early, executed_early, read_early), (compiled, executed, read) = counters.rows[9], counters.rows[99]
    assert compiled == compiled_early, f"recompiled during the run: {[row[0] for row in counters.rows]}"
    assert executed - executed_early == 90, "one graph execution per step"
    if not logging:
        assert read == read_early, "device-to-host reads on the hot path"


def test_bf16_true_on_xla(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    trainer, model = fit(accelerator="xla", precision="bf16-true")
    assert trainer.precision == "bf16-true"
    assert model.layer.weight.dtype == torch.bfloat16 and model.losses[0].dtype == torch.bfloat16
    losses = model.cpu_losses()
    assert all(torch.isfinite(torch.tensor(losses)))
    assert sum(losses[-8:]) < sum(losses[:8])  # the last epoch fits better than the first


def test_spmd_over_four_devices_matches_eager_cpu(run_script, eager):
    seen = run_script("spmd.py", env={"CPU_NUM_DEVICES": "4"})
    assert seen["strategy"] == "XLASPMDStrategy" and seen["devices"] == 4 and seen["world_size"] == 1
    assert seen["sharding"] == "{devices=[4,1]0,1,2,3}"  # the batch dimension split over the 4 devices
    losses, weight = eager
    assert close(seen["losses"], losses) < TOL
    torch.testing.assert_close(torch.tensor(seen["weight"]), weight, atol=TOL, rtol=0)


def test_xla_strategy_through_torch_xla_launch(run_script, tmp_path, eager):
    """World size 1 (XLA:CPU cannot rendezvous several processes, pytorch/xla#5005)."""
    seen_parent = run_script("launch.py", str(tmp_path))
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen["pid"] != seen_parent["parent_pid"], "the stage did not run in a launched process"
    assert seen["dist_backend"] == "xla" and seen["world_size"] == 1 and seen["global_rank"] == 0
    assert seen["device"] == "xla:0"
    assert seen["sum"] == [3.0, 5.0] and seen["max"] == [3.0, 5.0] and seen["gathered"] == [1, 2]
    assert seen["broadcast"] == {"a": [1, 2]}
    losses, weight = eager
    assert close(seen["losses"], losses) < TOL
    assert abs(seen["synced_loss"] - sum(losses[-8:]) / 8) < TOL  # sync_dist epoch mean through the strategy's reduce
    # What came back to the parent: the trained weights, the loop's position, the status.
    assert seen_parent["global_step"] == 24 and seen_parent["current_epoch"] == 3
    assert seen_parent["status"] == "TrainerStatus.FINISHED" and seen_parent["weight_device"] == "cpu"
    torch.testing.assert_close(torch.tensor(seen_parent["weight"]), weight, atol=TOL, rtol=0)
    checkpoint = torch.load(tmp_path / "launched.ckpt", map_location="cpu", weights_only=True)
    assert checkpoint["state_dict"]["layer.weight"].device.type == "cpu"


def _all_cpu(obj) -> bool:
    if isinstance(obj, torch.Tensor):
        return obj.device.type == "cpu"
    if isinstance(obj, dict):
        return all(_all_cpu(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return all(_all_cpu(v) for v in obj)
    return True


def test_checkpoint_from_xla_resumes_on_cpu_and_back(tmp_path, monkeypatch, eager):
    """XLA -> CPU -> XLA, one epoch each, ends where three epochs in one go end."""
    monkeypatch.chdir(tmp_path)
    losses, weight = eager
    trainer, model = fit(max_epochs=1, accelerator="xla")
    trainer.save_checkpoint(tmp_path / "xla.ckpt")
    saved = torch.load(tmp_path / "xla.ckpt", map_location="cpu", weights_only=True)  # plain CPU torch.load
    assert _all_cpu(saved) and saved["optimizer_states"] and saved["global_step"] == 8

    model = Recorded()
    trainer = lit.Trainer(accelerator="cpu", max_epochs=2, logger=False, enable_progress_bar=False,
                          enable_checkpointing=False, enable_model_summary=False)
    trainer.fit(model, loader(), ckpt_path=tmp_path / "xla.ckpt")
    assert trainer.global_step == 16 and close(model.cpu_losses(), losses[8:16]) < TOL
    trainer.save_checkpoint(tmp_path / "cpu.ckpt")

    model = Recorded()
    trainer = lit.Trainer(accelerator="xla", max_epochs=3, logger=False, enable_progress_bar=False,
                          enable_checkpointing=False, enable_model_summary=False)
    trainer.fit(model, loader(), ckpt_path=tmp_path / "cpu.ckpt")
    assert trainer.global_step == 24 and close(model.cpu_losses(), losses[16:]) < TOL
    torch.testing.assert_close(model.layer.weight.detach().cpu(), weight, atol=TOL, rtol=0)


def test_resume_last_on_xla(tmp_path, monkeypatch, eager):
    from lit_checkpoint import ModelCheckpoint

    monkeypatch.chdir(tmp_path)
    losses, weight = eager

    def run(max_epochs: int, **fit_args) -> tuple[lit.Trainer, Recorded]:
        model = Recorded()
        trainer = lit.Trainer(accelerator="xla", max_epochs=max_epochs, logger=False, enable_progress_bar=False,
                              enable_model_summary=False, num_sanity_val_steps=0, default_root_dir=tmp_path,
                              callbacks=[ModelCheckpoint(dirpath=tmp_path / "ckpts", save_last=True)])
        trainer.fit(model, loader(), **fit_args)
        return trainer, model

    run(2)
    last = torch.load(tmp_path / "ckpts" / "last.ckpt", map_location="cpu", weights_only=True)
    assert _all_cpu(last) and last["global_step"] == 16
    trainer, model = run(3, ckpt_path="last")
    assert trainer.global_step == 24 and close(model.cpu_losses(), losses[16:]) < TOL
    torch.testing.assert_close(model.layer.weight.detach().cpu(), weight, atol=TOL, rtol=0)


class Dropping(Recorded):
    """``Recorded`` with dropout before the layer: each step draws a mask from XLA's generator."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(torch.nn.functional.dropout(x, p=0.5, training=self.training))


def test_resume_restores_xla_random_state(tmp_path, monkeypatch):
    """Two epochs in one go, and one epoch + a resume from its checkpoint, draw the same dropout masks."""
    monkeypatch.chdir(tmp_path)

    def run(max_epochs: int, **fit_args) -> tuple[lit.Trainer, Dropping]:
        torch.manual_seed(7)  # the same weights, and the same XLA generator state at the start
        model = Dropping()
        trainer = lit.Trainer(accelerator="xla", max_epochs=max_epochs, logger=False, enable_progress_bar=False,
                              enable_checkpointing=False, enable_model_summary=False, num_sanity_val_steps=0)
        trainer.fit(model, loader(), **fit_args)
        return trainer, model

    _, whole = run(2)
    trainer, first = run(1)
    trainer.save_checkpoint(tmp_path / "epoch1.ckpt")
    saved = torch.load(tmp_path / "epoch1.ckpt", map_location="cpu", weights_only=True)
    assert isinstance(saved["rng_states"]["xla"], int)
    _, resumed = run(2, ckpt_path=tmp_path / "epoch1.ckpt")
    assert close(first.cpu_losses(), whole.cpu_losses()[:8]) < TOL
    assert close(resumed.cpu_losses(), whole.cpu_losses()[8:]) < TOL  # the second epoch's masks, not the first's


def test_mnist_example_trains_on_xla(tmp_path, monkeypatch):
    """The walk-through's LitMNIST, on its offline data (scikit-learn's digits in MNIST's frame)."""
    monkeypatch.chdir(tmp_path)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
    from mnist import LitMNIST, MNISTDataModule

    lit.seed_everything(42)
    datamodule = MNISTDataModule(data_dir=tmp_path / "none", download=False, batch_size=64)
    model = LitMNIST()
    trainer = lit.Trainer(accelerator="xla", max_epochs=3, logger=False, enable_progress_bar=False,
                          enable_checkpointing=False, enable_model_summary=False)
    trainer.fit(model, datamodule=datamodule)
    assert datamodule.source == "sklearn-digits" and model.layer_1.weight.device.type == "xla"
    result = trainer.test(model, datamodule=datamodule, verbose=False)[0]
    assert result["test_acc"] > 0.85, result


def test_runtime_untouched_before_a_stage():
    """Building a Trainer must not start the XLA runtime: torch_xla.launch refuses to start after it."""
    code = ("import lit_core as lit, torch_xla; lit.Trainer(accelerator='xla', strategy='xla', logger=False); "
            "print(torch_xla._XLAC._xla_runtime_is_initialized())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PJRT_DEVICE": "CPU"})
    assert out.stdout.strip().splitlines()[-1] == "False", out.stderr[-2000:]
