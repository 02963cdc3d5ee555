"""Issue 14, the Trainer's own guards: cleanup after a failing ``on_exception`` (case 3),
hyperparameters that are not plain data (case 4), every ``Trainer`` flag validated when it is
built (case 10), ``single_device`` with several devices (case 12), and the same plugin or one
callback state twice (case 20).
"""

from __future__ import annotations

import inspect
import math
import os
import signal
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import torch

import lit_core as lit
from lit_core.callbacks import ModelCheckpoint
from lit_core.exceptions import MisconfigurationException
from lit_core.plugin_api import Strategy
from lit_core.strategies import SingleDeviceStrategy

# --------------------------------------------------------------------------------------------
# Case 3: a callback whose on_exception raises
# --------------------------------------------------------------------------------------------


class RaisingOnException(lit.Callback):
    """A callback whose ``on_exception`` is itself broken."""

    def on_exception(self, trainer: lit.Trainer, pl_module: lit.LightningModule, exception: BaseException) -> None:
        raise RuntimeError("on_exception is broken too")


class SeesException(lit.Callback):
    """Records that its ``on_exception`` ran (it comes after the broken one)."""

    def __init__(self) -> None:
        self.seen: list[BaseException] = []

    def on_exception(self, trainer: lit.Trainer, pl_module: lit.LightningModule, exception: BaseException) -> None:
        self.seen.append(exception)


def _keep(signum: int, frame: Any) -> None:
    """The program's own handler, which fit must put back."""


def test_case_03_cleanup_runs_when_on_exception_raises(make_trainer, boring_model, tmp_root: Path) -> None:
    class FailsAtStep3(boring_model):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            loss = self.loss(batch)
            self.log("train_loss", loss)
            if batch_idx == 2:
                raise ValueError("the original failure")
            return loss

    after = SeesException()
    trainer = make_trainer(logger="csv", log_every_n_steps=1, callbacks=[RaisingOnException(), after],
                           enable_checkpointing=True)
    assert any(isinstance(cb, ModelCheckpoint) for cb in trainer.callbacks)  # it installs the SIGTERM handler
    previous = {s: signal.signal(s, _keep) for s in (signal.SIGTERM, signal.SIGUSR1)}
    try:
        with pytest.raises(ValueError, match="the original failure") as raised:
            trainer.fit(FailsAtStep3())
        assert signal.getsignal(signal.SIGTERM) is _keep
        assert signal.getsignal(signal.SIGUSR1) is _keep
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    # The broken on_exception is reported with the original error, not instead of it.
    notes = "\n".join(getattr(raised.value, "__notes__", []))
    assert "RaisingOnException" in notes and "on_exception is broken too" in notes
    # Every other cleanup step ran: the next callback's on_exception, and the logger's finalize.
    assert len(after.seen) == 1 and isinstance(after.seen[0], ValueError)
    metrics = Path(trainer.logger.log_dir) / "metrics.csv"
    assert metrics.exists(), "the csv logger was never finalized"
    assert "train_loss" in metrics.read_text()
    assert trainer.interrupted


def test_case_03_every_cleanup_failure_is_reported_and_the_original_raised(make_trainer, boring_model) -> None:
    class BrokenOnException(lit.Callback):
        def on_exception(self, trainer: lit.Trainer, pl_module: lit.LightningModule, exception: BaseException) -> None:
            raise OSError("disk gone")

    class Fails(boring_model):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            loss = self.loss(batch)
            self.log("train_loss", loss)
            if batch_idx == 1:
                raise KeyError("original")
            return loss

    trainer = make_trainer(logger="csv", log_every_n_steps=1, callbacks=[BrokenOnException(), BrokenOnException()])
    with pytest.raises(KeyError, match="original") as raised:
        trainer.fit(Fails())
    assert sum("disk gone" in note for note in raised.value.__notes__) == 2  # each failure reported, none lost
    assert (Path(trainer.logger.log_dir) / "metrics.csv").exists()


