"""lit-callbacks' ``StochasticWeightAveraging`` and ``WeightAveraging``: the averaged weights against a
hand-computed average, BatchNorm statistics, checkpoints and exact resume, errors."""

from __future__ import annotations

from copy import deepcopy
from typing import Any

import pytest
import torch
from torch import nn
from torch.optim.swa_utils import SWALR, get_ema_avg_fn, update_bn

from lit_callbacks import EMAWeightAveraging, StochasticWeightAveraging, WeightAveraging
from lit_core.exceptions import MisconfigurationException


@pytest.fixture
def recording_model(boring_model: Any) -> Any:
    """The boring model (optionally with BatchNorm) keeping a copy of its weights at each epoch start and step end."""

    class Recording(boring_model):
        def __init__(self, batch_norm: bool = False, save_at: Any = None) -> None:
            super().__init__()
            if batch_norm:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(2)
                    self.layer = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
            self.at_epoch_start: list[list[torch.Tensor]] = []
            self.after_step: list[list[torch.Tensor]] = []
            self.save_at = save_at

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            loss = self.loss(batch)
            self.log("train_loss", loss)  # logging must not break SWA's BatchNorm pass after training
            return loss

        def snapshot(self) -> list[torch.Tensor]:
            return [p.detach().clone() for p in self.parameters()]

        def on_train_epoch_start(self) -> None:
            self.at_epoch_start.append(self.snapshot())
            if self.save_at is not None and self.save_at[2] == "start" and self.current_epoch == self.save_at[0]:
                self.trainer.save_checkpoint(self.save_at[1])

        def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
            self.after_step.append(self.snapshot())

        def on_train_epoch_end(self) -> None:
            if self.save_at is not None and self.save_at[2] == "end" and self.current_epoch == self.save_at[0]:
                self.trainer.save_checkpoint(self.save_at[1])

    return Recording


def mean(snapshots: list[list[torch.Tensor]]) -> list[torch.Tensor]:
    return [torch.stack(ps).mean(0) for ps in zip(*snapshots)]


def assert_weights(model: nn.Module, expected: list[torch.Tensor]) -> None:
    for p, e in zip(model.parameters(), expected):
        assert torch.allclose(p.detach(), e, atol=1e-6)


def test_swa_final_weights_are_the_average_of_the_swa_epochs(make_trainer: Any, recording_model: Any) -> None:
    model = recording_model()
    swa = StochasticWeightAveraging(swa_lrs=0.05, swa_epoch_start=2, annealing_epochs=1)
    trainer = make_trainer(max_epochs=4, callbacks=[swa])
    trainer.fit(model)
    # Epochs 1..3 (0-based) are SWA epochs: the weights at their start are averaged.
    assert_weights(model, mean(model.at_epoch_start[1:4]))
    assert int(swa.n_averaged) == 3
    assert isinstance(trainer.lr_scheduler_configs[0].scheduler, SWALR)
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.05)


def test_swa_fraction_start_replaces_the_scheduler(make_trainer: Any, recording_model: Any) -> None:
    class WithScheduler(recording_model):
        def configure_optimizers(self) -> Any:
            opt = torch.optim.SGD(self.parameters(), lr=0.1)
            return [opt], [torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)]

    model = WithScheduler()
    trainer = make_trainer(max_epochs=4, callbacks=[StochasticWeightAveraging(swa_lrs=[0.01], swa_epoch_start=0.5)])
    trainer.fit(model)
    assert_weights(model, mean(model.at_epoch_start[1:4]))  # int(0.5 * 4) = 2 -> from epoch index 1
    assert len(trainer.lr_scheduler_configs) == 1 and isinstance(trainer.lr_scheduler_configs[0].scheduler, SWALR)


def test_swa_recomputes_batch_norm_statistics(make_trainer: Any, recording_model: Any, random_loader: Any) -> None:
    model = recording_model(batch_norm=True)
    make_trainer(max_epochs=3, callbacks=[StochasticWeightAveraging(swa_lrs=0.05, swa_epoch_start=2)]).fit(model)
    reference = recording_model(batch_norm=True)
    reference.load_state_dict(model.state_dict())
    update_bn([x for x, _ in model.train_dataloader()], reference)
    bn, ref = model.layer[1], reference.layer[1]
    assert torch.allclose(bn.running_mean, ref.running_mean, atol=1e-6)
    assert torch.allclose(bn.running_var, ref.running_var, atol=1e-5)
    assert bn.momentum == 0.1  # put back after the pass


def test_swa_resume_is_exact(make_trainer: Any, recording_model: Any, tmp_root: Any) -> None:
    def swa() -> StochasticWeightAveraging:
        return StochasticWeightAveraging(swa_lrs=0.05, swa_epoch_start=2, annealing_epochs=2)

    straight = recording_model()
    make_trainer(max_epochs=5, callbacks=[swa()]).fit(straight)
    path = tmp_root / "swa.ckpt"
    # Saved as epoch 3 starts: lit steps epoch schedulers after on_train_epoch_end, so a checkpoint
    # saved there would hold SWALR before its step (a kernel matter, not the callback's).
    make_trainer(max_epochs=5, callbacks=[swa()]).fit(recording_model(save_at=(3, path, "start")))
    resumed = recording_model()
    make_trainer(max_epochs=5, callbacks=[swa()]).fit(resumed, ckpt_path=path)
    assert_weights(resumed, [p.detach() for p in straight.parameters()])


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"swa_lrs": 0.1, "swa_epoch_start": 0}, "swa_epoch_start should be a >0 integer"),
    ({"swa_lrs": 0.1, "swa_epoch_start": 1.5}, "swa_epoch_start should be a >0 integer"),
    ({"swa_lrs": -0.1}, "positive float"),
    ({"swa_lrs": [0.1, 1]}, "positive float"),
    ({"swa_lrs": 0.1, "avg_fn": 3}, "should be callable"),
    ({"swa_lrs": 0.1, "device": 3}, "torch.device or a str"),
])
def test_swa_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(MisconfigurationException, match=match):
        StochasticWeightAveraging(**kwargs)


