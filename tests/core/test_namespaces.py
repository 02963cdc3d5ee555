"""Lightning's module layout in lit_core (issue 13 §1): lazy names from entry points, and their errors."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from test_plugins import make_dist  # tests/core is on sys.path under pytest (rootdir conftest)

import lit_core as lit
from lit_core import lightning_names, namespace, registry
from lit_core.namespace import NameConflictError, NameNotInstalledError

DECISIONS = (Path(__file__).resolve().parents[2] / "docs" / "decisions.rst").read_text()

#: Lightning 2.6's public names, module by module (the ``__all__`` lists, or the public imports of
#: modules without one), written here as data because Lightning is not a dependency.
LIGHTNING_2_6: dict[str, tuple[str, ...]] = {
    "lit_core": ("Callback", "LightningDataModule", "LightningModule", "Trainer", "seed_everything", "__version__"),
    "lit_core.callbacks": (
        "BackboneFinetuning", "BaseFinetuning", "BasePredictionWriter", "BatchSizeFinder", "Callback", "Checkpoint",
        "DeviceStatsMonitor", "EarlyStopping", "GradientAccumulationScheduler", "LambdaCallback",
        "LearningRateFinder", "LearningRateMonitor", "ModelCheckpoint", "ModelPruning", "ModelSummary",
        "OnExceptionCheckpoint", "ProgressBar", "RichModelSummary", "RichProgressBar", "StochasticWeightAveraging",
        "SpikeDetection", "ThroughputMonitor", "Timer", "TQDMProgressBar", "EMAWeightAveraging", "WeightAveraging",
    ),
    "lit_core.callbacks.progress": ("ProgressBar", "RichProgressBar", "TQDMProgressBar"),
    "lit_core.loggers": ("CometLogger", "CSVLogger", "LitLogger", "Logger", "MLFlowLogger", "TensorBoardLogger",
                         "WandbLogger"),
    "lit_core.strategies": ("DDPStrategy", "DeepSpeedStrategy", "FSDPStrategy", "ModelParallelStrategy",
                            "ParallelStrategy", "SingleDeviceStrategy", "Strategy"),
    "lit_core.accelerators": ("Accelerator", "CPUAccelerator", "CUDAAccelerator",
                              "MPSAccelerator", "XLAAccelerator", "find_usable_cuda_devices"),
    "lit_core.plugins": ("AsyncCheckpointIO", "CheckpointIO", "TorchCheckpointIO", "XLACheckpointIO",
                         "BitsandbytesPrecision", "DeepSpeedPrecision", "DoublePrecision", "HalfPrecision",
                         "MixedPrecision", "Precision", "TransformerEnginePrecision", "FSDPPrecision", "XLAPrecision",
                         "LayerSync", "TorchSyncBatchNorm"),
    "lit_core.plugins.precision": ("BitsandbytesPrecision", "DeepSpeedPrecision", "DoublePrecision", "FSDPPrecision",
                                   "HalfPrecision", "MixedPrecision", "Precision", "TransformerEnginePrecision",
                                   "XLAPrecision"),
    "lit_core.plugins.environments": ("ClusterEnvironment", "KubeflowEnvironment", "LightningEnvironment",
                                      "LSFEnvironment", "MPIEnvironment", "SLURMEnvironment",
                                      "TorchElasticEnvironment", "XLAEnvironment"),
    "lit_core.plugins.io": ("AsyncCheckpointIO", "CheckpointIO", "TorchCheckpointIO", "XLACheckpointIO"),
    "lit_core.profilers": ("AdvancedProfiler", "PassThroughProfiler", "Profiler", "PyTorchProfiler", "SimpleProfiler",
                           "XLAProfiler"),
    "lit_core.tuner": ("Tuner", "batch_size_scaling", "lr_finder", "tuning"),
    "lit_core.tuner.tuning": ("Tuner",),
    "lit_core.tuner.lr_finder": ("_LRFinder",),
    "lit_core.utilities": ("AttributeDict", "CombinedLoader", "disable_possible_user_warnings",
                           "find_shared_parameters", "grad_norm", "GradClipAlgorithmType", "is_picklable",
                           "is_shared_filesystem", "LightningEnum", "measure_flops", "move_data_to_device",
                           "rank_zero_deprecation", "rank_zero_info", "rank_zero_only", "rank_zero_warn",
                           "set_shared_parameters", "suggested_max_num_workers"),
    "lit_core.utilities.rank_zero": ("rank_zero_debug", "rank_zero_info", "rank_zero_only", "rank_zero_warn",
                                     "rank_zero_deprecation"),
    "lit_core.utilities.seed": ("seed_everything",),
    "lit_core.utilities.exceptions": ("MisconfigurationException",),
    "lit_core.core": ("LightningDataModule", "LightningModule"),
    "lit_core.trainer": ("Trainer", "seed_everything"),
    "lit_core.trainer.states": ("RunningStage", "TrainerFn", "TrainerState", "TrainerStatus"),
    "lit_core.cli": ("LightningCLI", "LightningArgumentParser", "SaveConfigCallback", "cli_lightning_logo"),
    "lit_core.demos": ("BoringDataModule", "BoringModel", "DemoModel", "LightningLSTM", "LightningTransformer",
                       "SequenceSampler", "SimpleLSTM", "Transformer", "WikiText2"),
}

def _absent_or_planned(module: str, name: str) -> bool:
    """Whether importing ``name`` says lit lacks it on purpose or which issue brings it."""
    try:
        getattr(importlib.import_module(module), name)
    except NameNotInstalledError as exc:
        return "deliberately lacks" in str(exc) or "is not in lit yet: issue" in str(exc)
    return False


@pytest.mark.parametrize("module", sorted(LIGHTNING_2_6))
def test_every_lightning_2_6_public_name_resolves_or_is_documented_absent(module):
    unresolved = []
    for name in LIGHTNING_2_6[module]:
        try:
            getattr(importlib.import_module(module), name)
        except ImportError as exc:
            if not _absent_or_planned(module, name):
                unresolved.append(f"{name}: {exc}")
            elif f"``{name}``" not in DECISIONS:
                unresolved.append(f"{name}: absent or planned, but docs/decisions.rst does not name it")
    assert not unresolved, f"{module}: " + "; ".join(unresolved)


def test_every_absent_or_planned_name_is_in_decisions_rst():
    names = {n for table in (lightning_names.ABSENT, lightning_names.PLANNED) for group in table.values() for n in group}
    assert sorted(n for n in names if f"``{n}``" not in DECISIONS) == []


def test_importing_the_namespaces_imports_no_plugin():
    script = textwrap.dedent("""
        import sys
        import lit_core, lit_core.callbacks, lit_core.loggers, lit_core.strategies, lit_core.accelerators
        import lit_core.plugins, lit_core.plugins.io, lit_core.plugins.environments, lit_core.profilers
        import lit_core.tuner, lit_core.utilities, lit_core.core, lit_core.cli, lit_core.trainer.states
        import lit_core.callbacks.model_checkpoint, lit_core.loggers.wandb
        plugins = lambda: sorted(m for m in sys.modules if m.split(".")[0] in (
            "lit_checkpoint", "lit_tqdm", "lit_rich", "lit_tensorboard", "lit_wandb", "lit_mlflow", "lit_ddp",
            "lit_cuda", "lit_xla", "lit_amp", "lit_callbacks", "wandb", "mlflow", "tensorboard"))
        print(plugins())
        from lit_core.callbacks import ModelCheckpoint
        print(plugins())
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == "[]"
    assert "lit_checkpoint" in out[1] and "lit_tqdm" not in out[1]