# --------------------------------------------------------------------------------------------
# Case 4: hyperparameters that are not plain data
# --------------------------------------------------------------------------------------------


class _Opaque:
    """An object with no import path a checkpoint could use (defined in a test module)."""

    def __init__(self) -> None:
        self.state = [1, 2, 3]


class _TensorSubclass(torch.Tensor):
    """A tensor subclass: torch.save pickles it by class, which weights_only loading refuses."""


def _make_odd_model(boring_model: type) -> type:
    class OddHparams(boring_model):
        def __init__(self, fn: Any = None, thing: Any = None, module: Any = None, scale: Any = None,
                     nested: Any = None, lr: float = 0.1) -> None:
            super().__init__()
            self.save_hyperparameters()

    return OddHparams


def _odd_values() -> dict[str, Any]:
    cyclic: list[Any] = [1]
    cyclic.append(cyclic)
    return {
        "fn": lambda x: x * 2,
        "thing": _Opaque(),
        "module": math,
        "scale": torch.ones(2).as_subclass(_TensorSubclass),
        "nested": {"ok": 1, "cycle": cyclic, "obj": _Opaque()},
    }


def _load_every_checkpoint(folder: Path, cls: type, **given: Any) -> list[Path]:
    files = sorted(folder.rglob("*.ckpt"))
    assert files, f"no checkpoint written under {folder}"
    for path in files:
        checkpoint = torch.load(path, weights_only=True)  # loads: no object was pickled
        assert checkpoint["hyper_parameters"]["lr"] == 0.1
        restored = cls.load_from_checkpoint(path, **given)
        assert restored.hparams.lr == 0.1
    return files


def test_case_04_non_plain_hparams_never_fail_a_checkpoint_save(make_trainer, boring_model, tmp_root: Path) -> None:
    cls = _make_odd_model(boring_model)
    with pytest.warns(UserWarning, match="left out of checkpoints"):
        model = cls(**_odd_values())
    checkpoint = ModelCheckpoint(dirpath=tmp_root / "ckpts", every_n_train_steps=1, save_top_k=-1, save_last=True)
    trainer = make_trainer(max_epochs=2, logger="csv", callbacks=[checkpoint])
    trainer.fit(model)
    assert trainer.global_step == 8
    files = _load_every_checkpoint(tmp_root / "ckpts", cls, fn=abs, thing=None, nested=None)
    assert len(files) == 9  # one per step, and last


def test_case_04_non_plain_hparams_never_fail_a_preemption_save(make_trainer, boring_model, tmp_root: Path) -> None:
    base = _make_odd_model(boring_model)

    class Preempted(base):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            if batch_idx == 1:
                os.kill(os.getpid(), signal.SIGTERM)  # the cluster stops the job mid-epoch
            return super().training_step(batch, batch_idx)

    with pytest.warns(UserWarning, match="left out of checkpoints"):
        model = Preempted(**_odd_values())
    checkpoint = ModelCheckpoint(dirpath=tmp_root / "ckpts", save_last=True)
    trainer = make_trainer(callbacks=[checkpoint])
    with pytest.raises(SystemExit) as stopped:
        trainer.fit(model)
    assert stopped.value.code == 0
    files = _load_every_checkpoint(tmp_root / "ckpts", Preempted, fn=abs, thing=None, nested=None)
    assert [p.name for p in files] == ["last.ckpt"]


# --------------------------------------------------------------------------------------------
# Case 10: every Trainer flag is validated when the Trainer is built
# --------------------------------------------------------------------------------------------

