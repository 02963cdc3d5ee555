"""lit_core.testing itself: the isolated registry (``lit_plugins``) and that the suites fail broken plugins.

The suites are run inside pytest with pytest's ``pytester``, as a plugin author runs them: a
correct logger passes, each deliberately broken one fails the check it breaks.
"""

from __future__ import annotations

import sys
import textwrap

import pytest
import torch

import lit_core as lit
from lit_core import registry
from lit_core.accelerators import CPUAccelerator
from lit_core.builtins.precision import FullPrecision
from lit_core.exceptions import UnknownPluginError
from lit_core.loggers import CSVLogger
from lit_core.strategies import SingleDeviceStrategy
from lit_core.testing import PluginRegistry

pytest_plugins = ["pytester"]


class MyAccelerator(CPUAccelerator):
    pass


class MyStrategy(SingleDeviceStrategy):
    pass


class MyPrecision(FullPrecision):
    pass


class MyCallback(lit.Callback):
    def __init__(self):
        self.batches = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.batches += 1


def test_registered_plugins_are_found_by_name_for_every_kind(lit_plugins, make_trainer, boring_model):
    class JsonLogger(CSVLogger):  # a class local to the test: held by a stand-in module
        pass

    lit_plugins.register("logger", "my-logger", JsonLogger)
    lit_plugins.register("accelerator", "my-accelerator", MyAccelerator)
    lit_plugins.register("strategy", "my-strategy", MyStrategy)
    lit_plugins.register("precision", "my-precision", MyPrecision)
    lit_plugins.register("callback", "my-callback", MyCallback)
    trainer = make_trainer(logger="my-logger", accelerator="my-accelerator", strategy="my-strategy",
                           precision="my-precision", callbacks=["my-callback"], max_steps=3)
    assert type(trainer.logger) is JsonLogger and type(trainer.accelerator) is MyAccelerator
    assert type(trainer.strategy) is MyStrategy and type(trainer.precision_plugin) is MyPrecision
    (callback,) = [cb for cb in trainer.callbacks if isinstance(cb, MyCallback)]
    trainer.fit(boring_model())
    assert callback.batches == 3
    assert type(make_trainer(plugins=["my-logger"]).logger) is JsonLogger
    entry = registry.installed("callback")["my-callback"]
    assert entry.distribution == "lit-test-plugins" and entry.value == f"{__name__}:MyCallback", "an importable class keeps its path"


def test_nothing_leaks_out_of_the_registry(make_trainer):
    with PluginRegistry() as plugins:
        plugins.register("logger", "leaky", CSVLogger)
        assert "leaky" in registry.installed("logger")
        stand_ins = [name for name in sys.modules if name.startswith("_lit_testing_plugins_")]
    assert "leaky" not in registry.installed("logger")
    assert not [name for name in stand_ins if name in sys.modules]
    with pytest.raises(UnknownPluginError, match="Unknown logger 'leaky'"):
        make_trainer(logger="leaky")


def test_hide_installed_keeps_only_lit_core_and_what_is_registered(lit_plugins, make_trainer):
    installed_elsewhere = {e.distribution for kind in registry.GROUPS for e in registry.installed(kind).values()} - {"lit-core"}
    lit_plugins.hide_installed()
    assert {e.distribution for kind in registry.GROUPS for e in registry.installed(kind).values()} == {"lit-core"}
    assert installed_elsewhere, "this environment has first-party plugins installed, which must be hidden"
    assert type(make_trainer(logger=None).logger) is CSVLogger, "the default logger is lit-core's when nothing else is installed"
    lit_plugins.register("logger", "mine", CSVLogger)
    assert set(registry.installed("logger")) == {"csv", "mine"}


def test_a_registered_role_is_a_default(lit_plugins, make_trainer):
    class RoleLogger(CSVLogger):
        pass

    lit_plugins.hide_installed()
    lit_plugins.register("logger", "role-logger", RoleLogger)
    lit_plugins.register_role("default_logger", "role-logger")
    assert type(make_trainer(logger=None).logger) is RoleLogger


def test_hide_one_distribution(lit_plugins):
    assert "tensorboard" in registry.installed("logger")
    lit_plugins.hide("lit-tensorboard")
    assert "tensorboard" not in registry.installed("logger") and "csv" in registry.installed("logger")