def test_submodules_are_attributes_of_lit_core_as_in_lightning():
    """``import pytorch_lightning as pl; pl.loggers.CSVLogger(...)`` ports too."""
    script = "import lit_core as pl; print(pl.loggers.CSVLogger.__name__, pl.utilities.grad_norm.__name__, pl.tuner.__name__)"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["CSVLogger", "grad_norm", "lit_core.tuner"]
    assert not hasattr(lit, "not_a_submodule")


def test_a_name_resolves_to_the_providers_class_and_is_remembered():
    from lit_checkpoint import ModelCheckpoint
    from lit_core.callbacks import ModelCheckpoint as FromNamespace
    from lit_core.callbacks.model_checkpoint import ModelCheckpoint as FromSubmodule
    from lit_core.loggers.tensorboard import TensorBoardLogger as Tb
    from lit_tensorboard import TensorBoardLogger

    assert FromNamespace is ModelCheckpoint is FromSubmodule and Tb is TensorBoardLogger
    assert "ModelCheckpoint" in vars(lit.callbacks)  # later lookups are plain attribute reads
    assert issubclass(ModelCheckpoint, lit.callbacks.Checkpoint)


@pytest.fixture
def hide_in_namespaces(monkeypatch):
    """``hide("lit-checkpoint")``: namespaces see the entry points as if it were not installed."""
    shown = namespace.claims

    def hide(distribution: str) -> None:
        namespace.refresh()  # forget names resolved before the distribution was hidden

        def claims(group):
            return {n: tuple(c for c in cs if c.distribution != distribution) for n, cs in shown(group).items()}

        monkeypatch.setattr(namespace, "claims", claims)
        monkeypatch.setattr(lightning_names, "_installed", lambda dist: dist != distribution)

    yield hide
    monkeypatch.undo()
    namespace.refresh()