#: One row per ``Trainer.__init__`` parameter: a bad value, the exception type and a fragment of its
#: message (which names the flag and what is allowed). A new flag without a row fails the test below.
BAD_FLAGS: dict[str, tuple[Any, type[BaseException], str]] = {
    "accelerator": (5, MisconfigurationException, "accelerator=5"),
    "strategy": (3.5, MisconfigurationException, "strategy=3.5"),
    "devices": (-1, TypeError, "devices=-1"),  # on the CPU: not os.cpu_count() processes
    "num_nodes": (0, ValueError, "num_nodes=0 must be a positive int"),
    "precision": (32.5, ValueError, "precision=32.5"),
    "logger": (42, MisconfigurationException, "logger=42"),
    "callbacks": (7, MisconfigurationException, "callbacks=7"),
    "plugins": ([1.5], MisconfigurationException, "plugins=[1.5]"),
    "disable_plugins": ("tqdm", MisconfigurationException, "disable_plugins='tqdm'"),
    "fast_dev_run": (-1, MisconfigurationException, "fast_dev_run=-1"),
    "max_epochs": ("ten", TypeError, "max_epochs='ten' must be an int >= -1"),
    "min_epochs": (-3, MisconfigurationException, "min_epochs=-3 must be an int >= 0"),
    "max_steps": (-5, MisconfigurationException, "max_steps=-5 must be an int >= -1"),
    "min_steps": (2.5, TypeError, "min_steps=2.5 must be an int >= 0"),
    "max_time": ({"hourz": 1}, MisconfigurationException, "max_time={'hourz': 1}"),
    "limit_train_batches": (-1, MisconfigurationException, "limit_train_batches=-1"),
    "limit_val_batches": (1.5, MisconfigurationException, "limit_val_batches=1.5"),
    "limit_test_batches": ("all", MisconfigurationException, "limit_test_batches='all'"),
    "limit_predict_batches": (-0.5, MisconfigurationException, "limit_predict_batches=-0.5"),
    "overfit_batches": (-2, MisconfigurationException, "overfit_batches=-2"),
    "val_check_interval": (1.5, MisconfigurationException, "val_check_interval=1.5"),
    "check_val_every_n_epoch": (0, MisconfigurationException, "check_val_every_n_epoch=0 must be an int >= 1"),
    "num_sanity_val_steps": (-2, MisconfigurationException, "num_sanity_val_steps=-2 must be an int >= -1"),
    "log_every_n_steps": (-1, MisconfigurationException, "log_every_n_steps=-1 must be an int >= 0"),
    "enable_checkpointing": ("yes", TypeError, "enable_checkpointing='yes' must be True, False or None"),
    "enable_progress_bar": (2, TypeError, "enable_progress_bar=2 must be True, False or None"),
    "enable_model_summary": ("no", TypeError, "enable_model_summary='no' must be True, False or None"),
    "accumulate_grad_batches": (0, MisconfigurationException, "accumulate_grad_batches=0 must be an int >= 1"),
    "gradient_clip_val": (-1.0, MisconfigurationException, "gradient_clip_val=-1.0"),
    "gradient_clip_algorithm": ("clip", MisconfigurationException, "gradient_clip_algorithm='clip'"),
    "deterministic": ("yes", MisconfigurationException, "deterministic='yes'"),
    "benchmark": ("fast", TypeError, "benchmark='fast' must be True, False or None"),
    "inference_mode": (None, TypeError, "inference_mode=None must be True or False"),
    "use_distributed_sampler": ("no", TypeError, "use_distributed_sampler='no' must be True or False"),
    "profiler": (object(), TypeError, "is not a profiler (no start, stop, profile"),
    "detect_anomaly": (2, TypeError, "detect_anomaly=2 must be True or False"),
    "barebones": ("true", TypeError, "barebones='true' must be True or False"),
    "sync_batchnorm": (None, TypeError, "sync_batchnorm=None must be True or False"),
    "reload_dataloaders_every_n_epochs": (-1, MisconfigurationException, "reload_dataloaders_every_n_epochs=-1"),
    "default_root_dir": (5, TypeError, "default_root_dir=5"),
    "prepare_data_per_node": ("yes", TypeError, "prepare_data_per_node='yes' must be True, False or None"),
    "gpus": (1.5, MisconfigurationException, "gpus=1.5"),
    "tpu_cores": (2.5, MisconfigurationException, "tpu_cores=2.5"),
    # Keywords that are not flags go to the Lightning 1.x translation, which names the close match.
    "legacy_kwargs": ({"max_epoch": 3}, TypeError, "'max_epoch'. Did you mean 'max_epochs'"),
}


