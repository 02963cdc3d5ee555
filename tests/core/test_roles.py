"""Default roles (``lit.roles`` entry points): a distribution becomes a default by declaring it.

Third-party distributions here are real: a ``.dist-info`` folder with ``entry_points.txt`` and
a module on ``sys.path``, found by ``importlib.metadata`` like any installed package.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import lit_core as lit
from lit_core import commands, registry, roles
from lit_core.exceptions import PluginError

MakeDist = Callable[..., Path]

PLUGINS = """
import torch
import lit_core as lit
from lit_core.accelerators import Accelerator
from lit_core.strategies import Strategy

ROWS = []


class RowsLogger(lit.Logger):
    def __init__(self, save_dir="."):
        self.rows = ROWS

    @property
    def name(self):
        return "rows"

    def log_metrics(self, metrics, step=None):
        self.rows.append((step, dict(metrics)))

    def log_hyperparams(self, params, *args, **kwargs):
        pass


class Bar(lit.Callback):
    is_progress_bar = True
    name = "plainbar"


class Saver(lit.Callback):
    name = "saver"


class TableSummary(lit.Callback):
    # a default model summary: made with max_depth=, prints from on_fit_start as Lightning's ModelSummary
    name = "tablesummary"

    def __init__(self, max_depth=1):
        self.max_depth = max_depth

    def on_fit_start(self, trainer, pl_module):
        print(f"TABLE depth={self.max_depth} {type(pl_module).__name__} {sum(p.numel() for p in pl_module.parameters())}")


class Pretend(Accelerator):
    name = "pretend"
    priority = -5

    @classmethod
    def device_count(cls):
        return 4

    def get_device(self, index):
        return torch.device("cpu")


class Spread(Strategy):
    # a multi-device strategy: only chosen here, never run
    name = "spread"
    multi_process = True