def test_a_missing_provider_is_an_import_error_naming_the_distribution(hide_in_namespaces):
    hide_in_namespaces("lit-checkpoint")
    with pytest.raises(ImportError, match=re.escape("ModelCheckpoint is in lit-checkpoint: pip install lit-checkpoint")):
        from lit_core.callbacks import ModelCheckpoint  # noqa: F401
    with pytest.raises(ImportError, match="pip install lit-checkpoint"):
        importlib.import_module("lit_core.callbacks.model_checkpoint").ModelCheckpoint
    assert "ModelCheckpoint" not in dir(lit.callbacks)
    assert "TQDMProgressBar" in dir(lit.callbacks)


def test_an_installed_distribution_that_lacks_the_name_is_told_to_upgrade(hide_in_namespaces, monkeypatch):
    hide_in_namespaces("lit-callbacks")  # its declarations are hidden, as in an older lit-callbacks...
    monkeypatch.setattr(lightning_names, "_installed", lambda dist: True)  # ...that is installed
    with pytest.raises(ImportError, match=r"EarlyStopping is in lit-callbacks, which is installed but does not declare"):
        from lit_core.callbacks.early_stopping import EarlyStopping  # noqa: F401


def test_a_deliberately_absent_name_says_so_and_points_to_decisions():
    with pytest.raises(ImportError, match=r"lit_core.strategies.DeepSpeedStrategy is a Lightning name lit deliberately lacks; docs/decisions.rst"):
        from lit_core.strategies import DeepSpeedStrategy  # noqa: F401
    with pytest.raises(ImportError, match=r"lit_core.plugins.precision.FSDPPrecision is a Lightning name lit deliberately lacks"):
        from lit_core.plugins.precision import FSDPPrecision  # noqa: F401


def test_a_planned_name_names_its_issue(monkeypatch):
    from lit_core import lightning_names

    monkeypatch.setattr(lightning_names, "PLANNED", {"lit_core.strategies": {"ModelParallelStrategy": 99}})
    with pytest.raises(ImportError, match=r"lit_core.strategies.ModelParallelStrategy is not in lit yet: issue 99 brings it"):
        from lit_core.strategies import ModelParallelStrategy  # noqa: F401


