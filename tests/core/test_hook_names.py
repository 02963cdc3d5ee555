"""Plugins named readably where hooks are traced and where they fail.

``LIT_TRACE_HOOKS=1`` shows a callback's or a module's hook as ``Class.on_<hook>`` (not the
adapter's registration name), and an exception raised inside a plugin's hook implementation
carries one note naming the plugin and its distribution, whether the hook went through a fast
caller (``PluginManager.fast_caller``) or pluggy's dispatch.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import lit_core as lit
from lit_core import registry


def lit_notes(exc: BaseException) -> list[str]:
    return [note for note in getattr(exc, "__notes__", ()) if note.startswith(registry.NOTE_PREFIX)]


class Exploding(lit.Callback):
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        raise ValueError("the callback broke")


def test_a_callback_hook_error_names_the_callback_and_where_it_comes_from(make_trainer, boring_model, random_loader):
    trainer = make_trainer(callbacks=[Exploding()], max_steps=1)
    with pytest.raises(ValueError, match="the callback broke") as info:
        trainer.fit(boring_model(), random_loader())
    assert lit_notes(info.value) == [
        f"lit: raised in hook lit_train_batch_end by Exploding.on_train_batch_end, from the module {__name__!r} "
        "(no installed distribution)"
    ]


def test_a_module_hook_error_names_the_module_class(make_trainer, boring_model, random_loader):
    class Model(boring_model):
        def on_train_epoch_start(self):
            raise RuntimeError("the module broke")

    with pytest.raises(RuntimeError, match="the module broke") as info:
        make_trainer().fit(Model(), random_loader())
    (note,) = lit_notes(info.value)
    assert note.startswith("lit: raised in hook lit_train_epoch_start by Model.on_train_epoch_start, from the module")


def test_an_installed_plugins_hook_error_names_its_distribution(install_distribution, make_trainer, boring_model,
                                                                random_loader):
    install_distribution("lit-boom", {"lit_boom": """
        import lit_core as lit

        class Boom(lit.Callback):
            @lit.hookimpl
            def lit_train_epoch_start(self, trainer):
                raise OSError("disk full")
        """}, {"lit.callbacks": {"boom": "lit_boom:Boom"}}, version="2.5")
    with pytest.raises(OSError, match="disk full") as info:
        make_trainer(callbacks=["boom"]).fit(boring_model(), random_loader())
    assert lit_notes(info.value) == ["lit: raised in hook lit_train_epoch_start by callback:Boom, from distribution lit-boom 2.5"]


class Wrapping:
    """A wrapper makes pluggy dispatch the hook (no fast caller): the note still names the one that raised."""

    @lit.hookimpl(wrapper=True)
    def lit_train_epoch_end(self):
        return (yield)


class Raising:
    @lit.hookimpl
    def lit_train_epoch_end(self, trainer):
        raise KeyError("missing metric")


def test_through_pluggys_dispatch_the_note_names_the_implementation_that_raised(make_trainer, boring_model, random_loader):
    trainer = make_trainer(plugins=[Raising(), Wrapping()])
    assert trainer.plugin_manager.fast_caller("lit_train_epoch_end") is trainer.plugin_manager.hook.lit_train_epoch_end
    with pytest.raises(KeyError) as info:
        trainer.fit(boring_model(), random_loader())
    assert lit_notes(info.value) == [
        f"lit: raised in hook lit_train_epoch_end by plugin:Raising, from the module {__name__!r} (no installed distribution)"
    ]


def test_two_instances_of_one_class_are_told_apart(make_trainer, boring_model, random_loader):
    class Counter:
        def __init__(self, fail: bool) -> None:
            self.fail = fail

        @lit.hookimpl
        def lit_train_epoch_end(self):
            if self.fail:
                raise ArithmeticError("second one")

    failing, fine = Counter(True), Counter(False)
    trainer = make_trainer(plugins=[fine, failing, Wrapping()])
    with pytest.raises(ArithmeticError) as info:
        trainer.fit(boring_model(), random_loader())
    names = {id(plugin): name for name, plugin in trainer.plugin_manager.list_name_plugin()}
    assert {names[id(failing)], names[id(fine)]} == {"plugin:Counter", "plugin:Counter#2"}
    assert lit_notes(info.value)[0].startswith(f"lit: raised in hook lit_train_epoch_end by {names[id(failing)]}, ")


def test_a_training_step_error_gets_no_note(make_trainer, boring_model, random_loader):
    """The kernel's default optimizer step runs the user's closure: the error is the module's, not a plugin's."""

    class Model(boring_model):
        def training_step(self, batch, batch_idx):
            raise ZeroDivisionError("in the step")

    with pytest.raises(ZeroDivisionError) as info:
        make_trainer().fit(Model(), random_loader())
    assert lit_notes(info.value) == []


def test_traces_name_callbacks_and_the_module_by_class(tmp_path):
    script = textwrap.dedent(f"""
        import torch, lit_core as lit
        from torch.utils.data import DataLoader, TensorDataset

        class Watcher(lit.Callback):
            def on_train_epoch_end(self, trainer, pl_module):
                pass

        class M(lit.LightningModule):
            def __init__(self):
                super().__init__(); self.l = torch.nn.Linear(2, 1)
            def training_step(self, b, i):
                return self.l(b[0]).sum()
            def on_train_epoch_end(self):
                pass
            def configure_optimizers(self):
                return torch.optim.SGD(self.parameters(), lr=0.1)

        t = lit.Trainer(max_epochs=1, logger=False, enable_model_summary=False, enable_progress_bar=False,
                        enable_checkpointing=False, callbacks=[Watcher()], default_root_dir={str(tmp_path)!r})
        t.fit(M(), DataLoader(TensorDataset(torch.randn(4, 2)), batch_size=2))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            env={**os.environ, "LIT_TRACE_HOOKS": "1"})
    assert "lit hook lit_train_epoch_end -> [M.on_train_epoch_end, Watcher.on_train_epoch_end]" in result.stderr
    assert "adapter" not in result.stderr
