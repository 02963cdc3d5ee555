"""``lit_core.progress.ProgressBar`` as a template: a bar that implements only the drawing methods.

``ListBar`` draws into a list. The base decides which bar is open in which stage, its total and
description, when a batch makes it due, and what is closed when; these tests read that off the list.
"""

from __future__ import annotations

from typing import Any

import pytest

import lit_core as lit
from lit_core.progress import ProgressBar


class Drawn:
    """What ``open_bar`` returns: any object with an ``n`` attribute."""

    def __init__(self, kind: str) -> None:
        self.kind, self.n = kind, 0


class ListBar(ProgressBar):
    """A third-party bar written against the template: four methods, no lit hook of its own."""

    def __init__(self, refresh_rate: int = 1, reuse_train_bar: bool = False) -> None:
        self._refresh_rate = refresh_rate
        self.min_interval = 0.0  # every due batch redraws: the list shows the schedule exactly
        self.reuse_train_bar = reuse_train_bar
        self.drawn: list[tuple[Any, ...]] = []

    def open_bar(self, kind: str, description: str, total: float) -> Drawn:
        self.drawn.append(("open", kind, description, total))
        return Drawn(kind)

    def update_bar(self, bar: Drawn, metrics: dict[str, Any] | None) -> None:
        self.drawn.append(("update", bar.kind, bar.n, None if metrics is None else sorted(metrics)))

    def close_bar(self, bar: Drawn, kind: str) -> None:
        assert kind == bar.kind
        self.drawn.append(("close", kind, bar.n))

    def reset_bar(self, bar: Drawn, description: str, total: float) -> bool:
        if self.reuse_train_bar:
            self.drawn.append(("reset", description, total))
        return self.reuse_train_bar

    def finish(self) -> None:
        self.drawn.append(("finish",))

    def print(self, *args: Any, **kwargs: Any) -> None:
        self.drawn.append(("print", " ".join(map(str, args))))

    def of(self, *what: str) -> list[tuple[Any, ...]]:
        return [d for d in self.drawn if d[0] in what]


@pytest.fixture
def logging_model(boring_model):
    class Model(boring_model):
        def training_step(self, batch: Any, batch_idx: int) -> Any:
            loss = self.loss(batch)
            self.log("train_loss", loss, prog_bar=True)
            return loss

    return Model


def bar_trainer(make_trainer, bar: ProgressBar, **flags: Any) -> lit.Trainer:
    return make_trainer(enable_progress_bar=True, callbacks=[bar], **flags)


def test_fit_opens_and_closes_each_stages_bar_with_its_total(make_trainer, logging_model, random_loader):
    bar = ListBar()
    trainer = bar_trainer(make_trainer, bar, max_epochs=2, limit_train_batches=3, limit_val_batches=2,
                          num_sanity_val_steps=1)
    trainer.fit(logging_model(), random_loader(n=8), random_loader(n=8))
    assert bar.of("open", "close", "finish") == [
        ("open", "sanity", "Sanity Checking", 1.0), ("close", "sanity", 1),
        ("open", "train", "Epoch 0", 3), ("open", "validation", "Validation", 2.0), ("close", "validation", 2),
        ("close", "train", 3),  # the next epoch opens a new training bar (reset_bar said no)
        ("open", "train", "Epoch 1", 3), ("open", "validation", "Validation", 2.0), ("close", "validation", 2),
        ("close", "train", 3), ("finish",),
    ]
    train_updates = [(n, metrics) for _, kind, n, metrics in bar.of("update") if kind == "train"]
    # refresh_rate=1: every batch, the epoch's end, and after validation; always with the metrics.
    assert [n for n, _ in train_updates] == [1, 2, 3, 3, 3] * 2
    assert all(metrics == ["train_loss"] for _, metrics in train_updates[1:]), train_updates
    assert [(kind, n, metrics) for _, kind, n, metrics in bar.of("update") if kind != "train"] == [
        ("sanity", 1, None), ("validation", 1, None), ("validation", 2, None), ("validation", 1, None), ("validation", 2, None),
    ]