def test_unknown_names_and_submodules_behave_like_any_module():
    assert not hasattr(lit.callbacks, "NotALightningName")
    with pytest.raises(AttributeError):
        lit.callbacks.__wrapped__
    from lit_core.callbacks import early_stopping  # a submodule: imported, not looked up as a name

    assert early_stopping.__name__ == "lit_core.callbacks.early_stopping"


def test_dir_lists_what_is_importable_now():
    names = dir(lit.loggers)
    assert {"Logger", "CSVLogger", "TensorBoardLogger", "WandbLogger", "MLFlowLogger"} <= set(names)
    assert "CometLogger" not in names
    for name in ("CSVLogger", "MLFlowLogger"):
        assert getattr(lit.loggers, name).__name__ == name


@pytest.fixture
def site(tmp_path, monkeypatch):
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    registry.refresh()
    yield root
    for module in ("lit_one", "lit_two"):
        sys.modules.pop(module, None)
    registry.refresh()


CALLBACK_SOURCE = "import lit_core as lit\nclass Shared(lit.Callback):\n    pass\nclass EarlyStopping(lit.Callback):\n    pass\n"


def test_a_name_claimed_by_two_distributions_is_an_error_naming_both(site):
    for dist, module in (("lit-one", "lit_one"), ("lit-two", "lit_two")):
        make_dist(site, dist, "1.0", {module: CALLBACK_SOURCE}, {"lit_core.callbacks": {"Shared": f"{module}:Shared"}})
    registry.refresh()
    with pytest.raises(NameConflictError, match=r"lit_core.callbacks.Shared is claimed by lit-(one|two) and by lit-(two|one)"):
        from lit_core.callbacks import Shared  # noqa: F401
    assert "lit_one" not in sys.modules  # nothing was imported to find out


def test_a_distribution_claiming_a_kernel_name_is_an_error_naming_it_and_lit_core(site):
    make_dist(site, "lit-one", "1.0", {"lit_one": CALLBACK_SOURCE}, {"lit_core.callbacks": {"Callback": "lit_one:Shared"}})
    registry.refresh()
    with pytest.raises(NameConflictError, match=r"lit_core.callbacks.Callback is claimed by lit-one and by lit-core"):
        dir(lit.callbacks)


def test_trainer_finds_early_stopping_by_the_class_the_namespace_resolves(site, make_trainer, boring_model, hide_in_namespaces):
    make_dist(site, "lit-one", "1.0", {"lit_one": CALLBACK_SOURCE},
              {"lit_core.callbacks": {"EarlyStopping": "lit_one:EarlyStopping"}})
    registry.refresh()
    hide_in_namespaces("lit-callbacks")  # lit-one's EarlyStopping is the only one
    plain = make_trainer(callbacks=[lit.Callback()])
    assert plain.early_stopping_callback is None and plain.early_stopping_callbacks == []
    assert "lit_one" not in sys.modules  # answered without importing the provider

    from lit_core.callbacks import EarlyStopping

    first, second = EarlyStopping(), EarlyStopping()
    trainer = make_trainer(callbacks=[lit.Callback(), first, second])
    assert trainer.early_stopping_callback is first and trainer.early_stopping_callbacks == [first, second]


def test_checkpoint_callback_is_the_model_checkpoint_and_best_resolves(make_trainer, boring_model, tmp_root):
    from lit_core.callbacks import ModelCheckpoint

    ckpt = ModelCheckpoint(dirpath=tmp_root / "ckpt", monitor="val_loss")
    trainer = make_trainer(callbacks=[ckpt], enable_checkpointing=True, max_epochs=2)
    assert trainer.checkpoint_callback is ckpt and trainer.checkpoint_callbacks == [ckpt]
    trainer.fit(boring_model())
    assert trainer.checkpoint_callback.best_model_path
    trainer.validate(ckpt_path="best")  # restored from what checkpoint_callback names

    no_ckpt = make_trainer()
    assert no_ckpt.checkpoint_callback is None and no_ckpt.checkpoint_callbacks == []
    no_ckpt.fit(boring_model())
    with pytest.raises(lit.utilities.exceptions.MisconfigurationException, match="no checkpoint callback is active"):
        no_ckpt.validate(boring_model(), ckpt_path="best")


