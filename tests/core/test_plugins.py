"""Plugin discovery: third-party distributions found through entry points, by name."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

import lit_core as lit
from lit_core import registry
from lit_core.exceptions import PluginError

TOY_PLUGIN = '''
import torch
import lit_core as lit
from lit_core.accelerators import Accelerator

RECORDED = []


class ToyAccelerator(Accelerator):
    """A 'device' that is the CPU, but counts the batches it moves."""
    name = "toy"
    priority = -1
    moved = 0

    def get_device(self, index):
        return torch.device("cpu")

    @lit.hookimpl
    def lit_batch_to_device(self, batch):
        ToyAccelerator.moved += 1
        return batch


class BrokenAccelerator(Accelerator):
    name = "broken"

    @classmethod
    def unavailable_reason(cls):
        return "the broken device is not plugged in"


class ToyLogger(lit.Logger):
    def __init__(self, save_dir="."):
        self.rows = []
        self.params = {}
        RECORDED.append(self)

    def log_metrics(self, metrics, step=None):
        self.rows.append((step, dict(metrics)))

    def log_hyperparams(self, params, *args, **kwargs):
        self.params.update(params)


class ToyBar(lit.Callback):
    """A third-party progress bar: chosen by name, it replaces the default one."""
    name = "toybar"
    is_progress_bar = True


class NeedsArgs(lit.Callback):
    def __init__(self, every):
        self.every = every
'''


def make_dist(root: Path, name: str, version: str, modules: dict[str, str], entry_points: dict[str, dict[str, str]]) -> None:
    """Write an installed-looking distribution (module files + .dist-info) under ``root``."""
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = []
    for group, entries in entry_points.items():
        lines.append(f"[{group}]")
        lines += [f"{ep} = {target}" for ep, target in entries.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture
def toy_dist(tmp_path, monkeypatch):
    """A throwaway third-party distribution 'lit-toy' on sys.path, forgotten afterwards."""
    site = tmp_path / "site"
    site.mkdir()
    make_dist(site, "lit-toy", "1.2.3", {"lit_toy": TOY_PLUGIN}, {
        "lit.accelerators": {"toy": "lit_toy:ToyAccelerator", "broken": "lit_toy:BrokenAccelerator"},
        "lit.loggers": {"toylog": "lit_toy:ToyLogger"},
        "lit.callbacks": {"toybar": "lit_toy:ToyBar", "needs_args": "lit_toy:NeedsArgs"},
    })
    monkeypatch.syspath_prepend(str(site))
    registry.refresh()
    yield site
    sys.modules.pop("lit_toy", None)
    registry.refresh()


class Model(lit.LightningModule):
    def __init__(self, lr: float = 0.1):
        super().__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(3, 2)

    def training_step(self, batch, batch_idx):
        loss = F.cross_entropy(self.layer(batch[0]), batch[1])
        self.log("loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def loader() -> DataLoader:
    return DataLoader(TensorDataset(torch.randn(8, 3), torch.randint(0, 2, (8,))), batch_size=2)


def test_third_party_logger_and_accelerator_by_name(toy_dist, tmp_path):
    import lit_toy

    trainer = lit.Trainer(accelerator="toy", logger="toylog", max_epochs=1, log_every_n_steps=1,
                          default_root_dir=tmp_path, enable_model_summary=False)
    assert type(trainer.accelerator).__name__ == "ToyAccelerator"
    trainer.fit(Model(), loader())
    assert lit_toy.ToyAccelerator.moved == 4
    (logger,) = lit_toy.RECORDED
    assert trainer.logger is logger
    assert [step for step, _ in logger.rows] == [0, 1, 2, 3]
    assert all(isinstance(m["loss"], float) for _, m in logger.rows)
    assert logger.params == {"lr": 0.1}


def test_names_work_in_plugins_list(toy_dist, tmp_path):
    trainer = lit.Trainer(plugins=["toy", "toylog"], default_root_dir=tmp_path)
    assert trainer.accelerator.name == "toy"
    assert type(trainer.logger).__name__ == "ToyLogger"


def test_installed_progress_bar_is_on_by_default(toy_dist, tmp_path, monkeypatch):
    tqdm_bar = registry.load("callback", "tqdm")  # whichever distribution registers 'tqdm' (one may: see issue 14, case 18)

    def bars(trainer):
        return [cb for cb in trainer.callbacks if isinstance(cb, tqdm_bar)]

    assert bars(lit.Trainer(default_root_dir=tmp_path))
    assert lit.Trainer(default_root_dir=tmp_path).progress_bar_callback.name == "tqdm"
    toys = lit.Trainer(default_root_dir=tmp_path, callbacks=["toybar"])
    assert not bars(toys) and type(toys.progress_bar_callback).__name__ == "ToyBar", "a bar chosen by name replaces the default"

    class MyBar(lit.Callback):
        is_progress_bar = True

    mine = MyBar()
    trainer = lit.Trainer(default_root_dir=tmp_path, callbacks=[mine])
    assert not bars(trainer) and trainer.progress_bar_callback is mine, "a bar of the user's replaces the default one"
    assert lit.Trainer(default_root_dir=tmp_path, enable_progress_bar=False).progress_bar_callback is None
    assert not bars(lit.Trainer(default_root_dir=tmp_path, enable_progress_bar=False))
    assert not bars(lit.Trainer(default_root_dir=tmp_path, disable_plugins=["tqdm"]))
    monkeypatch.setenv("LIT_DISABLE_PLUGIN_AUTOLOAD", "1")
    trainer = lit.Trainer(default_root_dir=tmp_path, max_epochs=1, enable_model_summary=False)
    assert not trainer.callbacks
    assert trainer.accelerator.name == "cpu"
    trainer.fit(Model(), loader())
    # a name asked for explicitly still resolves with autoload off
    assert lit.Trainer(accelerator="toy", default_root_dir=tmp_path).accelerator.name == "toy"


def test_disabled_plugin_requested_by_name_is_an_error(toy_dist, tmp_path):
    with pytest.raises(PluginError, match=r"blocked by disable_plugins"):
        lit.Trainer(logger="toylog", disable_plugins=["toylog"], default_root_dir=tmp_path)


def test_unknown_name_lists_installed_and_no_invented_distribution(toy_dist):
    with pytest.raises(PluginError) as info:
        lit.Trainer(logger="neptune")  # no lit-neptune: not first-party, so no `pip install` (issue 14, case 19)
    message = str(info.value)
    assert "Unknown logger 'neptune'" in message
    assert "'csv'" in message and "'toylog'" in message and "'mlflow'" in message
    assert "pip install" not in message and "install the distribution that provides it" in message


def test_unknown_name_in_plugins_list():
    with pytest.raises(PluginError, match=r"Unknown plugin 'nosuch'.*install the distribution that provides it"):
        lit.Trainer(plugins=["nosuch"])


def test_unavailable_accelerator_says_why(toy_dist):
    with pytest.raises(lit.trainer.MisconfigurationException, match="not plugged in"):
        lit.Trainer(accelerator="broken")


def test_class_needing_arguments_asks_for_an_instance(toy_dist):
    import lit_toy

    with pytest.raises(PluginError, match=r"needs arguments \(every\).*did you forget the \(\)"):
        lit.Trainer(callbacks=[lit_toy.NeedsArgs])


def test_class_without_arguments_is_instantiated(tmp_path):
    class Counting(lit.Callback):
        pass

    trainer = lit.Trainer(callbacks=[Counting], default_root_dir=tmp_path)
    assert isinstance(trainer.callbacks[0], Counting)


def test_plugin_that_fails_to_import_names_its_distribution(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    make_dist(site, "lit-badimport", "0.1", {"lit_badimport": "import a_module_that_does_not_exist\n"},
              {"lit.loggers": {"bad": "lit_badimport:Logger"}})
    monkeypatch.syspath_prepend(str(site))
    registry.refresh()
    try:
        with pytest.raises(PluginError) as info:
            lit.Trainer(logger="bad")
    finally:
        registry.refresh()
    assert "lit-badimport 0.1 failed to import" in str(info.value)
    assert isinstance(info.value.__cause__, ModuleNotFoundError)  # the original traceback is kept


def test_plugin_with_wrong_argument_names_is_rejected():
    class Typo:
        @lit.hookimpl
        def lit_train_batch_end(self, trainer, modul):
            pass

    with pytest.raises(PluginError, match=r"does not fit lit's hooks.*modul"):
        lit.Trainer(plugins=[Typo()])


def test_plugin_with_unknown_hook_is_rejected():
    class Misspelt:
        @lit.hookimpl
        def lit_train_batch_ending(self, trainer):
            pass

    with pytest.raises(PluginError, match=r"implements a hook lit does not have"):
        lit.Trainer(plugins=[Misspelt()])


def test_hook_lookup_is_remembered_per_class_but_instance_hooks_still_count():
    """``PluginManager.parse_hookimpl_opts`` caches class attributes; an instance's own function is still found."""
    calls = []

    class Counter:
        @lit.hookimpl
        def lit_train_start(self, trainer):
            calls.append(("class", id(self)))

        def helper(self):
            pass

    def own_hook(trainer):
        calls.append(("instance", None))

    own_hook = lit.hookimpl(own_hook)
    first, second, third = Counter(), Counter(), Counter()
    third.lit_train_end = own_hook  # a hook an instance carries (pluggy accepts plain functions there)
    third.lit_train_batch_end = 3  # not callable: never a hook
    for plugins in ([first], [second, third]):
        pm = registry.PluginManager()
        for i, plugin in enumerate(plugins):
            pm.register(plugin, name=f"p{i}")
        pm.hook.lit_train_start(trainer=None, module=None)
        pm.hook.lit_train_end(trainer=None, module=None)
    assert calls == [("class", id(first)), ("class", id(third)), ("class", id(second)), ("instance", None)]
    assert registry._IMPL_OPTS[Counter]["lit_train_start"] is not None
    assert registry._IMPL_OPTS[Counter]["helper"] is None  # a class attribute that is no hook, remembered too
    assert "__init__" not in registry._IMPL_OPTS[Counter]  # dunders are never hooks: not even looked up
    assert "lit_train_end" not in registry._IMPL_OPTS[Counter]  # an instance's attributes are never remembered