def _trainer_parameters() -> list[str]:
    return [name for name in inspect.signature(lit.Trainer.__init__).parameters if name != "self"]


def test_case_10_every_trainer_flag_has_a_bad_value_row() -> None:
    assert set(_trainer_parameters()) == set(BAD_FLAGS), (
        f"Trainer flags without a row: {sorted(set(_trainer_parameters()) - set(BAD_FLAGS))}; "
        f"rows for flags that no longer exist: {sorted(set(BAD_FLAGS) - set(_trainer_parameters()))}"
    )


@pytest.mark.parametrize("flag", sorted(BAD_FLAGS))
def test_case_10_every_trainer_flag_is_validated_in_init(flag: str, tmp_root: Path) -> None:
    value, expected, fragment = BAD_FLAGS[flag]
    flags = dict(value) if flag == "legacy_kwargs" else {flag: value}
    defaults = {"accelerator": "cpu", "logger": False, "enable_progress_bar": False, "enable_checkpointing": False}
    with pytest.raises(expected) as raised:
        lit.Trainer(**{**defaults, **flags})
    message = str(raised.value)
    assert fragment in message, message
    if expected is not TypeError or flag != "legacy_kwargs":
        assert isinstance(raised.value, MisconfigurationException), type(raised.value)


def test_case_10_the_issue_flags_name_what_is_allowed(make_trainer) -> None:
    with pytest.raises(MisconfigurationException, match=r"max_epochs=-5 must be an int >= -1 \(-1: no limit\)"):
        make_trainer(max_epochs=-5)
    with pytest.raises(MisconfigurationException, match=r"max_steps=-5 must be an int >= -1 \(-1: no limit\)"):
        make_trainer(max_steps=-5)
    with pytest.raises(MisconfigurationException, match="max_epochs='ten'"):
        make_trainer(max_epochs="ten")
    with pytest.raises(MisconfigurationException, match="check_val_every_n_epoch=0"):
        make_trainer(check_val_every_n_epoch=0)
    with pytest.raises(MisconfigurationException, match=r"devices=-1 .*CPU.*os.cpu_count\(\)"):
        make_trainer(devices=-1)
    with pytest.raises(MisconfigurationException, match=r"devices='-1'"):
        make_trainer(devices="-1")


#: Values that stay valid: Lightning's usages, and lit's documented extensions.
GOOD_FLAGS: list[dict[str, Any]] = [
    {"max_epochs": -1, "max_steps": 10}, {"max_epochs": None, "max_steps": -1}, {"max_steps": None},
    {"min_epochs": 0, "min_steps": 0}, {"max_time": "00:00:01:00"}, {"max_time": timedelta(minutes=1)},
    {"max_time": {"minutes": 1}}, {"check_val_every_n_epoch": None, "val_check_interval": 2},
    {"num_sanity_val_steps": -1}, {"log_every_n_steps": 0}, {"fast_dev_run": True}, {"fast_dev_run": 3},
    {"deterministic": "warn"}, {"deterministic": True, "benchmark": False}, {"gradient_clip_val": 0},
    {"gradient_clip_val": 0.5, "gradient_clip_algorithm": "value"}, {"default_root_dir": Path("x")},
    {"devices": 1}, {"devices": "1"}, {"devices": "auto"}, {"precision": 32}, {"precision": "64"},
    {"logger": True}, {"logger": "csv"}, {"callbacks": []}, {"plugins": None}, {"disable_plugins": ["tqdm"]},
    {"limit_train_batches": 0.5, "limit_val_batches": 0, "overfit_batches": 0.0}, {"prepare_data_per_node": False},
    {"max_epochs": torch.tensor(3).item()}, {"accumulate_grad_batches": 2},
    {"enable_model_summary": 0, "benchmark": 1, "detect_anomaly": 0},  # 0/1 as configs write bools
]


