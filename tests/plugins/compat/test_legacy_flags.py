"""Lightning 1.x ``Trainer`` flags (issue 13 §3): each warns, then has its 1.x effect or its 2.x
equivalent's; the ones lit cannot honour fail with the fix; unknown keywords are a TypeError."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

import lit_core as lit
from lit_core.exceptions import MisconfigurationException
from lit_core.progress import ProgressBar

QUIET = {"logger": False, "accelerator": "cpu", "enable_model_summary": False, "enable_checkpointing": False}


def trainer(tmp_root: Any, **flags: Any) -> lit.Trainer:
    return lit.Trainer(default_root_dir=tmp_root, **{**QUIET, **flags})


def test_progress_bar_refresh_rate_zero_turns_the_bar_off(tmp_root):
    with pytest.deprecated_call(match=r"progress_bar_refresh_rate=0\) is deprecated.*enable_progress_bar=False"):
        t = trainer(tmp_root, progress_bar_refresh_rate=0)
    assert t.progress_bar_callback is None


def test_progress_bar_refresh_rate_sets_the_default_bars_rate(tmp_root):
    with pytest.deprecated_call(match=r"progress_bar_refresh_rate=7\) is deprecated"):
        t = trainer(tmp_root, progress_bar_refresh_rate=7)
    if t.progress_bar_callback is None:
        pytest.skip("no progress bar plugin installed")
    assert t.progress_bar_callback.refresh_rate == 7


def test_progress_bar_refresh_rate_leaves_a_users_bar_alone(tmp_root):
    class Bar(ProgressBar):
        _refresh_rate = 3

    bar = Bar()
    with pytest.deprecated_call(match="progress_bar_refresh_rate"):
        t = trainer(tmp_root, progress_bar_refresh_rate=9, callbacks=[bar])
    assert t.progress_bar_callback is bar and bar.refresh_rate == 3


def test_weights_summary(tmp_root, boring_model, capsys):
    with pytest.deprecated_call(match=r"weights_summary=None\) is deprecated.*enable_model_summary=False"):
        t = trainer(tmp_root, weights_summary=None, enable_model_summary=None, max_epochs=1, enable_progress_bar=False)
    assert t.enable_model_summary is False
    t.fit(boring_model())
    assert "Total params" not in capsys.readouterr().out

    class Nested(boring_model):
        def __init__(self) -> None:
            super().__init__()
            self.block = torch.nn.Sequential(torch.nn.Linear(2, 2))

    with pytest.deprecated_call(match=r"weights_summary='full'\).*ModelSummary\(max_depth=-1\)"):
        t = trainer(tmp_root, weights_summary="full", enable_model_summary=None, max_epochs=1, enable_progress_bar=False)
    assert t.enable_model_summary
    t.fit(Nested())
    assert "block.0" in capsys.readouterr().out  # max_depth=-1: the nested Linear is listed
    with pytest.deprecated_call(match="weights_summary='top'"):
        t = trainer(tmp_root, weights_summary="top", enable_model_summary=None, max_epochs=1, enable_progress_bar=False)
    t.fit(Nested())
    out = capsys.readouterr().out
    assert "block" in out and "block.0" not in out  # max_depth=1: the direct children only


def test_weights_summary_invalid(tmp_root):
    with pytest.raises(MisconfigurationException, match="None, 'top' or 'full'"):
        trainer(tmp_root, weights_summary="all")


@pytest.mark.parametrize(("value", "nested"), [("top", False), ("full", True)])
def test_weights_summary_depth_is_printed(tmp_root, boring_model, capsys, value, nested):
    class Nested(boring_model):
        def __init__(self) -> None:
            super().__init__()
            self.head = torch.nn.Sequential(torch.nn.Linear(1, 2), torch.nn.ReLU())

    with pytest.deprecated_call(match=f"weights_summary='{value}'"):
        t = trainer(tmp_root, weights_summary=value, enable_model_summary=None, enable_progress_bar=False, max_steps=1)
    t.fit(Nested())
    out = capsys.readouterr().out
    assert "head" in out and "Sequential" in out and "Total params" in out
    assert ("head.0" in out and "ReLU" in out) is nested


def _has_checkpointing(t: lit.Trainer) -> bool:
    return any(hasattr(cb, "best_model_path") for cb in t.callbacks)


def test_checkpoint_callback_bool(tmp_root):
    pytest.importorskip("lit_checkpoint")
    with pytest.deprecated_call(match=r"checkpoint_callback=False\) is deprecated.*enable_checkpointing=False"):
        assert not _has_checkpointing(trainer(tmp_root, checkpoint_callback=False, enable_checkpointing=None))
    with pytest.deprecated_call(match=r"checkpoint_callback=True"):
        assert _has_checkpointing(trainer(tmp_root, checkpoint_callback=True, enable_checkpointing=None))
    with pytest.raises(MisconfigurationException, match="disagree"), pytest.deprecated_call():
        trainer(tmp_root, checkpoint_callback=True, enable_checkpointing=False)


def test_checkpoint_callback_instance_is_added_to_the_callbacks(tmp_root):
    lit_checkpoint = pytest.importorskip("lit_checkpoint")
    mc = lit_checkpoint.ModelCheckpoint(dirpath=tmp_root / "ckpts")
    with pytest.deprecated_call(match=r"checkpoint_callback=ModelCheckpoint\(\.\.\.\)\) is deprecated.*callbacks=\[\.\.\.\]"):
        t = trainer(tmp_root, checkpoint_callback=mc, enable_checkpointing=None)
    assert mc in t.callbacks


def test_resume_from_checkpoint_is_the_next_fits_ckpt_path(tmp_root, boring_model):
    model = boring_model()
    first = trainer(tmp_root, max_epochs=1, enable_progress_bar=False)
    first.fit(model)
    path = tmp_root / "epoch0.ckpt"
    first.save_checkpoint(path)
    with pytest.deprecated_call(match=r"resume_from_checkpoint=.*trainer.fit\(model, ckpt_path="):
        second = trainer(tmp_root, max_epochs=2, enable_progress_bar=False, resume_from_checkpoint=str(path))
    resumed = boring_model()
    second.fit(resumed)
    assert second.global_step == 8 and second.current_epoch == 2  # one epoch of 4 batches restored, one run
    # Only the next fit: a second fit does not restore again.
    assert second.resume_from_checkpoint is None  # taken by the first fit only


def test_flush_logs_every_n_steps_is_accepted_and_says_loggers_flush_themselves(tmp_root):
    with pytest.deprecated_call(match=r"flush_logs_every_n_steps=100\) is deprecated.*ignored: loggers flush"):
        trainer(tmp_root, flush_logs_every_n_steps=100)


def _nan_model(boring_model: type) -> Any:
    class Model(boring_model):
        def training_step(self, batch, batch_idx):
            loss = self.loss(batch)
            return loss * float("nan") if batch_idx == 1 else loss

    return Model()


def test_terminate_on_nan_checks_every_step(tmp_root, boring_model):
    with pytest.deprecated_call(match=r"terminate_on_nan=True\) is deprecated"):
        t = trainer(tmp_root, terminate_on_nan=True, enable_progress_bar=False)
    assert not torch.is_anomaly_enabled()
    with pytest.raises(FloatingPointError) as info:
        t.fit(_nan_model(boring_model))
    # Found at the step itself (before its optimizer step), not later with the logging.
    assert "global step 1." in str(info.value) and "may have turned NaN earlier" not in str(info.value)
    assert t.global_step == 1
    # Without it, lit's deferred check finds it at the epoch's end.
    plain = trainer(tmp_root, enable_progress_bar=False)
    with pytest.raises(FloatingPointError, match="may have turned NaN earlier"):
        plain.fit(_nan_model(boring_model))
    assert plain.global_step == 4


def test_track_grad_norm_logs_the_norms(tmp_root, boring_model):
    seen = {}

    class Spy(lit.Callback):
        def on_before_optimizer_step(self, trainer, pl_module, optimizer):
            seen.update({n: p.grad.norm(2).item() for n, p in pl_module.named_parameters()})

    with pytest.deprecated_call(match=r"track_grad_norm=2\) is deprecated.*on_before_optimizer_step"):
        t = trainer(tmp_root, track_grad_norm=2, log_every_n_steps=1, enable_progress_bar=False, max_steps=1,
                    callbacks=[Spy()])
    t.fit(boring_model())
    metrics = t.callback_metrics
    assert metrics["grad_2.0_norm/layer.weight"].item() == pytest.approx(seen["layer.weight"])
    total = math.sqrt(seen["layer.weight"] ** 2 + seen["layer.bias"] ** 2)
    assert metrics["grad_2.0_norm_total"].item() == pytest.approx(total, rel=1e-5)
    with pytest.deprecated_call(match=r"track_grad_norm=-1\)"):
        assert not any(type(cb).__name__ == "GradNormLogger" for cb in trainer(tmp_root, track_grad_norm=-1).callbacks)


@pytest.mark.parametrize(("flags", "error"), [
    ({"amp_backend": "apex"}, "Apex is not supported.*precision='16-mixed'"),
    ({"amp_level": "O2"}, "Apex.*Remove amp_level"),
    ({"multiple_trainloader_mode": "min_size"}, r"CombinedLoader\(loaders, mode='min_size'\)"),
    ({"stochastic_weight_avg": True}, r"callbacks=\[StochasticWeightAveraging"),
    ({"ipus": 8}, "IPUs are not supported"),
    ({"weights_save_path": "w"}, r"ModelCheckpoint\(dirpath='w'\)"),
    ({"truncated_bptt_steps": 2}, "no truncated BPTT"),
    ({"track_grad_norm": 0}, "positive norm order"),
])
def test_flags_without_an_equivalent_fail_with_the_fix(tmp_root, flags, error):
    with pytest.raises(MisconfigurationException, match=error):
        trainer(tmp_root, **flags)


@pytest.mark.parametrize(("flags", "warning", "attribute", "value"), [
    ({"replace_sampler_ddp": False}, r"use Trainer\(use_distributed_sampler=False\)", "use_distributed_sampler", False),
    ({"reload_dataloaders_every_epoch": True}, r"reload_dataloaders_every_n_epochs=1", "reload_dataloaders_every_n_epochs", 1),
    ({"amp_backend": "native"}, "precision= alone chooses", "precision", "32-true"),
    ({"auto_select_gpus": True}, "find_usable_cuda_devices", "num_devices", 1),
    ({"move_metrics_to_cpu": True}, "removed in 2.0", "precision", "32-true"),
    ({"multiple_trainloader_mode": "max_size_cycle"}, "default of CombinedLoader", "precision", "32-true"),
    ({"log_gpu_memory": "all"}, r"DeviceStatsMonitor\(\)", "precision", "32-true"),
    ({"process_position": 1}, r"TQDMProgressBar\(process_position=1\)", "precision", "32-true"),
    ({"num_processes": 1}, r"accelerator='cpu', devices=1", "num_devices", 1),
    ({"stochastic_weight_avg": False}, "remove it", "precision", "32-true"),
    ({"distributed_backend": None}, r"strategy=None", "num_devices", 1),
])
def test_flags_mapped_or_accepted_with_a_warning(tmp_root, flags, warning, attribute, value):
    with pytest.deprecated_call(match=warning):
        t = trainer(tmp_root, **flags)
    assert getattr(t, attribute) == value


def test_unknown_keyword_is_a_type_error_with_suggestions(tmp_root):
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'max_epoch'\. Did you mean 'max_epochs'"):
        trainer(tmp_root, max_epoch=3)
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'weight_summary'\. Did you mean 'weights_summary'"):
        trainer(tmp_root, weight_summary=None)
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'zzz'\.$"):
        trainer(tmp_root, zzz=1)