def test_object_without_hooks_is_not_a_plugin():
    with pytest.raises(PluginError, match="is not a lit plugin"):
        lit.Trainer(plugins=[object()])


def test_lit_plugins_cli_lists_kind_name_distribution_version_hooks(toy_dist):
    env = {"PYTHONPATH": str(toy_dist), "PATH": ""}
    out = subprocess.run([sys.executable, "-m", "lit_core.commands", "plugins"], capture_output=True, text=True, env=env, check=True).stdout
    lines = {tuple(line.split()[:4]) for line in out.splitlines()}
    assert ("accelerator", "toy", "lit-toy", "1.2.3") in lines
    assert ("accelerator", "cpu", "lit-core", lit.__version__) in lines
    assert ("logger", "csv", "lit-core", lit.__version__) in lines
    lines = out.splitlines()
    toy = next(i for i, line in enumerate(lines) if line.split()[:2] == ["accelerator", "toy"])
    assert lines[toy].split()[-1] == "yes" and lines[toy + 1].split() == ["hooks:", "batch_to_device"]
    broken = next(i for i, line in enumerate(lines) if line.split()[:2] == ["accelerator", "broken"])
    assert lines[broken].split()[-1] == "no" and lines[broken + 1].strip() == "why not: the broken device is not plugged in"