@pytest.mark.parametrize("flags", GOOD_FLAGS, ids=[",".join(f"{k}={v!r}" for k, v in f.items()) for f in GOOD_FLAGS])
def test_case_10_valid_flags_still_build(flags: dict[str, Any], tmp_root: Path) -> None:
    lit.Trainer(**{"accelerator": "cpu", "enable_progress_bar": False, "enable_checkpointing": False, **flags})


def test_case_10_max_steps_none_is_no_limit(make_trainer, boring_model) -> None:
    trainer = make_trainer(max_steps=None, max_epochs=2)  # Lightning 1.x's default
    trainer.fit(boring_model())
    assert trainer.max_steps == -1 and trainer.global_step == 8


# --------------------------------------------------------------------------------------------
# Case 12: single_device with several devices
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["single_device", SingleDeviceStrategy(), type("MyOneDevice", (SingleDeviceStrategy,), {})()],
                         ids=["name", "instance", "subclass"])
def test_case_12_single_device_with_two_devices_is_an_error(make_trainer, strategy: Any) -> None:
    with pytest.raises(MisconfigurationException, match=r"runs one process on one device.*devices=2.*strategy='ddp'"):
        make_trainer(strategy=strategy, devices=2)


def test_case_12_single_device_with_two_nodes_is_an_error(make_trainer) -> None:
    with pytest.raises(MisconfigurationException, match="num_nodes=2"):
        make_trainer(strategy="single_device", num_nodes=2)


class OneProcess(Strategy):
    """A third party's strategy that keeps the base class's one-process launch."""

    name = "one_process"


class SPMD(Strategy):
    """One process that drives every device it is given."""

    devices_per_process = None


class PerDevice(Strategy):
    """Starts a process per device (its launch is never called here)."""

    multi_process = True


def test_case_12_a_third_party_one_process_strategy_with_two_devices_is_an_error(make_trainer) -> None:
    """The Trainer reads the strategy's declaration (multi_process, devices_per_process), not its class."""
    with pytest.raises(MisconfigurationException, match=r"strategy='one_process' \(OneProcess\) runs one process on one device, "
                       r"but devices=2, num_nodes=1 asks for 2.*sets multi_process = True"):
        make_trainer(strategy=OneProcess(), devices=2)
    assert make_trainer(strategy=SPMD(), devices=2).num_devices == 2, "one process drives both devices"
    assert make_trainer(strategy=PerDevice(), devices=2).num_devices == 2
    assert make_trainer(strategy=OneProcess(), devices=1).num_devices == 1


def test_case_12_single_device_with_one_device_trains(make_trainer, boring_model) -> None:
    trainer = make_trainer(strategy="single_device", devices=1)
    trainer.fit(boring_model())
    assert trainer.world_size == 1 and trainer.global_step == 4


# --------------------------------------------------------------------------------------------
# Case 20: one plugin twice, two callbacks sharing a state key
# --------------------------------------------------------------------------------------------


class StepCounter:
    """A generic plugin (hook implementations only)."""

    def __init__(self) -> None:
        self.steps = 0

    @lit.hookimpl
    def lit_train_batch_end(self) -> None:
        self.steps += 1


def test_case_20_same_plugin_instance_twice_is_a_clear_error(make_trainer) -> None:
    counter = StepCounter()
    with pytest.raises(MisconfigurationException, match=r"plugins=\[...\] has the same StepCounter object twice") as raised:
        make_trainer(plugins=[counter, counter])
    assert "_name2plugin" not in str(raised.value) and "lit.defaults" not in str(raised.value)


def test_case_20_same_callback_instance_twice_is_a_clear_error(make_trainer) -> None:
    seen = SeesException()
    with pytest.raises(MisconfigurationException, match="the same SeesException object twice"):
        make_trainer(callbacks=[seen], plugins=[seen])


