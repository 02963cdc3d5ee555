"""``Trainer(profiler=...)``: names, instances, errors, and no cost at all when no profiler is set."""

from __future__ import annotations

import pluggy
import pytest

import lit_core as lit
from lit_core import lightning_names
from lit_core.exceptions import MisconfigurationException, PluginError, UnknownPluginError
from lit_profilers import AdvancedProfiler, PassThroughProfiler, PyTorchProfiler, SimpleProfiler

#: The hooks the fit loop may call for every batch (events and services).
PER_STEP_HOOKS = (
    "lit_batch_to_device", "lit_train_batch_start", "lit_train_batch_end", "lit_scale_loss", "lit_before_backward",
    "lit_backward", "lit_after_backward", "lit_before_optimizer_step", "lit_clip_gradients", "lit_gradients_ready",
    "lit_optimizer_step", "lit_before_zero_grad", "lit_log_metrics",
)


@pytest.mark.parametrize(("name", "cls"), [("simple", SimpleProfiler), ("advanced", AdvancedProfiler),
                                           ("pytorch", PyTorchProfiler), ("passthrough", PassThroughProfiler),
                                           ("Simple", SimpleProfiler)])
def test_a_name_gives_the_profiler(make_trainer, name, cls):
    trainer = make_trainer(profiler=name)
    assert type(trainer.profiler) is cls
    assert trainer.plugin_manager.get_plugin(f"lit.profiler:{cls.__name__}") is trainer.profiler


def test_lightnings_import_path_gives_the_same_classes():
    from lit_core.profilers import AdvancedProfiler as A
    from lit_core.profilers import PassThroughProfiler as P
    from lit_core.profilers import Profiler
    from lit_core.profilers import PyTorchProfiler as T
    from lit_core.profilers import SimpleProfiler as S

    assert (AdvancedProfiler, PassThroughProfiler, PyTorchProfiler, SimpleProfiler) == (A, P, T, S)
    assert all(issubclass(cls, Profiler) for cls in (A, P, T, S))


def test_an_unknown_name_lists_the_installed_profilers(make_trainer):
    with pytest.raises(UnknownPluginError, match=r"Unknown profiler 'fancy'\. Installed profiler plugins: 'advanced', "
                                                 r"'passthrough', 'pytorch', 'simple'"):
        make_trainer(profiler="fancy")


def test_lightnings_xla_profiler_is_absent_on_purpose(make_trainer):
    with pytest.raises(UnknownPluginError, match=r"profiler='xla' is Lightning's XLAProfiler, which lit deliberately "
                                                 r"lacks: docs/decisions.rst"):
        make_trainer(profiler="xla")


def test_a_class_instead_of_an_instance_says_to_call_it(make_trainer):
    with pytest.raises(TypeError, match=r"profiler=SimpleProfiler is a class: pass an instance, profiler=SimpleProfiler\(\)"):
        make_trainer(profiler=SimpleProfiler)
    with pytest.raises(TypeError, match=r"is not a profiler \(no start, stop, profile, describe, setup, teardown\)"):
        make_trainer(profiler=42)


def test_without_lit_profilers_a_name_says_what_to_install(lit_plugins, make_trainer, monkeypatch):
    lit_plugins.hide_installed()
    monkeypatch.setattr(lightning_names, "_installed", lambda dist: False)  # as if lit-profilers were not installed
    with pytest.raises(UnknownPluginError, match=r"'simple' is provided by lit-profilers: `pip install lit-profilers`"):
        make_trainer(profiler="simple")
    with pytest.raises(ImportError, match=r"SimpleProfiler is in lit-profilers: pip install lit-profilers"):
        from lit_core.profilers import SimpleProfiler as _  # noqa: F401
    trainer = make_trainer()  # lit-core alone: the do-nothing profiler
    with trainer.profiler.profile("x") as name:
        assert name == "x"


def test_barebones_turns_profiling_off(make_trainer):
    with pytest.raises(MisconfigurationException, match=r"barebones=True.*profiler='simple'"):
        lit.Trainer(barebones=True, profiler="simple", logger=False)


def test_a_profiler_name_in_plugins_points_to_the_flag(make_trainer):
    with pytest.raises(PluginError, match=r"plugins=\['simple'\] names a profiler: pass profiler='simple' instead"):
        make_trainer(plugins=["simple"])


def test_disable_plugins_blocks_a_profiler_name(make_trainer):
    with pytest.raises(MisconfigurationException, match=r"'simple' is blocked by disable_plugins"):
        make_trainer(profiler="simple", disable_plugins=["simple"])


# ---- zero cost when off ------------------------------------------------------------------------


def _per_step_impls(pm) -> dict[str, list]:
    return {hook: [impl.function for impl in getattr(pm.hook, hook).get_hookimpls()] for hook in PER_STEP_HOOKS}


class Snapshot(lit.Callback):
    """Records, in the middle of training, what the per-step path is made of."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == 1:
            pm = trainer.plugin_manager
            self.impls = _per_step_impls(pm)
            self.plugins = [name for name, _ in pm.list_name_plugin()]
            self.monitored = pm._inner_hookexec is not pluggy.PluginManager(pm.project_name)._inner_hookexec
            self.wrapped = [impl.function for caller in vars(pm.hook).values() for impl in caller.get_hookimpls()
                            if hasattr(impl.function, "__wrapped__")]
            self.module_attrs = sorted(set(pl_module.__dict__) & {"training_step", "backward"})
            self.optimizer_attrs = sorted(set(trainer.optimizers[0].__dict__) & {"step", "zero_grad"})


def test_no_profiler_adds_nothing_to_the_per_step_path(boring_model, make_trainer):
    off, on = Snapshot(), Snapshot()
    trainer = make_trainer(callbacks=[off], limit_val_batches=0)
    trainer.fit(boring_model())
    assert type(trainer.profiler).__name__ == "NoProfiler"
    assert not [name for name in off.plugins if "profiler" in name]
    assert not off.monitored and off.wrapped == [] and off.module_attrs == [] and off.optimizer_attrs == []

    profiled = make_trainer(callbacks=[on], limit_val_batches=0, profiler="simple")
    profiled.fit(boring_model())
    # On, the profiler wraps what runs (so it is timed) but registers no per-step implementation of its own.
    assert {hook: len(impls) for hook, impls in on.impls.items()} == {hook: len(impls) for hook, impls in off.impls.items()}
    assert not on.monitored and on.wrapped and on.module_attrs == ["backward", "training_step"]
    assert on.optimizer_attrs == ["step", "zero_grad"]
    # ...and puts everything back when the stage ends.
    assert not [impl for caller in vars(profiled.plugin_manager.hook).values() for impl in caller.get_hookimpls()
                if hasattr(impl.function, "__wrapped__")]
    assert not profiled.plugin_manager.has_plugin("lit.profiler-observer")


def test_lit_plugins_lists_the_profilers_and_finds_no_problem():
    from lit_core import commands, plugin_check

    rows = [row for row in commands.describe_plugins() if row["kind"] == "profiler"]
    assert {row["name"] for row in rows} >= {"simple", "advanced", "pytorch", "passthrough"}
    assert all(row["available"] and "lit_setup" in row["hooks"] for row in rows)
    assert not [p for p in plugin_check.check_installed() if p.kind == "profiler"]
