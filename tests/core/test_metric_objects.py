"""``self.log(name, metric)`` with torchmetrics ``Metric`` objects, as Lightning users write it.

The expected values are computed by hand with torchmetrics' functional API on the same data.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

torchmetrics = pytest.importorskip("torchmetrics")

import lit_core as lit  # noqa: E402
from lit_core.exceptions import MisconfigurationException  # noqa: E402
from lit_core.plugin_api import Strategy  # noqa: E402

CLASSES = 3


def classification_loader(seed: int, n: int = 12, batch_size: int = 4) -> DataLoader:
    g = torch.Generator().manual_seed(seed)
    return DataLoader(TensorDataset(torch.randn(n, 4, generator=g), torch.randint(CLASSES, (n,), generator=g)), batch_size=batch_size)


class Classifier(lit.LightningModule):
    """Logs a training Accuracy per step and per epoch, a validation Accuracy per epoch."""

    def __init__(self, on_step: bool = True, on_epoch: bool = True) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Linear(4, CLASSES)
        self.train_acc = torchmetrics.Accuracy(task="multiclass", num_classes=CLASSES)
        self.val_acc = torchmetrics.Accuracy(task="multiclass", num_classes=CLASSES)
        self.flags = {"on_step": on_step, "on_epoch": on_epoch}
        self.step_values: list[float] = []
        self.seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.train_acc(logits, y)
        self.log("train_acc", self.train_acc, **self.flags)
        if self.flags["on_step"]:
            self.step_values.append(float(self.trainer.callback_metrics["train_acc_step" if self.flags["on_epoch"] else "train_acc"]))
        self.seen.append((logits.detach().argmax(-1), y))
        return F.cross_entropy(logits, y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.val_acc.update(self(x), y)
        self.log("val_acc", self.val_acc)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)  # lr 0: the predictions do not change within an epoch


def accuracy(pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
    preds = torch.cat([p for p, _ in pairs])
    target = torch.cat([t for _, t in pairs])
    return (preds == target).float().mean().item()


def test_metric_logged_in_training_step_gives_forward_per_step_and_compute_per_epoch(make_trainer):
    model = Classifier()
    trainer = make_trainer(max_epochs=2, num_sanity_val_steps=0)
    trainer.fit(model, classification_loader(0), classification_loader(1))
    per_batch = [accuracy([pair]) for pair in model.seen]
    assert model.step_values == pytest.approx(per_batch)
    # The epoch value covers the last epoch's batches only: the metric was reset after epoch 0.
    assert trainer.callback_metrics["train_acc_epoch"].item() == pytest.approx(accuracy(model.seen[3:]))
    assert trainer.callback_metrics["train_acc"].item() == pytest.approx(accuracy(model.seen[3:]))


def test_metric_updated_in_validation_is_computed_over_the_whole_set(make_trainer):
    model = Classifier()
    trainer = make_trainer(num_sanity_val_steps=0)
    val = classification_loader(1)
    trainer.fit(model, classification_loader(0), val)
    x, y = val.dataset.tensors
    with torch.no_grad():
        expected = (model(x).argmax(-1) == y).float().mean().item()
    assert trainer.callback_metrics["val_acc"].item() == pytest.approx(expected)
    # validate() returns the same value and the metric starts from a clean state each run.
    assert trainer.validate(model, val, verbose=False)[0]["val_acc"] == pytest.approx(expected)
    assert model.val_acc.update_count == 0


def test_metric_only_per_step_is_reset_at_epoch_end(make_trainer):
    model = Classifier(on_step=True, on_epoch=False)
    trainer = make_trainer(max_epochs=1, limit_val_batches=0)
    trainer.fit(model, classification_loader(0))
    assert "train_acc_epoch" not in trainer.callback_metrics
    assert model.train_acc.update_count == 0
    assert model.step_values == pytest.approx([accuracy([pair]) for pair in model.seen])


def test_metric_with_neither_step_nor_epoch_is_an_error(make_trainer):
    model = Classifier(on_step=False, on_epoch=False)
    with pytest.raises(MisconfigurationException, match="on_step=False, on_epoch=False"):
        make_trainer(limit_val_batches=0).fit(model, classification_loader(0))


class Regressor(lit.LightningModule):
    """Logs a MetricCollection with ``log_dict`` in validation (objects) and in training (its values)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Linear(4, 1)
        metrics = torchmetrics.MetricCollection([torchmetrics.MeanSquaredError(), torchmetrics.MeanAbsoluteError()])
        self.train_metrics = metrics.clone(prefix="train_")
        self.val_metrics = metrics.clone(prefix="val_")
        self.max_seen: list[float] = []

    def training_step(self, batch, batch_idx):
        x, y = batch
        pred = self.net(x).squeeze(-1)
        self.log_dict(self.train_metrics(pred, y))  # a dict of tensors (the batch's values)
        loss = F.mse_loss(pred, y)
        self.max_seen.append(loss.item())
        self.log("loss_max", loss, on_step=False, on_epoch=True, reduce_fx=torch.max)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.val_metrics.update(self.net(x).squeeze(-1), y)
        self.log_dict(self.val_metrics)  # the collection itself: computed at the epoch's end

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)


def regression_loader(seed: int) -> DataLoader:
    g = torch.Generator().manual_seed(seed)
    return DataLoader(TensorDataset(torch.randn(10, 4, generator=g), torch.randn(10, generator=g)), batch_size=4)