class Counter(lit.Callback):
    """A stateful callback whose state key is its class name (the default)."""

    def __init__(self) -> None:
        self.count = 0

    def on_train_batch_end(self, *args: Any) -> None:
        self.count += 1

    def state_dict(self) -> dict[str, Any]:
        return {"count": self.count}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.count = state_dict["count"]


def test_case_20_two_stateful_callbacks_with_one_state_key_are_an_error(make_trainer) -> None:
    with pytest.raises(RuntimeError, match=r"Found more than one stateful callback of type `Counter`.*state_key"):
        make_trainer(callbacks=[Counter(), Counter()])


def test_case_20_stateful_callback_twice_through_configure_callbacks(make_trainer, boring_model) -> None:
    class Also(Counter):
        @property
        def state_key(self) -> str:
            return "Counter"

    class Configures(boring_model):
        def configure_callbacks(self) -> list[lit.Callback]:
            return [Also()]

    trainer = make_trainer(callbacks=[Counter()])
    with pytest.raises(RuntimeError, match="Found more than one stateful callback of type `Also`"):
        trainer.fit(Configures())


def test_case_20_stateless_or_distinct_callbacks_stay_allowed(make_trainer, tmp_root: Path) -> None:
    make_trainer(callbacks=[SeesException(), SeesException()])  # no state: nothing can collide
    make_trainer(callbacks=[ModelCheckpoint(monitor="a"), ModelCheckpoint(monitor="b")])



def test_case_04_hparams_changed_after_training_starts_never_fail_a_save(make_trainer, boring_model, tmp_root: Path) -> None:
    class ChangesHparams(boring_model):
        def __init__(self, lr: float = 0.1) -> None:
            super().__init__()
            self.save_hyperparameters()

        def on_train_batch_start(self, batch: Any, batch_idx: int) -> None:
            cyclic: list[Any] = [batch_idx]
            cyclic.append(cyclic)
            self.hparams.history = cyclic  # not data, and set after every check could run
            self.hparams.scale = torch.ones(1).as_subclass(_TensorSubclass)

    checkpoint = ModelCheckpoint(dirpath=tmp_root / "ckpts", every_n_train_steps=1, save_top_k=-1)
    make_trainer(callbacks=[checkpoint]).fit(ChangesHparams())
    assert len(_load_every_checkpoint(tmp_root / "ckpts", ChangesHparams)) == 4


def test_case_03_a_failing_save_on_exception_still_restores_the_signal_handlers(make_trainer, boring_model, tmp_root: Path) -> None:
    class FailsThenCannotSave(boring_model):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            if batch_idx == 2:
                raise ValueError("the original failure")
            return self.loss(batch)

        def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
            raise RuntimeError("cannot save either")

    checkpoint = ModelCheckpoint(dirpath=tmp_root / "ckpts", save_on_exception=True)
    trainer = make_trainer(callbacks=[checkpoint])
    previous = signal.signal(signal.SIGTERM, _keep)
    try:
        with pytest.raises(ValueError, match="the original failure") as raised:
            trainer.fit(FailsThenCannotSave())
        assert signal.getsignal(signal.SIGTERM) is _keep
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert any("cannot save either" in note for note in raised.value.__notes__)


def test_case_20_configure_callbacks_returning_one_callback_twice(make_trainer, boring_model) -> None:
    twice = SeesException()

    class Configures(boring_model):
        def configure_callbacks(self) -> list[lit.Callback]:
            return [twice, twice]

    with pytest.raises(MisconfigurationException, match=r"configure_callbacks.*the same SeesException object twice"):
        make_trainer().fit(Configures())


@pytest.mark.parametrize("devices", [0, "0", []])
def test_case_10_devices_that_select_nothing(make_trainer, devices: Any) -> None:
    with pytest.raises(MisconfigurationException, match=r"selects no device"):
        make_trainer(devices=devices)
