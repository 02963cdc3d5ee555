"""lit-cuda where no GPU is needed: names, choice by "auto", ``devices=`` and the errors.

Availability is simulated by patching ``torch.cuda.is_available`` / ``device_count``, so these
tests mean the same on a machine with or without GPUs; nothing here runs on a GPU
(``test_cuda_gpu.py`` does).
"""

from __future__ import annotations

import contextlib

import pytest
import torch

from lit_core import registry
from lit_core.apply import move_data_to_device
from lit_core.builtins.cpu import CPUAccelerator
from lit_core.commands import describe_plugins
from lit_core.exceptions import MisconfigurationException, PluginError
from lit_cuda import CUDAAccelerator


@pytest.fixture
def gpus(monkeypatch):
    """``gpus(n)``: PyTorch reports ``n`` GPUs (0: CUDA not available)."""

    def pretend(n: int) -> None:
        monkeypatch.setattr(torch.cuda, "is_available", lambda: n > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: n)

    return pretend


def test_cuda_and_gpu_name_the_same_accelerator():
    for name in ("cuda", "gpu"):
        entry = registry.installed("accelerator")[name]
        assert entry.distribution == "lit-cuda" and entry.load() is CUDAAccelerator
    rows = {row["name"]: row for row in describe_plugins() if row["kind"] == "accelerator"}
    assert rows["cuda"]["available"] is rows["gpu"]["available"] is torch.cuda.is_available()
    assert CUDAAccelerator.pin_memory and not CPUAccelerator.pin_memory


@pytest.mark.parametrize("name", ["cuda", "gpu"])
def test_accelerator_by_name_with_gpus(make_trainer, gpus, name):
    gpus(2)
    trainer = make_trainer(accelerator=name, devices=[1])
    assert isinstance(trainer.accelerator, CUDAAccelerator) and trainer.accelerator.name == "cuda"
    assert trainer.device_ids == [1] and trainer.device == torch.device("cuda", 1)


def test_auto_prefers_cuda_when_a_gpu_is_visible(make_trainer, gpus):
    gpus(1)
    trainer = make_trainer(accelerator="auto")
    assert trainer.accelerator.name == "cuda" and trainer.device == torch.device("cuda", 0)
    gpus(0)
    assert make_trainer(accelerator="auto").accelerator.name == "cpu"
    assert make_trainer(accelerator="auto", disable_plugins=["cuda", "gpu"]).accelerator.name == "cpu"


def test_seed_gpus_flag_lands_on_cuda(make_trainer, gpus):
    gpus(2)
    with pytest.warns(DeprecationWarning, match=r"gpus=1\) is deprecated.*accelerator='cuda', devices=1"):
        trainer = make_trainer(gpus=1)
    assert isinstance(trainer.accelerator, CUDAAccelerator) and trainer.device_ids == [0]


@pytest.mark.parametrize(("devices", "ids"), [("auto", [0, 1, 2]), (-1, [0, 1, 2]), ("-1", [0, 1, 2]), (2, [0, 1]),
                                              ([2, 0], [2, 0]), ("0,2", [0, 2]), ("1", [0])])
def test_devices_forms(gpus, devices, ids):
    gpus(3)
    assert CUDAAccelerator().parse_devices(devices) == ids


@pytest.mark.parametrize(("flags", "message"), [
    ({"accelerator": "cuda"}, None),
    ({"accelerator": "gpu", "devices": 1}, None),
    ({"gpus": 1}, r"gpus=1\) is deprecated"),
])
def test_cuda_without_a_gpu_says_what_to_do(make_trainer, gpus, monkeypatch, flags, message):
    gpus(0)
    monkeypatch.setattr(torch.version, "cuda", "12.4")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    expected = (r"accelerator='cuda' cannot run on this machine: PyTorch .* \(CUDA 12.4\) sees no GPU with "
                r"CUDA_VISIBLE_DEVICES='': check the driver with `nvidia-smi`.*accelerator='cpu'")
    with pytest.warns(DeprecationWarning, match=message) if message else contextlib.nullcontext(), \
            pytest.raises(MisconfigurationException, match=expected):
        make_trainer(**flags)


def test_cuda_on_a_cpu_only_torch_build(make_trainer, gpus, monkeypatch):
    gpus(0)
    monkeypatch.setattr(torch.version, "cuda", None)
    monkeypatch.setattr(torch.version, "hip", None)
    with pytest.raises(MisconfigurationException, match=r"is a CPU-only build. Install a CUDA build of torch.*accelerator='cpu'"):
        make_trainer(accelerator="cuda")


def test_more_devices_than_gpus_names_both_numbers(make_trainer, gpus):
    gpus(2)
    with pytest.raises(MisconfigurationException, match=r"devices=4 asks for 4 cuda device\(s\) but this machine has 2: ask for at most 2"):
        make_trainer(accelerator="cuda", devices=4)
    with pytest.raises(MisconfigurationException, match=r"devices=\[0, 3\] asks for cuda device index 3 but this machine has 2: use indices below 2"):
        make_trainer(accelerator="gpu", devices=[0, 3])


@pytest.mark.parametrize("flags", [{"accelerator": "cuda"}, {"accelerator": "gpu"}])
def test_without_lit_cuda_installed_names_the_distribution(make_trainer, hide_distribution, flags):
    hide_distribution("lit-cuda")
    with pytest.raises(PluginError, match=r"needs the lit-cuda plugin, which is not installed: `pip install lit-cuda`"):
        make_trainer(**flags)
    assert make_trainer().accelerator.name == "cpu"


def test_setup_device_rejects_other_devices():
    with pytest.raises(MisconfigurationException, match=r"was given the device cpu: expected a cuda device"):
        CUDAAccelerator().setup_device(torch.device("cpu"))


class RecordingCPU(CPUAccelerator):
    """The CPU accelerator, keeping each device it is asked to set up and whether data was prepared then."""

    def __init__(self) -> None:
        self.prepared = False
        self.set_up: list[tuple[torch.device, bool]] = []

    def setup_device(self, device: torch.device) -> None:
        self.set_up.append((device, self.prepared))


def test_trainer_sets_up_the_device_of_each_stage_before_prepare_data(make_trainer, boring_model):
    """The kernel's half of ``torch.cuda.set_device``: once per stage, after the ranks are known."""
    accelerator = RecordingCPU()

    class Model(boring_model):
        def prepare_data(self) -> None:
            accelerator.prepared = True

    trainer = make_trainer(accelerator=accelerator, limit_train_batches=1, limit_val_batches=1)
    model = Model()
    trainer.fit(model)
    accelerator.prepared = False
    trainer.validate(model, verbose=False)
    assert accelerator.set_up == [(torch.device("cpu"), False)] * 2


def test_batches_move_to_an_accelerator_without_blocking():
    """The kernel's move to a non-CPU device (what lit-cuda relies on) asks for ``non_blocking``."""
    seen: list[dict] = []

    class Recorded(torch.Tensor):
        def to(self, *args, **kwargs):
            seen.append(kwargs)
            return super().to(*args, **kwargs)

    batch = {"x": torch.zeros(2).as_subclass(Recorded), "y": [torch.ones(1).as_subclass(Recorded)]}
    moved = move_data_to_device(batch, torch.device("meta"))
    assert moved["x"].device.type == moved["y"][0].device.type == "meta"
    assert seen == [{"non_blocking": True}] * 2


def test_device_stats_default_to_nothing():
    assert CPUAccelerator().get_device_stats(torch.device("cpu")) == {}

