"""The learning-rate finder: ``Tuner(trainer).lr_find`` and the ``LearningRateFinder`` callback, on real tiny trainings."""

from __future__ import annotations

import itertools
import sys
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

import lit_core as lit
from lit_callbacks import LearningRateFinder, Tuner
from lit_callbacks.tuner.lr_finder import LRFinder, MatplotlibMissing
from lit_core.exceptions import MisconfigurationException


def regression_loader(n: int = 128, batch_size: int = 4) -> DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=g)
    return DataLoader(TensorDataset(x, x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])), batch_size=batch_size)


class LRModel(lit.LightningModule):
    """Linear regression whose optimizer reads ``self.lr``."""

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__()
        self.lr = lr
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.layer = nn.Linear(4, 1)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return F.mse_loss(self.layer(x), y)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)

    def train_dataloader(self) -> DataLoader:
        return regression_loader()


class HparamsModel(LRModel):
    def __init__(self, learning_rate: float = 0.01) -> None:
        super().__init__()
        del self.lr
        self.save_hyperparameters()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.hparams.learning_rate)


class Counter(lit.Callback):
    def __init__(self) -> None:
        self.batches = 0

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.batches += 1


def test_lr_find_suggests_a_rate_in_range_and_sets_model_lr(make_trainer: Any) -> None:
    model = LRModel()
    finder = Tuner(make_trainer()).lr_find(model, min_lr=1e-5, max_lr=1.0, num_training=20, early_stop_threshold=None)
    assert isinstance(finder, LRFinder)
    assert len(finder.results["lr"]) == len(finder.results["loss"]) == 20
    assert finder.results["lr"][0] == pytest.approx(1e-5) and finder.results["lr"][-1] == pytest.approx(1.0)
    lrs = finder.results["lr"]
    assert all(b > a for a, b in itertools.pairwise(lrs))
    suggestion = finder.suggestion()
    assert 1e-5 <= suggestion <= 1.0
    assert model.lr == suggestion
    # The loss really fell somewhere in the range: the finder trained. (Point 0 is debiased with
    # beta**2, as Lightning does, so it reads low: compare from the second point on.)
    assert min(finder.results["loss"][2:]) < finder.results["loss"][1]


def test_lr_find_updates_hparams_learning_rate(make_trainer: Any) -> None:
    model = HparamsModel()
    finder = Tuner(make_trainer()).lr_find(model, num_training=20)
    assert model.hparams.learning_rate == finder.suggestion() != 0.01


def test_lr_find_attr_name_and_no_update(make_trainer: Any) -> None:
    class Custom(LRModel):
        def __init__(self) -> None:
            super().__init__()
            del self.lr
            self.my_lr = 0.01

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=self.my_lr)

    model = Custom()
    Tuner(make_trainer()).lr_find(model, num_training=20, attr_name="my_lr")
    assert model.my_lr != 0.01
    with pytest.raises(AttributeError, match="lr_find\\(attr_name"):
        Tuner(make_trainer()).lr_find(Custom(), num_training=20)
    with pytest.raises(AttributeError, match="nope"):
        Tuner(make_trainer()).lr_find(Custom(), num_training=20, attr_name="nope")
    kept = Custom()
    Tuner(make_trainer()).lr_find(kept, num_training=20, update_attr=False)
    assert kept.my_lr == 0.01


def test_linear_mode_spaces_rates_evenly(make_trainer: Any) -> None:
    finder = Tuner(make_trainer()).lr_find(LRModel(), min_lr=0.01, max_lr=0.2, num_training=20, mode="linear",
                                           early_stop_threshold=None)
    lrs = torch.tensor(finder.results["lr"], dtype=torch.float64)
    steps = torch.diff(lrs)
    # Lightning 2.6's points: min_lr, then (i + 1) / 20 of the range at step i, so the second
    # point is two twentieths up and the last is max_lr.
    assert lrs[0] == pytest.approx(0.01) and lrs[-1] == pytest.approx(0.2)
    assert steps[0].item() == pytest.approx(2 * 0.0095)  # a float: pytest.approx compares tensors through numpy
    assert torch.allclose(steps[1:], torch.full_like(steps[1:], 0.0095))


def test_diverging_loss_stops_early(make_trainer: Any) -> None:
    finder = Tuner(make_trainer(max_epochs=5)).lr_find(LRModel(), min_lr=1e-3, max_lr=1e4, num_training=100)
    n = len(finder.results["loss"])
    assert 2 < n < 100
    assert finder.results["loss"][-1] > 4.0 * min(finder.results["loss"])


def test_state_is_restored_after_lr_find(make_trainer: Any) -> None:
    counter = Counter()
    trainer = make_trainer(callbacks=[counter], max_steps=7)
    model = LRModel()
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    Tuner(trainer).lr_find(model, num_training=20)
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
    assert trainer.global_step == 0 and trainer.current_epoch == 0
    assert trainer.max_steps == 7 and trainer.limit_val_batches == 1.0
    assert trainer.callbacks == [counter] and counter.batches == 0  # not called during the search
    assert torch.equal(torch.get_rng_state(), rng)
    assert trainer.callback_metrics == {}
    trainer.fit(model)
    assert trainer.global_step == 7 and counter.batches == 7