def test_validate_test_predict_each_open_one_bar_and_finish(make_trainer, boring_model, random_loader):
    bar = ListBar(refresh_rate=2)
    trainer = bar_trainer(make_trainer, bar)
    model = boring_model()
    trainer.validate(model, random_loader(n=6))
    trainer.test(model, random_loader(n=10))
    trainer.predict(model, random_loader(n=4))
    assert bar.of("open", "close", "finish") == [
        ("open", "validation", "Validation", 3.0), ("close", "validation", 3), ("finish",),
        ("open", "test", "Testing", 5.0), ("close", "test", 5), ("finish",),
        ("open", "predict", "Predicting", 2.0), ("close", "predict", 2), ("finish",),
    ]
    # refresh_rate=2: batches 2 and 4 are due, not 1, 3 or 5.
    assert [(kind, n) for _, kind, n, _ in bar.of("update")] == [("validation", 2), ("test", 2), ("test", 4), ("predict", 2)]
    assert any(d[0] == "print" and "Test metric" in d[1] and "test_loss" in d[1] for d in bar.drawn), \
        "the results table goes through the bar's print"


def test_reset_bar_reuses_the_training_bar_across_epochs(make_trainer, boring_model, random_loader):
    bar = ListBar(reuse_train_bar=True)
    trainer = bar_trainer(make_trainer, bar, max_epochs=3, limit_train_batches=2, limit_val_batches=0)
    trainer.fit(boring_model(), random_loader(n=8))
    assert bar.of("open", "reset", "close") == [
        ("open", "train", "Epoch 0", 2), ("reset", "Epoch 1", 2), ("reset", "Epoch 2", 2), ("close", "train", 2),
    ]
    assert [n for _, kind, n, _ in bar.of("update")] == [1, 2, 2] * 3, "n starts again at 0 after a reset"


def test_an_error_closes_the_open_bars(make_trainer, boring_model, random_loader):
    class Failing(boring_model):
        def validation_step(self, batch: Any, batch_idx: int) -> Any:
            raise RuntimeError("boom")

    bar = ListBar()
    trainer = bar_trainer(make_trainer, bar, limit_train_batches=2, num_sanity_val_steps=0)
    with pytest.raises(RuntimeError, match="boom"):
        trainer.fit(Failing(), random_loader(n=8), random_loader(n=8))
    assert bar.of("close", "finish")[-3:] == [("close", "validation", 0), ("close", "train", 2), ("finish",)]


def test_a_disabled_bar_draws_nothing(make_trainer, boring_model, random_loader):
    bar = ListBar(refresh_rate=0)
    bar_trainer(make_trainer, bar, limit_train_batches=2).fit(boring_model(), random_loader(n=8))
    assert bar.drawn == []

    bar = ListBar()
    bar.disable()
    bar_trainer(make_trainer, bar, limit_train_batches=2).fit(boring_model(), random_loader(n=8))
    assert bar.drawn == []


def test_a_lightning_style_bar_without_the_drawing_methods_still_gets_its_hooks(make_trainer, boring_model, random_loader):
    """A bar that draws in Lightning's ``on_*`` methods: the base opens nothing, its methods run."""

    class OnlyHooks(ProgressBar):
        def __init__(self) -> None:
            self.seen: list[tuple[str, int]] = []

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            self.seen.append(("train", batch_idx + 1))

        def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
            self.seen.append(("val", batch_idx + 1))

    bar = OnlyHooks()
    trainer = bar_trainer(make_trainer, bar, limit_train_batches=2, limit_val_batches=1, num_sanity_val_steps=0)
    trainer.fit(boring_model(), random_loader(n=8), random_loader(n=8))
    assert trainer.progress_bar_callback is bar
    assert bar.seen == [("train", 1), ("train", 2), ("val", 1)]
    assert bar._train is None and bar._eval is None
