"""Every hook called during fit / validate / test / predict, in the documented order."""

from __future__ import annotations

import re

import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

import lit_core as lit
from lit_core import hookspecs

# Deprecated hooks (those that warn when implemented: lit_launch and the collectives) are not part of the order.
HOOKS = [name for name, spec in vars(hookspecs).items()
         if name.startswith("lit_") and not getattr(spec, "lit_spec", {}).get("warn_on_impl")]


class Recorder:
    """A plugin implementing every hook with no arguments: it records and returns None."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        for name in HOOKS:
            setattr(self, name, self._make(name))

    def _make(self, name: str):
        calls = self.calls

        def record() -> None:
            calls.append(name)

        record.__name__ = name
        return lit.hookimpl(tryfirst=True)(record)


class Model(lit.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(3, 2)

    def training_step(self, batch, batch_idx):
        loss = F.cross_entropy(self.layer(batch[0]), batch[1])
        self.log("loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", F.cross_entropy(self.layer(batch[0]), batch[1]))

    def test_step(self, batch, batch_idx):
        self.log("test_loss", F.cross_entropy(self.layer(batch[0]), batch[1]))

    def predict_step(self, batch, batch_idx, dataloader_idx=0):
        return self.layer(batch[0])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def loader() -> DataLoader:
    return DataLoader(TensorDataset(torch.randn(4, 3), torch.randint(0, 2, (4,))), batch_size=2)


def squash(calls: list[str]) -> list[str]:
    return [c.removeprefix("lit_") for c in calls]


def train_batch() -> list[str]:
    # The optimizer step runs the closure: forward, backward, then the pre-step hooks.
    return ["batch_to_device", "train_batch_start", "optimizer_step", "scale_loss", "before_backward", "backward", "after_backward",
            "before_optimizer_step", "gradients_ready", "before_zero_grad", "train_batch_end", "log_metrics"]


def val_run(batches: int) -> list[str]:
    per_batch = ["batch_to_device", "validation_batch_start", "validation_batch_end"]
    return ["autocast", "validation_start", "validation_epoch_start", "process_dataloader", *per_batch * batches,
            "validation_epoch_end"]


def test_fit_hook_order(tmp_path):
    recorder = Recorder()
    trainer = lit.Trainer(max_epochs=2, limit_train_batches=2, limit_val_batches=1, num_sanity_val_steps=1,
                          log_every_n_steps=1, default_root_dir=tmp_path, enable_model_summary=False, plugins=[recorder],
                          enable_checkpointing=False)
    assert squash(recorder.calls) == ["init_start", "init_end"]
    recorder.calls.clear()
    trainer.fit(Model(), loader(), loader())
    epoch = [
        "train_epoch_start", "process_dataloader", *train_batch(), *train_batch(),
        *val_run(1), "log_metrics", "validation_end",  # val metrics go to the loggers before validation_end
        "train_epoch_end",  # nothing logged per epoch in training: no log_metrics here
    ]
    assert squash(recorder.calls) == [
        "setup_environment", "setup", "setup_module", "setup_optimizers", "run_stage",
        "autocast",  # asked once for the training loop
        "fit_start",
        "sanity_check_start", *val_run(1), "validation_end", "sanity_check_end",  # sanity metrics are not logged
        "train_start", *epoch, *epoch, "train_end", "fit_end",
        "teardown",
    ]


def test_validate_test_predict_hook_order(tmp_path):
    recorder = Recorder()
    trainer = lit.Trainer(default_root_dir=tmp_path, plugins=[recorder], logger=False, enable_checkpointing=False)
    model = Model()
    recorder.calls.clear()
    trainer.validate(model, loader(), verbose=False)
    assert squash(recorder.calls) == [
        "setup_environment", "setup", "setup_module", "run_stage",
        *val_run(2), "log_metrics", "validation_end", "teardown",  # log_metrics: the recorder implements it
    ]
    recorder.calls.clear()
    trainer.test(model, loader())
    per_batch = ["batch_to_device", "test_batch_start", "test_batch_end"]
    assert squash(recorder.calls) == [
        "setup_environment", "setup", "setup_module", "run_stage",
        "autocast", "test_start", "test_epoch_start", "process_dataloader", *per_batch * 2, "test_epoch_end", "log_metrics", "test_end",
        "print_results", "teardown",
    ]
    recorder.calls.clear()
    trainer.predict(model, loader())
    per_batch = ["batch_to_device", "predict_batch_start", "predict_batch_end"]
    assert squash(recorder.calls) == [
        "setup_environment", "setup", "setup_module", "run_stage",
        "autocast", "predict_start", "predict_epoch_start", "process_dataloader", *per_batch * 2, "predict_epoch_end",
        "predict_end", "teardown",
    ]


def test_recorded_order_follows_the_hookspecs_docstring(tmp_path):
    """The first call of each hook comes in the order the module docstring's loop names them."""
    recorder = Recorder()
    trainer = lit.Trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=1, num_sanity_val_steps=1,
                          log_every_n_steps=1, default_root_dir=tmp_path, enable_model_summary=True, plugins=[recorder])
    trainer.fit(Model(), loader(), loader())
    documented = re.findall(r"<(lit_\w+)", hookspecs.__doc__.split("validation / test / predict loop")[0])
    calls = recorder.calls
    # The sanity check runs the validation loop, documented in its own section.
    sanity = slice(calls.index("lit_sanity_check_start") + 1, calls.index("lit_sanity_check_end"))
    del calls[sanity]
    first_seen = list(dict.fromkeys(c for c in calls if c in documented))
    doc_order = list(dict.fromkeys(documented))
    assert first_seen == [h for h in doc_order if h in first_seen]
    # every hook the fit loop documents was really called
    missing = set(doc_order) - set(first_seen) - {"lit_exception", "lit_resolve_checkpoint_path", "lit_load_checkpoint", "lit_load_checkpoint_state",
                                                  "lit_log_hyperparams", "lit_clip_gradients", "lit_barrier", "lit_launch"}
    assert not missing