def test_a_module_attribute_string_is_imported_only_when_selected(lit_plugins, make_trainer, tmp_path, monkeypatch):
    (tmp_path / "lazy_logger_mod.py").write_text("from lit_core.loggers import CSVLogger\nclass LazyLogger(CSVLogger):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "lazy_logger_mod", raising=False)
    lit_plugins.register("logger", "lazy", "lazy_logger_mod:LazyLogger")
    assert "lazy" in registry.installed("logger") and "lazy_logger_mod" not in sys.modules
    assert type(make_trainer(logger="lazy").logger).__name__ == "LazyLogger"
    monkeypatch.delitem(sys.modules, "lazy_logger_mod")


def test_an_unknown_kind_says_which_exist(lit_plugins):
    with pytest.raises(ValueError, match="Unknown plugin kind 'loggers': use one of accelerator, callback, logger"):
        lit_plugins.register("loggers", "x", CSVLogger)


# -- the logger suite, run by pytest inside pytest ------------------------------------------------

JSONL_LOGGER = '''
    import json
    import os
    {backend_import}
    from lit_core.plugin_api import Logger
    from lit_core.testing import LoggedRun, LoggerConformance


    class JsonLinesLogger(Logger):
        """One JSON object a line in <save_dir>/run.jsonl: metrics, hyperparameters, the final status."""

        def __init__(self, save_dir="."):
            self._save_dir = os.fspath(save_dir)
            {init_side_effect}

        @property
        def save_dir(self):
            return self._save_dir

        def _write(self, record):
            os.makedirs(self._save_dir, exist_ok=True)
            with open(os.path.join(self._save_dir, "run.jsonl"), "a") as f:
                f.write(json.dumps(record) + "\\n")

        def log_metrics(self, metrics, step=None):
            self._write({{"step": {logged_step}, "metrics": metrics}})

        def log_hyperparams(self, params, *args, **kwargs):
            self._write({{"hparams": dict(params)}})

        def finalize(self, status):
            self._write({{"status": {finalized_status}}})


    class TestJsonLinesLogger(LoggerConformance):
        plugin = JsonLinesLogger
        name = "jsonl"
        backend_modules = ("sqlite3",)

        def backend_status(self, status):
            return status

        def read_back(self, logger, save_dir):
            path = save_dir / "run.jsonl"
            if not path.exists():
                return None
            run = LoggedRun()
            for record in map(json.loads, path.read_text().splitlines()):
                for key, value in record.get("metrics", {{}}).items():
                    run.metrics.setdefault(key, []).append((record["step"], value))
                run.hyperparams.update(record.get("hparams", {{}}))
                run.status = record.get("status", run.status)
            return run
'''

CORRECT = {"backend_import": "", "init_side_effect": "", "logged_step": "step", "finalized_status": "status"}
CHECKS = ["test_is_a_logger_selected_by_name", "test_metrics_reach_the_backend", "test_hyperparameters_reach_the_backend",
          "test_finalize_status[success]", "test_finalize_status[failed]", "test_finalize_status[interrupted]",
          "test_log_dir", "test_rank_zero_only", "test_backend_imported_lazily"]


@pytest.fixture(scope="module")
def torch_warmed_up(tmp_path_factory: pytest.TempPathFactory) -> None:
    """One fit and checkpoint here first: torch imports hundreds of modules lazily on the first (``torch._inductor``).

    pytester's in-process runs forget the modules a run imported; torch cannot import some of
    them twice (``TORCH_LIBRARY`` registered once per process), so they must predate the runs.
    """
    from lit_core.testing.models import TinyModel, quiet_trainer

    root = tmp_path_factory.mktemp("warm-up")
    trainer = quiet_trainer(root, max_steps=1)
    trainer.fit(TinyModel())
    trainer.save_checkpoint(root / "warm-up.ckpt")


def run_suite(pytester: pytest.Pytester, source: str = JSONL_LOGGER, correct: dict[str, str] = CORRECT, **bugs: str) -> dict[str, str]:
    """Run the suite of ``source`` (the JSON-lines logger by default) with ``bugs``; each check's outcome by test name."""
    pytester.makepyfile(test_plugin=textwrap.dedent(source.format(**{**correct, **bugs})))
    result = pytester.runpytest_inprocess("-p", "lit_core.testing", "-p", "no:cacheprovider", "-q")
    outcomes = {}
    for report in result.reprec.getreports("pytest_runtest_logreport"):
        if report.when == "call" or report.outcome != "passed":
            outcomes[report.nodeid.split("::")[-1]] = report.outcome
    return outcomes


def test_a_correct_logger_passes_the_suite(torch_warmed_up, pytester):
    outcomes = run_suite(pytester)
    assert outcomes == dict.fromkeys(CHECKS, "passed") | {"test_unavailable_reason_asked_on_the_class": "passed"}


@pytest.mark.parametrize(("bugs", "failing"), [
    ({"logged_step": "step + 1"}, {"test_metrics_reach_the_backend", "test_finalize_status[success]",
                                   "test_finalize_status[failed]", "test_finalize_status[interrupted]"}),
    ({"finalized_status": '"success"'}, {"test_finalize_status[failed]", "test_finalize_status[interrupted]"}),
    ({"init_side_effect": "os.makedirs(self._save_dir, exist_ok=True); open(os.path.join(self._save_dir, 'run.jsonl'), 'w').close()"},
     {"test_rank_zero_only"}),
    ({"backend_import": "import sqlite3"}, {"test_backend_imported_lazily"}),
], ids=["wrong-step", "status-ignored", "writes-on-every-rank", "eager-backend-import"])
def test_a_broken_logger_fails_the_check_it_breaks(torch_warmed_up, pytester, bugs, failing):
    outcomes = run_suite(pytester, **bugs)
    assert {name for name, outcome in outcomes.items() if outcome == "failed"} == failing


COUNTER_CALLBACK = '''
    from lit_core.plugin_api import Callback
    from lit_core.testing import CallbackConformance


    class BatchCounter(Callback):
        """Counts training batches (every ``every``-th); with ``every=0`` it has nothing to do per step."""

        def __init__(self, every=1):
            self.every, self.count = every, 0
            if every:
                self.on_train_batch_end = self._count  # per-step work only for an instance that has some
            {class_hook}

        def _count(self, trainer, pl_module, outputs, batch, batch_idx):
            self.count += batch_idx % self.every == 0

        def state_dict(self):
            return {{"count": self.count}}

        def load_state_dict(self, state_dict):
            {load}


    class TestBatchCounter(CallbackConformance):
        plugin = BatchCounter
        name = "counter"

        def make_idle(self):
            return BatchCounter(every=0)
'''

COUNTER_CORRECT = {"class_hook": "", "load": 'self.count = state_dict["count"]'}
CALLBACK_CHECKS = ["test_is_a_callback_selected_by_name", "test_state_dict_round_trip", "test_exact_resume",
                   "test_no_per_step_hook_when_idle"]


def test_a_correct_callback_passes_the_suite(torch_warmed_up, pytester):
    outcomes = run_suite(pytester, COUNTER_CALLBACK, COUNTER_CORRECT)
    assert outcomes == dict.fromkeys(CALLBACK_CHECKS, "passed") | {"test_unavailable_reason_asked_on_the_class": "passed"}


@pytest.mark.parametrize(("bugs", "failing"), [
    ({"load": "pass"}, {"test_state_dict_round_trip", "test_exact_resume"}),
    ({"class_hook": "self.on_train_batch_end = self._count"}, {"test_no_per_step_hook_when_idle"}),
], ids=["state-not-loaded", "per-step-hook-when-idle"])
def test_a_broken_callback_fails_the_check_it_breaks(torch_warmed_up, pytester, bugs, failing):
    outcomes = run_suite(pytester, COUNTER_CALLBACK, COUNTER_CORRECT, **bugs)
    assert {name for name, outcome in outcomes.items() if outcome == "failed"} == failing


BROKEN_PLUGINS = {
    "precision": ('''
        import lit_core as lit
        from lit_core.builtins.precision import FullPrecision
        from lit_core.testing import PrecisionConformance

        class CountingPrecision(FullPrecision):
            """Counts the training steps; the count is its checkpoint state, which it forgets to load."""

            def __init__(self):
                self.steps = 0

            @lit.hookimpl
            def lit_train_batch_end(self):
                self.steps += 1

            def state_dict(self):
                return {"steps": self.steps}

            def load_state_dict(self, state_dict):
                pass

        class TestCountingPrecision(PrecisionConformance):
            plugin = CountingPrecision
            name = "counting"
    ''', {"test_checkpoint_state_round_trip", "test_exact_resume"}),
    "strategy": ('''
        from lit_core.strategies import SingleDeviceStrategy
        from lit_core.testing import StrategyConformance

        class TwiceStrategy(SingleDeviceStrategy):
            """Sums as if a second process held the same tensor."""

            def reduce(self, tensor, reduce_op="mean"):
                return tensor * 2 if reduce_op == "sum" else tensor

        class TestTwiceStrategy(StrategyConformance):
            plugin = TwiceStrategy
            name = "twice"
    ''', {"test_collectives_match_the_single_process_reference"}),
    "accelerator": ('''
        from lit_core.accelerators import CPUAccelerator
        from lit_core.testing import AcceleratorConformance

        class LaxAccelerator(CPUAccelerator):
            """Takes devices=0 for one device instead of refusing it."""

            def parse_devices(self, devices):
                return [0] if devices == 0 else super().parse_devices(devices)

        class TestLaxAccelerator(AcceleratorConformance):
            plugin = LaxAccelerator
            name = "lax"
    ''', {"test_parse_devices"}),
}


@pytest.mark.parametrize("kind", sorted(BROKEN_PLUGINS))
def test_a_broken_plugin_of_each_kind_fails_its_suite(torch_warmed_up, pytester, kind):
    source, failing = BROKEN_PLUGINS[kind]
    outcomes = run_suite(pytester, source.replace("{", "{{").replace("}", "}}"), {})
    assert {name for name, outcome in outcomes.items() if outcome == "failed"} == failing
    assert "passed" in outcomes.values()


def test_the_suite_trains_a_real_model(tmp_path):
    from lit_core.testing.models import TinyModel, quiet_trainer

    model = TinyModel()
    before = model.layer.weight.detach().clone()
    quiet_trainer(tmp_path).fit(model)
    assert [step for step, _ in model.losses] == [0, 1, 2, 3]
    assert not torch.equal(before, model.layer.weight), "SGD moved the weights"
