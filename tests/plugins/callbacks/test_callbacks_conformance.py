"""lit-callbacks' callbacks pass lit_core.testing's callback suite."""

from __future__ import annotations

from lit_callbacks import EarlyStopping, LearningRateMonitor, Timer
from lit_core.testing import CallbackConformance


class TestEarlyStopping(CallbackConformance):
    plugin = EarlyStopping
    name = "early_stopping"
    keep_installed = ("lit-callbacks",)

    def make(self):
        return EarlyStopping(monitor="loss", patience=1, check_on_train_epoch_end=True)


class TestLearningRateMonitor(CallbackConformance):
    plugin = LearningRateMonitor
    name = "lr_monitor"
    keep_installed = ("lit-callbacks",)

    def make_idle(self):
        return LearningRateMonitor(logging_interval="epoch")

    def trainer_flags(self):
        return {"logger": "csv"}  # it logs the learning rates


class TestTimer(CallbackConformance):
    plugin = Timer
    name = "timer"
    keep_installed = ("lit-callbacks",)

    def make(self):
        return Timer(duration={"hours": 1})

    def make_idle(self):
        return Timer(duration={"hours": 1}, interval="epoch")

    def comparable(self, state):
        return {stage: seconds > 0 for stage, seconds in state["time_elapsed"].items()}  # wall time differs run to run
