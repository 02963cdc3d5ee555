"""The kernel's own modules use the Trainer's public surface and ``trainer.state``, and import each other at module level."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import lit_core as lit
from lit_core.hot_path import bind

CORE = Path(lit.__file__).parent
PRIVATE = re.compile(r"\b(?:self\._trainer|self\.trainer|trainer)\._([a-zA-Z]\w*)")

#: Imports inside functions between lit_core's modules, each with the reason it cannot be at module level.
DEFERRED = {
    ("tuning.py", "tuner"): "resolves Tuner from lit-callbacks: paid only when the tuner is used",
    ("checkpoint_contents.py", ""): "lit_core.__version__ is set after lit_core/__init__ imports the Trainer",
}


def test_no_core_module_but_trainer_py_touches_a_private_trainer_field() -> None:
    found = [
        f"{path.relative_to(CORE)}:{n}: {match.group(0)}"
        for path in sorted(CORE.rglob("*.py")) if path.name != "trainer.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        for match in PRIVATE.finditer(line.split("#")[0])
    ]
    assert found == [], "use trainer.state or a public name instead:\n" + "\n".join(found)


def test_deferred_imports_inside_core_are_only_the_documented_ones() -> None:
    deferred = set()
    for path in sorted(CORE.rglob("*.py")):
        for func in ast.walk(ast.parse(path.read_text())):
            if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(func):
                    if isinstance(node, ast.ImportFrom) and node.level:
                        deferred.add((str(path.relative_to(CORE)), node.module or ""))
    assert deferred == set(DEFERRED), "import at module level, or add the import to DEFERRED with the reason"


def test_the_state_holds_the_entry_points_loaders_the_wrapped_optimizers_and_the_logged_metrics(
        make_trainer, boring_model, random_loader) -> None:
    train, val = random_loader(), random_loader()
    model = boring_model()
    trainer = make_trainer(log_every_n_steps=1)
    trainer.fit(model, train_dataloaders=train, val_dataloaders=val)
    state = trainer.state
    assert state.dataloader_args == {"train": train, "val": val}
    assert model.optimizers() is state.lightning_optimizers[0]
    assert model.optimizers().optimizer is trainer.optimizers[0]
    assert "val_loss" in state.logged_metrics and trainer.logged_metrics == state.logged_metrics
    trainer.validate(model, dataloaders=val)
    assert state.dataloader_args == {"val": val}


def test_the_modules_optimizer_step_is_bound_only_when_overridden(make_trainer, boring_model, random_loader) -> None:
    calls = []

    class Stepping(boring_model):
        # Lightning 1.x's keyword form: called by name.
        def optimizer_step(self, epoch, batch_idx, optimizer, optimizer_idx, optimizer_closure, on_tpu, using_lbfgs):
            calls.append((epoch, batch_idx, optimizer_idx, on_tpu, using_lbfgs))
            optimizer.step(closure=optimizer_closure)

    plain = make_trainer()
    plain.fit(boring_model(), random_loader())
    assert plain.state.module_optimizer_step is None

    trainer = make_trainer(max_steps=2)
    model = Stepping()
    trainer.fit(model, random_loader())
    assert callable(trainer.state.module_optimizer_step)
    assert calls == [(0, 0, 0, False, False), (0, 1, 0, False, False)]


def test_bind_decides_again_which_event_hooks_have_a_caller(make_trainer, boring_model, random_loader) -> None:
    """What a plugin that registers plugins inside a running stage calls (``lit_core.trial`` does)."""
    seen = []

    class Watcher:
        @lit.hookimpl
        def lit_train_batch_end(self, batch_idx: int) -> None:
            seen.append(batch_idx)

    trainer = make_trainer()
    trainer.fit(boring_model(), random_loader())
    assert trainer.state.events.train_batch_end is None  # nobody implements it
    trainer.plugin_manager.register(Watcher(), "watcher")
    bind(trainer)
    trainer.state.events.train_batch_end(trainer=trainer, module=trainer.lightning_module, outputs=None, batch=None,
                                         batch_idx=7)
    assert seen == [7]
