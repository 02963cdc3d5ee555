"""LambdaCallback: each hook given as a keyword is called Lightning's way; the others are never dispatched."""

from __future__ import annotations

import pytest

from lit_callbacks import LambdaCallback
from lit_core.builtins.adapters import callback_plugin


def test_given_hooks_run_with_lightning_arguments(make_trainer, boring_model):
    calls = []
    cb = LambdaCallback(
        on_fit_start=lambda trainer, pl_module: calls.append(("fit_start", trainer.state.fn)),
        on_train_batch_end=lambda trainer, pl_module, outputs, batch, batch_idx: calls.append(("batch_end", batch_idx, float(outputs["loss"]))),
        on_validation_epoch_end=lambda trainer, pl_module: calls.append(("val_epoch_end", trainer.current_epoch)),
        setup=lambda trainer, pl_module, stage: calls.append(("setup", stage)),
    )
    model = boring_model()
    trainer = make_trainer(limit_train_batches=2, limit_val_batches=1, num_sanity_val_steps=0, callbacks=[cb])
    trainer.fit(model)
    assert calls[0] == ("setup", "fit") and calls[1] == ("fit_start", "fit")
    assert [c[1] for c in calls if c[0] == "batch_end"] == [0, 1]
    assert all(c[2] > 0 for c in calls if c[0] == "batch_end"), "outputs carry the real loss"
    assert calls[-1] == ("val_epoch_end", 0)


def test_only_the_given_hooks_are_dispatched():
    plugin = callback_plugin(LambdaCallback(on_train_epoch_end=lambda trainer, pl_module: None))
    hooks = [name for name in vars(plugin) if name.startswith("lit_")]
    assert hooks == ["lit_train_epoch_end"], "no trampoline, so no per-step call, for the hooks not given"


def test_on_exception_hook_sees_the_error(make_trainer, boring_model):
    seen = []

    class Boom(boring_model):
        def training_step(self, batch, batch_idx):
            raise ValueError("boom")

    cb = LambdaCallback(on_exception=lambda trainer, pl_module, exc: seen.append(str(exc)))
    with pytest.raises(ValueError, match="boom"):
        make_trainer(callbacks=[cb]).fit(Boom())
    assert seen == ["boom"]


def test_unknown_hook_names_are_an_error():
    with pytest.raises(TypeError, match="on_train_epoch_ends"):
        LambdaCallback(on_train_epoch_ends=lambda *a: None)
    with pytest.raises(TypeError, match="must be a function"):
        LambdaCallback(on_fit_start=3)
