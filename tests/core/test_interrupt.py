"""Ctrl+C during a stage: a graceful shutdown, then ``SystemExit(1)``, as Lightning 2.6 does."""

from __future__ import annotations

import signal

import pytest

import lit_core as lit


class Finalized(lit.Logger):
    """A logger that records how it was closed and what it received."""

    def __init__(self) -> None:
        self.statuses: list[str] = []
        self.steps: list[int] = []

    @property
    def name(self) -> str:
        return "finalized"

    @property
    def version(self) -> int:
        return 0

    def log_metrics(self, metrics, step=None):
        self.steps.append(step)

    def log_hyperparams(self, params, *args, **kwargs):
        pass

    def finalize(self, status):
        self.statuses.append(status)


class InterruptAt(lit.Callback):
    """Presses Ctrl+C (raises ``KeyboardInterrupt``) at batch ``k`` of the given stage's loop."""

    def __init__(self, hook: str, k: int) -> None:
        self.hook = hook
        self.k = k
        self.exceptions: list[BaseException] = []
        self.batches: list[int] = []

    def _maybe_interrupt(self, hook, batch_idx):
        if hook != self.hook:
            return
        self.batches.append(batch_idx)
        if batch_idx == self.k:
            raise KeyboardInterrupt

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._maybe_interrupt("on_train_batch_start", batch_idx)

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        self._maybe_interrupt("on_validation_batch_start", batch_idx)

    def on_test_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        self._maybe_interrupt("on_test_batch_start", batch_idx)

    def on_predict_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        self._maybe_interrupt("on_predict_batch_start", batch_idx)

    def on_exception(self, trainer, pl_module, exception):
        self.exceptions.append(exception)


@pytest.mark.parametrize(("entry", "hook"), [
    ("fit", "on_train_batch_start"),
    ("validate", "on_validation_batch_start"),
    ("test", "on_test_batch_start"),
    ("predict", "on_predict_batch_start"),
])
def test_ctrl_c_shuts_down_and_exits_with_status_1(make_trainer, boring_model, entry, hook):
    before = signal.getsignal(signal.SIGINT)
    stopper = InterruptAt(hook, k=2)
    logger = Finalized()
    module_exceptions = []

    class Model(boring_model):
        def on_exception(self, exception):
            module_exceptions.append(exception)

    trainer = make_trainer(logger=logger, callbacks=[stopper], log_every_n_steps=1, max_epochs=3)
    with pytest.raises(SystemExit) as exited:
        getattr(trainer, entry)(Model())
    assert exited.value.code == 1
    assert stopper.batches == [0, 1, 2], "stopped at the batch that was interrupted"
    assert trainer.state.status == "interrupted" and trainer.interrupted
    assert [type(e) for e in stopper.exceptions] == [KeyboardInterrupt], "callbacks' on_exception ran"
    assert [type(e) for e in module_exceptions] == [KeyboardInterrupt], "the module's on_exception ran"
    assert logger.statuses == ["failed"], "loggers finalize as Lightning: 'failed'"
    assert signal.getsignal(signal.SIGINT) is before, "Ctrl+C works again once the shutdown is over"


def test_fit_logs_before_the_interrupt_are_kept_and_a_new_fit_runs(make_trainer, boring_model):
    class Logging(boring_model):
        def training_step(self, batch, batch_idx):
            loss = super().training_step(batch, batch_idx)
            self.log("loss", loss)
            return loss

    logger = Finalized()
    trainer = make_trainer(logger=logger, callbacks=[InterruptAt("on_train_batch_start", k=3)], log_every_n_steps=1)
    with pytest.raises(SystemExit):
        trainer.fit(Logging())
    assert logger.steps == [0, 1, 2]
    assert trainer.interrupted
    trainer2 = make_trainer(max_steps=2)
    trainer2.fit(boring_model())
    assert trainer2.state.status == "finished" and not trainer2.interrupted


def test_datamodule_on_exception(make_trainer, boring_model, random_loader):
    seen = []

    class Data(lit.LightningDataModule):
        def train_dataloader(self):
            return random_loader()

        def on_exception(self, exception):
            seen.append(type(exception))

    with pytest.raises(SystemExit):
        make_trainer(callbacks=[InterruptAt("on_train_batch_start", k=1)]).fit(boring_model(), datamodule=Data())
    assert seen == [KeyboardInterrupt]


def test_other_exceptions_still_propagate(make_trainer, boring_model):
    logger = Finalized()

    class Failing(boring_model):
        def training_step(self, batch, batch_idx):
            raise ValueError("a bug in the step")

    trainer = make_trainer(logger=logger)
    with pytest.raises(ValueError, match="a bug in the step"):
        trainer.fit(Failing())
    assert trainer.interrupted and logger.statuses == ["failed"]


def test_ctrl_c_pressed_again_during_the_shutdown_is_ignored(make_trainer, boring_model):
    seen = []

    class PressesAgain(InterruptAt):
        def on_exception(self, trainer, pl_module, exception):
            seen.append(signal.getsignal(signal.SIGINT))
            signal.raise_signal(signal.SIGINT)  # ignored: the shutdown continues
            super().on_exception(trainer, pl_module, exception)

    stopper = PressesAgain("on_train_batch_start", k=1)
    with pytest.raises(SystemExit):
        make_trainer(callbacks=[stopper]).fit(boring_model())
    assert seen == [signal.SIG_IGN] and len(stopper.exceptions) == 1