def test_fit_after_lr_find_equals_fit_without_tuning(make_trainer: Any) -> None:
    tuned = LRModel()
    trainer = make_trainer(max_epochs=2)
    Tuner(trainer).lr_find(tuned, num_training=20)
    trainer.fit(tuned)

    plain = LRModel(lr=tuned.lr)
    make_trainer(max_epochs=2).fit(plain)
    for (name, a), b in zip(tuned.state_dict().items(), plain.state_dict().values()):
        assert torch.equal(a, b), name


def test_accumulated_gradients_record_one_point_per_optimizer_step(make_trainer: Any) -> None:
    finder = Tuner(make_trainer(accumulate_grad_batches=2)).lr_find(LRModel(), num_training=10, early_stop_threshold=None)
    assert len(finder.results["lr"]) == len(finder.results["loss"]) == 10


def test_callback_form_searches_at_fit_start_then_trains(make_trainer: Any) -> None:
    finder = LearningRateFinder(num_training_steps=20)
    counter = Counter()
    model = LRModel()
    trainer = make_trainer(callbacks=[finder, counter], max_steps=5)
    trainer.fit(model)
    assert isinstance(finder.optimal_lr, LRFinder)
    assert model.lr == finder.optimal_lr.suggestion()
    assert trainer.global_step == 5 and counter.batches == 5


def test_callback_by_name(make_trainer: Any) -> None:
    trainer = make_trainer(callbacks=["lr_finder"])
    assert [type(cb) for cb in trainer.callbacks] == [LearningRateFinder]


def test_suggestion_needs_points() -> None:
    finder = LRFinder("exponential", 1e-3, 1.0, 100)
    finder.results = {"lr": [1e-3, 1e-2, 1e-1], "loss": [1.0, 0.5, 0.4]}
    assert finder.suggestion() is None
    # Non-finite losses are left out, and the index found is the point's own (not shifted by them);
    # the gradient is taken against the learning rates (Lightning 2.6), not the point index.
    finder.results = {"lr": [1e-3, 1e-2, 1e-1, 1.0, 10.0], "loss": [1.0, float("nan"), 0.99, 0.2, 0.19]}
    assert finder.suggestion(skip_begin=0, skip_end=0) == 1.0


def test_plot(make_trainer: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    finder = Tuner(make_trainer()).lr_find(LRModel(), num_training=20)
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    fig = finder.plot(suggest=True)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and len(ax.lines) == 2
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="matplotlib"):
        finder.plot()
    with pytest.raises(MisconfigurationException, match="Matplotlib"):
        finder.plot()
    assert MatplotlibMissing


def test_errors(make_trainer: Any, random_loader: Any) -> None:
    class TwoOptimizers(LRModel):
        def configure_optimizers(self) -> Any:
            return [torch.optim.SGD(self.parameters(), lr=0.1), torch.optim.Adam(self.parameters())]

        def training_step(self, batch: Any, batch_idx: int, optimizer_idx: int = 0) -> torch.Tensor:
            return super().training_step(batch, batch_idx)

    with pytest.raises(MisconfigurationException, match="returned 2 optimizers"):
        Tuner(make_trainer()).lr_find(TwoOptimizers(), num_training=5)
    with pytest.raises(MisconfigurationException, match="method='fit'"):
        Tuner(make_trainer()).lr_find(LRModel(), method="validate")
    with pytest.raises(MisconfigurationException, match="`dataloaders` argument should be None"):
        Tuner(make_trainer()).lr_find(LRModel(), dataloaders=random_loader())
    with pytest.raises(ValueError, match="already configured with a `LearningRateFinder`"):
        Tuner(make_trainer(callbacks=[LearningRateFinder()])).lr_find(LRModel())
    with pytest.raises(ValueError, match="`mode` should be"):
        LearningRateFinder(mode="cosine")


def test_fast_dev_run_skips(make_trainer: Any) -> None:
    model = LRModel()
    with pytest.warns(UserWarning, match="fast_dev_run"):
        assert Tuner(make_trainer(fast_dev_run=True)).lr_find(model) is None
    assert model.lr == 0.01


def test_subclass_searching_at_chosen_epochs(make_trainer: Any) -> None:
    """Lightning's documented pattern: search again at milestones, from on_train_epoch_start."""

    class FineTuneLearningRateFinder(LearningRateFinder):
        def __init__(self, milestones: tuple[int, ...], *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.milestones = milestones
            self.searched_at: list[int] = []

        def on_fit_start(self, *args: Any, **kwargs: Any) -> None:
            return

        def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
            if trainer.current_epoch in self.milestones:
                self.lr_find(trainer, pl_module)
                self.searched_at.append(trainer.current_epoch)

    finder = FineTuneLearningRateFinder(milestones=(0, 2), num_training_steps=20)
    counter = Counter()
    trainer = make_trainer(callbacks=[finder, counter], max_epochs=3)
    trainer.fit(LRModel())
    assert finder.searched_at == [0, 2] and isinstance(finder.optimal_lr, LRFinder)
    assert trainer.global_step == counter.batches == 3 * 32 and trainer.current_epoch == 3