def test_log_dict_with_a_metric_collection(make_trainer):
    model = Regressor()
    trainer = make_trainer(num_sanity_val_steps=0)
    val = regression_loader(1)
    trainer.fit(model, regression_loader(0), val)
    x, y = val.dataset.tensors
    with torch.no_grad():
        pred = model.net(x).squeeze(-1)
    metrics = trainer.callback_metrics
    assert metrics["val_MeanSquaredError"].item() == pytest.approx(F.mse_loss(pred, y).item(), rel=1e-5)
    assert metrics["val_MeanAbsoluteError"].item() == pytest.approx(F.l1_loss(pred, y).item(), rel=1e-5)
    assert "train_MeanSquaredError" in metrics
    assert metrics["loss_max"].item() == pytest.approx(max(model.max_seen))


class DoublingReducer(Strategy):
    """A strategy whose ``reduce`` answers as if a second process had logged the same values (sums double)."""

    name = "test_doublingreducer"

    def __init__(self) -> None:
        self.ops: list[str] = []

    def reduce(self, tensor: torch.Tensor, reduce_op: str = "mean") -> torch.Tensor:
        self.ops.append(reduce_op)
        return tensor * 2 if reduce_op == "sum" else tensor


def test_metric_objects_are_not_reduced_again_with_sync_dist(make_trainer, boring_model):
    """torchmetrics synchronises in compute(); lit's sync_dist reduction must not apply on top."""

    class Counting(boring_model):
        def __init__(self):
            super().__init__()
            self.seen = torchmetrics.SumMetric()

        def training_step(self, batch, batch_idx):
            self.seen(torch.tensor(float(len(batch[0]))))
            self.log("seen", self.seen, on_step=True, on_epoch=True, reduce_fx="sum", sync_dist=True)
            return super().training_step(batch, batch_idx)

    reducer = DoublingReducer()
    trainer = make_trainer(strategy=reducer, limit_val_batches=0)
    trainer.fit(Counting())
    assert trainer.callback_metrics["seen_step"].item() == 2.0
    assert trainer.callback_metrics["seen_epoch"].item() == 8.0
    assert reducer.ops == []


def test_metric_logged_in_on_train_epoch_end(make_trainer):
    """The other common form: update in the step, log the object once in the epoch hook."""

    class EpochEnd(Classifier):
        def training_step(self, batch, batch_idx):
            x, y = batch
            logits = self(x)
            self.train_acc.update(logits, y)
            self.seen.append((logits.detach().argmax(-1), y))
            return F.cross_entropy(logits, y)

        def on_train_epoch_end(self):
            self.log("train_acc", self.train_acc)

    model = EpochEnd()
    trainer = make_trainer(max_epochs=2, limit_val_batches=0)
    trainer.fit(model, classification_loader(0))
    assert trainer.callback_metrics["train_acc"].item() == pytest.approx(accuracy(model.seen[3:]))
    assert model.train_acc.update_count == 0


def test_a_name_keeps_its_metric_object(make_trainer):
    class Swaps(Classifier):
        def training_step(self, batch, batch_idx):
            x, y = batch
            metric = self.train_acc if batch_idx == 0 else self.val_acc
            metric(self(x), y)
            self.log("acc", metric)
            return F.cross_entropy(self(x), y)

    with pytest.raises(MisconfigurationException, match="'acc' was logged with a different metric object"):
        make_trainer(limit_val_batches=0).fit(Swaps(), classification_loader(0))


def test_a_plain_value_under_a_metric_objects_name_is_an_error_not_lost(make_trainer):
    """``self.log("acc", self.acc)`` per step and ``self.log("acc", self.acc.compute())`` at the epoch's
    end: the second would silently vanish behind the object's compute(), so it is refused with the fix."""

    class Twice(Classifier):
        def training_step(self, batch, batch_idx):
            x, y = batch
            self.train_acc(self(x), y)
            self.log("acc", self.train_acc, on_step=True, on_epoch=True)
            return F.cross_entropy(self(x), y)

        def on_train_epoch_end(self):
            self.log("acc", self.train_acc.compute())

    with pytest.raises(MisconfigurationException, match=r"'acc' was logged as a metric object.*'acc_computed'"):
        make_trainer(limit_val_batches=0).fit(Twice(), classification_loader(0))


@pytest.mark.parametrize(("reduce_fx", "expected"), [(torch.sum, 10.0), (sum, 10.0), ("MAX", 4.0), (min, 1.0), (torch.mean, 2.5)])
def test_reduce_fx_callables_and_names(make_trainer, boring_model, reduce_fx, expected):
    class Logs(boring_model):
        def training_step(self, batch, batch_idx):
            self.log("value", float(batch_idx + 1), on_step=False, on_epoch=True, reduce_fx=reduce_fx)
            return super().training_step(batch, batch_idx)

    trainer = make_trainer(limit_val_batches=0)
    trainer.fit(Logs())
    assert trainer.callback_metrics["value"].item() == expected


def test_numpy_scalars_are_logged_as_numbers(make_trainer, boring_model):
    np = pytest.importorskip("numpy")

    class Logs(boring_model):
        def training_step(self, batch, batch_idx):
            self.log("np32", np.float32(1.5))
            self.log("np_int", np.int64(3))
            return super().training_step(batch, batch_idx)

    trainer = make_trainer(limit_val_batches=0, limit_train_batches=1)
    trainer.fit(Logs())
    assert trainer.callback_metrics["np32"].item() == 1.5 and trainer.callback_metrics["np_int"].item() == 3.0