def test_swa_needs_one_optimizer(make_trainer: Any, boring_model: Any) -> None:
    class Two(boring_model):
        def configure_optimizers(self) -> Any:
            return [torch.optim.SGD(self.parameters(), lr=0.1), torch.optim.SGD(self.parameters(), lr=0.1)]

    with pytest.raises(MisconfigurationException, match="SWA currently works with 1 `optimizer`"):
        make_trainer(callbacks=[StochasticWeightAveraging(swa_lrs=0.1)]).fit(Two())


def test_ema_matches_a_hand_computed_average(make_trainer: Any, recording_model: Any) -> None:
    plain = recording_model()
    make_trainer(max_epochs=2).fit(plain)
    model = recording_model()
    make_trainer(max_epochs=2, callbacks=[WeightAveraging(avg_fn=get_ema_avg_fn(0.75))]).fit(model)
    # Validation ran on the averaged weights, then the current ones came back: training is unchanged.
    for a, b in zip(model.after_step, plain.after_step):
        assert all(torch.equal(x, y) for x, y in zip(a, b))
    expected = model.after_step[0]
    for weights in model.after_step[1:]:
        expected = [0.75 * e + 0.25 * w for e, w in zip(expected, weights)]
    assert_weights(model, expected)


def test_ema_weight_averaging_from_a_given_step(make_trainer: Any, recording_model: Any) -> None:
    """Lightning 2.6's EMAWeightAveraging: the average starts at the first update (step 2), then decays."""
    model = recording_model()
    make_trainer(max_epochs=1, callbacks=[EMAWeightAveraging(decay=0.5, update_starting_at_step=2)]).fit(model)
    expected = model.after_step[2]
    for weights in model.after_step[3:]:
        expected = [0.5 * e + 0.5 * w for e, w in zip(expected, weights)]
    assert_weights(model, expected)


def test_should_update_chooses_the_steps(make_trainer: Any, recording_model: Any) -> None:
    class EveryOtherStep(WeightAveraging):
        def should_update(self, step_idx: int | None = None, epoch_idx: int | None = None) -> bool:
            return step_idx is not None and step_idx % 2 == 1

    model = recording_model()
    make_trainer(max_epochs=1, callbacks=[EveryOtherStep()]).fit(model)
    assert_weights(model, mean([model.after_step[1], model.after_step[3]]))


def test_weight_averaging_checkpoint_and_exact_resume(make_trainer: Any, recording_model: Any, tmp_root: Any) -> None:
    straight = recording_model()
    make_trainer(max_epochs=3, callbacks=[WeightAveraging()]).fit(straight)
    path = tmp_root / "wa.ckpt"
    first = recording_model(save_at=(0, path, "end"))
    make_trainer(max_epochs=3, callbacks=[WeightAveraging()]).fit(first)
    checkpoint = torch.load(path, weights_only=True)
    assert set(checkpoint) >= {"state_dict", "current_model_state", "averaging_state"}
    assert int(checkpoint["averaging_state"]["n_averaged"]) == 4
    assert torch.allclose(checkpoint["state_dict"]["layer.weight"], mean(first.after_step[:4])[0])
    assert torch.equal(checkpoint["current_model_state"]["layer.weight"], first.after_step[3][0])

    resumed = recording_model()
    make_trainer(max_epochs=3, callbacks=[WeightAveraging()]).fit(resumed, ckpt_path=path)
    assert_weights(resumed, [p.detach() for p in straight.parameters()])
    assert_weights(resumed, mean(straight.after_step))


def test_weight_averaging_usable_by_name(make_trainer: Any, recording_model: Any) -> None:
    model = recording_model()
    trainer = make_trainer(plugins=["weight_averaging"])
    assert any(isinstance(cb, WeightAveraging) for cb in trainer.callbacks)
    trainer.fit(model)
    assert_weights(model, mean(model.after_step))


def test_swa_batch_norm_pass_without_forward_runs_training_step(make_trainer: Any, random_loader: Any) -> None:
    """A module whose ``training_step`` calls its submodules (no ``forward``, valid in Lightning):
    the BatchNorm pass runs ``training_step``, with ``self.log`` muted, and gives ``update_bn``'s
    statistics for the averaged weights."""
    import lit_core as lit

    class NoForward(lit.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 1))

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            loss = nn.functional.mse_loss(self.net(batch[0]), batch[1])
            self.log("loss", loss)
            return loss

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.1)

    model = NoForward()
    loader = random_loader(n=16, batch_size=4)
    make_trainer(max_epochs=2, callbacks=[StochasticWeightAveraging(swa_lrs=0.05, swa_epoch_start=1)]).fit(model, loader)
    expected = deepcopy(model.net)
    update_bn(((x,) for x, _ in loader), expected)
    bn, reference = model.net[1], expected[1]
    assert torch.allclose(bn.running_mean, reference.running_mean) and torch.allclose(bn.running_var, reference.running_var)
    assert "log" not in vars(model), "the muted log is gone after the pass"