def test_trace_hooks_env_prints_every_call(tmp_path):
    script = textwrap.dedent(f"""
        import torch, lit_core as lit
        from torch.utils.data import DataLoader, TensorDataset
        class M(lit.LightningModule):
            def __init__(self):
                super().__init__(); self.l = torch.nn.Linear(2, 1)
            def training_step(self, b, i):
                return self.l(b[0]).sum()
            def configure_optimizers(self):
                return torch.optim.SGD(self.parameters(), lr=0.1)
        t = lit.Trainer(max_epochs=1, logger=False, enable_model_summary=False, default_root_dir={str(tmp_path)!r})
        t.fit(M(), DataLoader(TensorDataset(torch.randn(4, 2)), batch_size=2))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env={"LIT_TRACE_HOOKS": "1", "PATH": ""}, check=True)
    assert "lit hook lit_setup_module -> [lit.defaults]" in result.stderr  # (lit_launch is deprecated: strategy.launch)
    assert result.stderr.count("lit hook lit_optimizer_step") == 2


def test_fast_caller_matches_pluggy():
    pm = registry.PluginManager()
    assert pm.fast_caller("lit_train_batch_end") is None  # nobody implements it: the loop skips it

    class One:
        @lit.hookimpl
        def lit_scale_loss(self, loss):
            return loss * 2

        @lit.hookimpl
        def lit_train_batch_start(self, batch_idx):
            return -1 if batch_idx == 3 else None

    pm.register(One())
    scale = pm.fast_caller("lit_scale_loss")
    assert scale is not pm.hook.lit_scale_loss  # one implementation: a direct trampoline
    x = torch.tensor(3.0)
    assert scale(trainer=None, loss=x, optimizer=None) == pm.hook.lit_scale_loss(trainer=None, loss=x, optimizer=None) == 6
    start = pm.fast_caller("lit_train_batch_start")
    for idx in (0, 3):
        kwargs = {"trainer": None, "module": None, "batch": None, "batch_idx": idx}
        assert start(**kwargs) == pm.hook.lit_train_batch_start(**kwargs)  # a list without Nones, as pluggy gives

    calls = []

    class Two:
        @lit.hookimpl
        def lit_scale_loss(self, loss):
            calls.append("two")
            return None  # "not me": the next implementation answers

        @lit.hookimpl
        def lit_train_batch_start(self, trainer, batch_idx):
            calls.append("two")
            return -1 if batch_idx == 0 else None

    class Three:
        @lit.hookimpl(trylast=True)
        def lit_scale_loss(self, loss):
            calls.append("three")
            return loss * 3

    pm.register(Two())
    pm.register(Three())
    scale, start = pm.fast_caller("lit_scale_loss"), pm.fast_caller("lit_train_batch_start")
    assert scale is not pm.hook.lit_scale_loss and start is not pm.hook.lit_train_batch_start  # several: a trampoline too
    for fast, slow, kwargs in ((scale, pm.hook.lit_scale_loss, {"trainer": None, "loss": x, "optimizer": None}),
                               *((start, pm.hook.lit_train_batch_start, {"trainer": None, "module": None, "batch": None,
                                                                         "batch_idx": idx}) for idx in (0, 3))):
        calls.clear()
        expected = slow(**kwargs)
        order = list(calls)
        calls.clear()
        assert fast(**kwargs) == expected and calls == order, "the same result, the implementations in pluggy's order"
    assert scale(trainer=None, loss=x, optimizer=None) == 6, "Two (registered last) says not me, One answers; trylast Three is not asked"

    class Wrapping:
        @lit.hookimpl(wrapper=True)
        def lit_scale_loss(self, loss):
            return (yield)

    pm.register(Wrapping())
    assert pm.fast_caller("lit_scale_loss") is pm.hook.lit_scale_loss  # a wrapper: pluggy runs it


def test_fast_caller_defers_to_pluggy_when_tracing(monkeypatch):
    monkeypatch.setenv("LIT_TRACE_HOOKS", "1")
    pm = registry.PluginManager()

    class One:
        @lit.hookimpl
        def lit_scale_loss(self, loss):
            return loss

    pm.register(One())
    assert pm.fast_caller("lit_scale_loss") is pm.hook.lit_scale_loss


def test_callback_of_hookimpls_only_with_a_module_of_no_hooks(tmp_path):
    """Adapters of two objects that override nothing are distinct plugins (they used to compare equal)."""
    seen = []

    class Watcher(lit.Callback):
        @lit.hookimpl
        def lit_train_end(self, trainer):
            seen.append(trainer.global_step)

    class Bare(lit.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(2, 1)

        def training_step(self, batch, batch_idx):
            return self.layer(batch[0]).sum()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.ones(4, 2)), batch_size=2)
    trainer = lit.Trainer(default_root_dir=tmp_path, max_epochs=1, logger=False, enable_checkpointing=False,
                          enable_progress_bar=False, enable_model_summary=False, callbacks=[Watcher()])
    trainer.fit(Bare(), data)
    assert seen == [2]


def test_every_installed_plugin_answers_unavailable_reason_on_its_class():
    """``lit plugins`` and ``accelerator="auto"`` ask the class, before any instance exists."""
    from lit_core import registry

    for kind in registry.GROUPS:
        for name in registry.installed(kind):
            try:
                cls = registry.load(kind, name)
            except Exception:  # a conflict or a broken third-party entry: tests/reliability covers those
                continue
            check = getattr(cls, "unavailable_reason", None) if isinstance(cls, type) else None
            reason = check() if check is not None else None
            assert reason is None or isinstance(reason, str), (kind, name, reason)