"""


@pytest.fixture
def make_dist(install_distribution: MakeDist, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeDist]:
    """``make_dist(name, entry_points, module=...)``: install a distribution with ``PLUGINS`` as its module."""

    def make(name: str, entry_points: dict[str, dict[str, str]], module: str = "lit_rolesdemo") -> Path:
        return install_distribution(name, {module: PLUGINS}, entry_points)

    yield make
    monkeypatch.undo()  # hide_distribution's registry.installed, before the caches are cleared
    registry.refresh()


def rows_logger_dist(make_dist: MakeDist, name: str = "lit-rows", module: str = "lit_rolesdemo") -> None:
    make_dist(name, {"lit.loggers": {"rows": f"{module}:RowsLogger"}, "lit.roles": {"default_logger": "rows"}}, module=module)


def test_first_party_defaults_come_from_the_roles_they_declare(tmp_path):
    trainer = lit.Trainer(default_root_dir=tmp_path, accelerator="cpu")
    assert roles.fill("default_logger") == "tensorboard"
    assert type(trainer.logger).__name__ == "TensorBoardLogger"
    assert trainer.progress_bar_callback.name == roles.fill("default_progress_bar") == "tqdm"
    assert type(trainer.checkpoint_callback).__name__ == "ModelCheckpoint"


def test_a_third_party_default_logger_is_used_and_logs_real_training(make_dist, tmp_path, boring_model, random_loader):
    rows_logger_dist(make_dist)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        trainer = lit.Trainer(default_root_dir=tmp_path, accelerator="cpu", max_steps=3, log_every_n_steps=1,
                              enable_progress_bar=False, enable_checkpointing=False, enable_model_summary=False)
    (message,) = [str(w.message) for w in record if "default_logger" in str(w.message)]
    # lit-rows and lit-tensorboard both claim it: the first by distribution name wins, and lit says so
    assert "'rows' (lit-rows)" in message and "'tensorboard' (lit-tensorboard)" in message and "disable_plugins" in message
    assert type(trainer.logger).__name__ == "RowsLogger"

    class Logged(boring_model):
        def training_step(self, batch, batch_idx):
            loss = self.loss(batch)
            self.log("train_loss", loss)
            return loss

    trainer.fit(Logged(), random_loader())
    assert [step for step, metrics in trainer.logger.rows if "train_loss" in metrics] == [0, 1, 2]


def test_precedence_flags_disable_plugins_and_lit_core_fallback(make_dist, tmp_path, hide_distribution):
    rows_logger_dist(make_dist)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert type(lit.Trainer(default_root_dir=tmp_path, logger="csv").logger).__name__ == "CSVLogger", "a flag wins"
        chosen = lit.Trainer(default_root_dir=tmp_path, disable_plugins=["rows"]).logger
    assert type(chosen).__name__ == "TensorBoardLogger", "disable_plugins removes a claim"
    hide_distribution("lit-tensorboard")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one claimant besides lit-core: nothing to warn about
        assert type(lit.Trainer(default_root_dir=tmp_path).logger).__name__ == "RowsLogger", "beats lit-core's csv"
    assert type(lit.Trainer(default_root_dir=tmp_path, disable_plugins=["rows"]).logger).__name__ == "CSVLogger"
    assert lit.Trainer(default_root_dir=tmp_path, disable_plugins=["rows", "csv"]).logger is None


def test_autoload_off_uses_only_lit_core_claims(make_dist, tmp_path, monkeypatch):
    rows_logger_dist(make_dist)
    monkeypatch.setenv("LIT_DISABLE_PLUGIN_AUTOLOAD", "1")
    trainer = lit.Trainer(default_root_dir=tmp_path)
    assert type(trainer.logger).__name__ == "CSVLogger" and not trainer.callbacks


def test_a_third_party_progress_bar_and_checkpointing(make_dist, tmp_path, hide_distribution):
    make_dist("lit-plainbar", {"lit.callbacks": {"plainbar": "lit_rolesdemo:Bar", "saver": "lit_rolesdemo:Saver"},
                               "lit.roles": {"default_progress_bar": "plainbar", "default_checkpointing": "saver"}})
    hide_distribution("lit-tqdm")
    hide_distribution("lit-checkpoint")
    trainer = lit.Trainer(default_root_dir=tmp_path, logger=False)
    assert [cb.name for cb in trainer.callbacks] == ["plainbar", "saver"]
    assert trainer.progress_bar_callback is trainer.callbacks[0]
    quiet = lit.Trainer(default_root_dir=tmp_path, logger=False, enable_progress_bar=False, enable_checkpointing=False)
    assert quiet.callbacks == []
    assert [cb.name for cb in lit.Trainer(default_root_dir=tmp_path, logger=False, callbacks=["saver"]).callbacks] == \
        ["saver", "plainbar"], "a callback given by name is not added twice"


def test_multi_device_strategy_role_fills_strategy_auto_for_several_devices(make_dist, tmp_path, hide_distribution):
    make_dist("lit-pretend", {"lit.accelerators": {"pretend": "lit_rolesdemo:Pretend"},
                              "lit.strategies": {"spread": "lit_rolesdemo:Spread"},
                              "lit.roles": {"multi_device_strategy": "spread"}})
    hide_distribution("lit-ddp")
    trainer = lit.Trainer(default_root_dir=tmp_path, logger=False, accelerator="pretend", devices=2)
    assert type(trainer.strategy).__name__ == "Spread"
    with pytest.raises(PluginError, match=r"devices=2, num_nodes=1 needs the strategy declared for the "
                                          r"'multi_device_strategy' role, and disable_plugins blocks it \('spread'\)"):
        lit.Trainer(default_root_dir=tmp_path, logger=False, accelerator="pretend", devices=2, disable_plugins=["spread"])


def test_without_a_multi_device_strategy_the_error_names_lit_ddp(hide_distribution, tmp_path):
    hide_distribution("lit-ddp")
    with pytest.raises(PluginError, match=r"devices=2, num_nodes=1 needs the lit-ddp plugin, which is not installed: "
                                          r"`pip install lit-ddp`, or pass strategy= explicitly"):
        lit.Trainer(default_root_dir=tmp_path, accelerator="cpu", devices=2)


def test_gpus_flag_uses_the_accelerator_declared_for_it(make_dist, tmp_path, hide_distribution):
    make_dist("lit-pretend", {"lit.accelerators": {"pretend": "lit_rolesdemo:Pretend"},
                              "lit.roles": {"gpus_accelerator": "pretend"}})
    hide_distribution("lit-cuda")
    with pytest.warns(DeprecationWarning, match=r"gpus=1\) is deprecated: use Trainer\(accelerator='pretend', devices=1\)"):
        trainer = lit.Trainer(default_root_dir=tmp_path, logger=False, gpus=1)
    assert trainer.accelerator.name == "pretend" and trainer.num_devices == 1


def test_seed_accelerator_dp_means_the_multi_device_strategy(tmp_path):
    with pytest.warns(DeprecationWarning, match=r"accelerator='dp'\) is deprecated"):
        trainer = lit.Trainer(default_root_dir=tmp_path, logger=False, accelerator="dp")
    assert trainer.accelerator.name != "dp"
    with pytest.warns(DeprecationWarning, match=r"accelerator='ddp_spawn'\) is deprecated"):
        assert lit.Trainer(default_root_dir=tmp_path, logger=False, accelerator="ddp_spawn", devices=1).strategy.name == "ddp_spawn"


def test_a_claim_on_an_unknown_role_or_a_missing_plugin_is_ignored(make_dist, tmp_path):
    make_dist("lit-odd", {"lit.roles": {"default_profiler": "simple", "default_logger": "not_installed"}})
    assert roles.fill("default_logger") == "tensorboard"
    assert type(lit.Trainer(default_root_dir=tmp_path).logger).__name__ == "TensorBoardLogger"


def test_lit_plugins_lists_the_declared_roles(make_dist, capsys):
    rows_logger_dist(make_dist)
    assert commands.main(["plugins", "--json"]) == 0
    listed = {(r["distribution"], r["name"]): r["roles"] for r in json.loads(capsys.readouterr().out)}
    assert listed["lit-rows", "rows"] == ["default_logger"]
    assert listed["lit-core", "csv"] == ["default_logger"]
    assert listed["lit-core", "cpu"] == []
    assert commands.main(["plugins"]) == 0
    lines = capsys.readouterr().out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.split()[:2] == ["logger", "rows"])
    assert lines[at + 1].split() == ["roles:", "default_logger"]  # the plugin's roles, under its row


QUIET = {"logger": False, "enable_progress_bar": False, "enable_checkpointing": False, "max_steps": 1,
         "accelerator": "cpu", "num_sanity_val_steps": 0}


def test_the_default_model_summary_comes_from_its_role(tmp_path, capsys, boring_model, random_loader, hide_distribution):
    assert roles.fill("default_model_summary") == "model_summary"  # lit-callbacks' ModelSummary
    trainer = lit.Trainer(default_root_dir=tmp_path, **QUIET)
    trainer.fit(boring_model(), random_loader())
    out = capsys.readouterr().out
    assert "Total params" in out and "| layer | Linear" in out, "the role's callback prints the table, depth 1"
    assert not any(type(cb).__name__ == "ModelSummary" for cb in trainer.callbacks), "trainer.callbacks lists no summary"

    lit.Trainer(default_root_dir=tmp_path, disable_plugins=["model_summary"], **QUIET).fit(boring_model(), random_loader())
    assert "Total params" not in capsys.readouterr().out, "disable_plugins removes the claim"

    hide_distribution("lit-callbacks")
    assert roles.fill("default_model_summary") is None
    lit.Trainer(default_root_dir=tmp_path, enable_model_summary=True, **QUIET).fit(boring_model(), random_loader())
    assert "Total params" not in capsys.readouterr().out, "lit-core alone prints no summary"
    with pytest.warns(UserWarning, match=r"weights_summary=\.\.\.\) prints no summary: no installed distribution fills the "
                                         r"default_model_summary role. Install one \(lit-callbacks\)"):
        lit.Trainer(default_root_dir=tmp_path, weights_summary="full", **QUIET).fit(boring_model(), random_loader())
    assert "Total params" not in capsys.readouterr().out


def test_a_third_party_default_model_summary(make_dist, tmp_path, capsys, boring_model, random_loader, hide_distribution):
    make_dist("lit-tablesummary", {"lit.callbacks": {"tablesummary": "lit_rolesdemo:TableSummary"},
                                   "lit.roles": {"default_model_summary": "tablesummary"}})
    hide_distribution("lit-callbacks")
    lit.Trainer(default_root_dir=tmp_path, **QUIET).fit(boring_model(), random_loader())
    assert capsys.readouterr().out.splitlines()[0] == "TABLE depth=1 BoringModel 5"
    with pytest.warns(DeprecationWarning, match="weights_summary='full'"):
        trainer = lit.Trainer(default_root_dir=tmp_path, weights_summary="full", **QUIET)
    trainer.fit(boring_model(), random_loader())
    assert capsys.readouterr().out.splitlines()[0] == "TABLE depth=-1 BoringModel 5", "Lightning 1.x's full depth"
    lit.Trainer(default_root_dir=tmp_path, enable_model_summary=False, **QUIET).fit(boring_model(), random_loader())
    assert "TABLE" not in capsys.readouterr().out, "enable_model_summary=False asks nobody"


TRANSLATOR = """
import lit_core as lit