def test_grad_norm_matches_torch_norms():
    from lit_core.utilities import grad_norm

    layer = torch.nn.Linear(3, 2)
    layer(torch.randn(4, 3)).sum().backward()
    norms = grad_norm(layer, norm_type=2)
    assert set(norms) == {"grad_2.0_norm/weight", "grad_2.0_norm/bias", "grad_2.0_norm_total"}
    torch.testing.assert_close(norms["grad_2.0_norm/weight"], layer.weight.grad.norm(2))
    total = torch.cat([layer.weight.grad.flatten(), layer.bias.grad]).norm(2)
    torch.testing.assert_close(norms["grad_2.0_norm_total"], total)
    assert grad_norm(torch.nn.Linear(2, 2), "inf") == {}
    with pytest.raises(ValueError, match="positive number"):
        grad_norm(layer, 0)


def test_small_lightning_utilities():
    from lit_core.utilities import GradClipAlgorithmType, is_picklable

    assert GradClipAlgorithmType.NORM == "NORM" and GradClipAlgorithmType.from_str("value") is GradClipAlgorithmType.VALUE
    assert is_picklable({"lr": 0.1}) and not is_picklable(lambda: 0)
    from lit_core.utilities import suggested_max_num_workers

    assert suggested_max_num_workers(1) >= 1 and suggested_max_num_workers(10_000) == 1
    with pytest.raises(ValueError, match="at least 1"):
        suggested_max_num_workers(0)


def test_lit_command_lives_in_commands_and_cli_has_the_logo(capsys):
    from lit_core import commands
    from lit_core.cli import cli_lightning_logo

    cli_lightning_logo()
    assert capsys.readouterr().out.strip()
    assert commands.main(["plugins", "--json"]) == 0
    assert '"kind": "accelerator"' in capsys.readouterr().out


LIGHTNING_PROGRAM = '''
import torch
from torch.utils.data import DataLoader, TensorDataset

import lit_core as L
from lit_core.callbacks import ModelCheckpoint
from lit_core.loggers import CSVLogger
from lit_core.trainer.states import TrainerFn
from lit_core.utilities import grad_norm, rank_zero_only
from lit_core.utilities.exceptions import MisconfigurationException
from lit_core.utilities.rank_zero import rank_zero_info
from lit_core.utilities.seed import seed_everything


class Regressor(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

    def on_before_optimizer_step(self, optimizer):
        self.log_dict(grad_norm(self.net, norm_type=2))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)


@rank_zero_only
def report(trainer):
    rank_zero_info(f"best: {trainer.checkpoint_callback.best_model_path}")
    print("FN", trainer.state.fn == TrainerFn.FITTING, "BEST", bool(trainer.checkpoint_callback.best_model_path))


seed_everything(7)
data = TensorDataset(torch.randn(32, 4), torch.randn(32, 1))
trainer = L.Trainer(max_epochs=2, accelerator="cpu", logger=CSVLogger("logs"), enable_progress_bar=False,
                    enable_model_summary=False, callbacks=[ModelCheckpoint(monitor="val_loss", save_top_k=1)])
trainer.fit(Regressor(), DataLoader(data, batch_size=8), DataLoader(data, batch_size=8))
report(trainer)
assert issubclass(MisconfigurationException, Exception)
print("KEYS", sorted(k for k in trainer.callback_metrics if k.startswith("grad_2.0_norm")))
'''


def test_a_lightning_shaped_program_runs_with_only_its_imports_changed(tmp_root):
    (tmp_root / "train.py").write_text(LIGHTNING_PROGRAM)
    out = subprocess.run([sys.executable, "train.py"], capture_output=True, text=True, cwd=tmp_root).stdout
    assert "FN True BEST True" in out, out
    assert "KEYS ['grad_2.0_norm/bias', 'grad_2.0_norm/weight', 'grad_2.0_norm_total']" in out, out
