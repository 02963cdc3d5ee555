"""ModelCheckpoint passes lit_core.testing's callback suite."""

from __future__ import annotations

from lit_checkpoint import ModelCheckpoint
from lit_core.testing import CallbackConformance


class TestModelCheckpoint(CallbackConformance):
    plugin = ModelCheckpoint
    name = "checkpoint"
    keep_installed = ("lit-checkpoint",)

    def make(self):
        return ModelCheckpoint(monitor="loss", save_top_k=2, every_n_train_steps=3, save_last=True)

    def make_idle(self):
        return ModelCheckpoint()  # saves at epoch ends only