CALLS = []


def init_with_legacy_flags(trainer, legacy, flags, init):
    # a translator of its own: max_epochs_1x=N means max_epochs=N
    CALLS.append(dict(legacy))
    today = {n: v for n, v in flags.items() if n not in ("self", "legacy_kwargs", "__class__")}
    init(trainer, **{**today, "max_epochs": legacy["max_epochs_1x"]})


def add_argparse_args(cls, parser):
    CALLS.append(cls.__name__)
    return parser
"""


@pytest.fixture
def install_dist(install_distribution: MakeDist, monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeDist]:
    """``install_distribution``, undoing ``hide_distribution`` before the discovered plugins are forgotten."""
    yield install_distribution
    monkeypatch.undo()
    registry.refresh()


def test_a_service_role_names_the_object_the_trainer_calls_for_1x_flags(install_dist, hide_distribution, tmp_path):
    install_dist("lit-oldflags", {"lit_oldflags": TRANSLATOR}, {"lit.roles": {"lightning_1x_flags": "lit_oldflags"}})
    hide_distribution("lit-compat")
    assert roles.ROLES["lightning_1x_flags"].kind == roles.SERVICE
    import lit_oldflags

    assert roles.service("lightning_1x_flags") is lit_oldflags
    trainer = lit.Trainer(default_root_dir=tmp_path, logger=False, max_epochs_1x=4)  # not a flag lit-core knows
    assert trainer.max_epochs == 4 and lit_oldflags.CALLS == [{"max_epochs_1x": 4}]
    parser = object()
    assert lit.Trainer.add_argparse_args(parser) is parser and lit_oldflags.CALLS[-1] == "Trainer"


def test_two_service_role_fillers_warn_and_the_first_by_distribution_name_is_used(install_dist):
    install_dist("lit-oldflags", {"lit_oldflags": TRANSLATOR}, {"lit.roles": {"lightning_1x_flags": "lit_oldflags"}})
    with pytest.warns(UserWarning, match=r"Several distributions declare the lightning_1x_flags role: 'lit_compat' "
                                         r"\(lit-compat\), 'lit_oldflags' \(lit-oldflags\). lit uses 'lit_compat' from "
                                         r"lit-compat \(the first by distribution name\). Uninstall all but one of them."):
        found = roles.service("lightning_1x_flags")
    assert found.__name__ == "lit_compat"


def test_without_a_service_role_filler_service_is_none_and_a_broken_one_names_its_distribution(
        install_dist, hide_distribution):
    install_dist("lit-brokenflags", {"lit_brokenflags": "raise RuntimeError('boom')\n"},
                 {"lit.roles": {"lightning_1x_flags": "lit_brokenflags"}})
    hide_distribution("lit-compat")
    with pytest.raises(PluginError, match=r"lightning_1x_flags role of lit-brokenflags \(lit_brokenflags\) failed to "
                                          r"import: RuntimeError: boom\. Reinstall or upgrade lit-brokenflags"):
        roles.service("lightning_1x_flags")
    hide_distribution("lit-brokenflags")
    assert roles.service("lightning_1x_flags") is None
