"""Lightning's Trainer flags: loop lengths, validation schedule, stopping rules, modes."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import torch
from torch.utils.data import DataLoader, IterableDataset, RandomSampler, TensorDataset

import lit_core as lit


class Counting(lit.Callback):
    def __init__(self):
        self.train_batches: list[tuple[int, int]] = []
        self.val_runs: list[tuple[int, int]] = []
        self.val_batches = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.train_batches.append((trainer.current_epoch, batch_idx))

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        self.val_batches += 1

    def on_validation_end(self, trainer, pl_module):
        if not trainer.sanity_checking:
            self.val_runs.append((trainer.current_epoch, trainer.global_step))


def run(make_trainer, model, **flags):
    counter = Counting()
    trainer = make_trainer(callbacks=[counter], **flags)
    trainer.fit(model)
    return trainer, counter


def test_max_epochs_and_defaults(make_trainer, boring_model):
    trainer, counter = run(make_trainer, boring_model(), max_epochs=3)
    assert trainer.current_epoch == 3 and trainer.global_step == 12
    assert [e for e, _ in counter.train_batches] == [0] * 4 + [1] * 4 + [2] * 4
    assert counter.val_runs == [(0, 4), (1, 8), (2, 12)]
    assert counter.val_batches == 2 + 3 * 4  # two sanity-check batches, then full validation each epoch
    assert trainer.state.finished and trainer.state.fn == "fit"


def test_max_epochs_defaults_to_1000_without_max_steps():
    assert lit.Trainer(logger=False).max_epochs == 1000
    assert lit.Trainer(logger=False, max_steps=10).max_epochs == -1


def test_max_steps_stops_mid_epoch(make_trainer, boring_model):
    trainer, counter = run(make_trainer, boring_model(), max_epochs=-1, max_steps=6)
    assert trainer.global_step == 6
    assert counter.train_batches[-1] == (1, 1)


def test_min_epochs_overrides_should_stop(make_trainer, boring_model):
    class StopAtOnce(lit.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            trainer.should_stop = True

    trainer = make_trainer(callbacks=[StopAtOnce()], max_epochs=5, min_epochs=2)
    trainer.fit(boring_model())
    assert trainer.current_epoch == 2  # two full epochs, then the stop request is honoured
    trainer = make_trainer(callbacks=[StopAtOnce()], max_epochs=5, min_steps=3)
    trainer.fit(boring_model())
    assert trainer.global_step == 3


def test_max_time(make_trainer, boring_model):
    class Slow(boring_model):
        def training_step(self, batch, batch_idx):
            time.sleep(0.05)
            return super().training_step(batch, batch_idx)

    trainer = make_trainer(max_epochs=-1, max_time=timedelta(seconds=0.3))
    start = time.monotonic()
    trainer.fit(Slow())
    assert time.monotonic() - start < 3
    assert 3 <= trainer.global_step <= 12
    assert lit.Trainer(max_time="00:01:30:00", logger=False).max_time == 5400
    assert lit.Trainer(max_time={"minutes": 2}, logger=False).max_time == 120


@pytest.mark.parametrize(("limit", "batches"), [(2, 2), (0.5, 2), (1.0, 4), (10, 4)])
def test_limit_train_batches(make_trainer, boring_model, limit, batches):
    _, counter = run(make_trainer, boring_model(), limit_train_batches=limit)
    assert len(counter.train_batches) == batches


def test_limit_val_batches_zero_disables_validation(make_trainer, boring_model):
    _, counter = run(make_trainer, boring_model(), limit_val_batches=0)
    assert counter.val_batches == 0 and counter.val_runs == []


def test_limits_for_test_and_predict(make_trainer, boring_model):
    trainer = make_trainer(limit_test_batches=1, limit_predict_batches=0.5)
    (result,) = trainer.test(boring_model(), verbose=False)
    assert set(result) == {"test_loss"}
    assert len(trainer.predict(boring_model())) == 2


def test_num_batches_per_dataloader(make_trainer, boring_model, random_loader):
    class Counts(lit.Callback):
        def __init__(self):
            self.seen: dict[str, list] = {}

        def on_sanity_check_start(self, trainer, pl_module):
            self.seen["sanity"] = trainer.num_sanity_val_batches

        def on_validation_start(self, trainer, pl_module):
            if not trainer.sanity_checking:
                self.seen["val"] = trainer.num_val_batches

        def on_test_start(self, trainer, pl_module):
            self.seen["test"] = trainer.num_test_batches

        def on_predict_start(self, trainer, pl_module):
            self.seen["predict"] = trainer.num_predict_batches

    class Unsized(torch.utils.data.IterableDataset):
        def __iter__(self):
            for _ in range(3):
                yield torch.randn(2, 4), torch.randn(2, 1)

    class TwoVal(boring_model):
        def val_dataloader(self):  # 4 and 2 batches
            return [random_loader(n=8, seed=1), random_loader(n=4, seed=2)]

        def validation_step(self, batch, batch_idx, dataloader_idx=0):
            return super().validation_step(batch, batch_idx)

    counts = Counts()
    trainer = make_trainer(callbacks=[counts], limit_val_batches=3, num_sanity_val_steps=1, limit_test_batches=0.5,
                           limit_predict_batches=2)
    trainer.fit(TwoVal())
    trainer.test(boring_model(), verbose=False)
    trainer.predict(boring_model(), [random_loader(n=8), DataLoader(Unsized(), batch_size=None)])
    assert counts.seen == {"sanity": [1, 1], "val": [3, 2], "test": [2], "predict": [2, 2]}
    assert trainer.num_training_batches == 4
    no_limit = make_trainer()
    no_limit.predict(boring_model(), DataLoader(Unsized(), batch_size=None))
    assert no_limit.num_predict_batches == [float("inf")], "a loader without a length, no int limit"


def test_val_check_interval_fraction_and_int(make_trainer, boring_model, random_loader):
    _, counter = run(make_trainer, boring_model(), val_check_interval=0.5, num_sanity_val_steps=0)
    assert counter.val_runs == [(0, 2), (0, 4)]

    class Long(boring_model):
        def train_dataloader(self):
            return random_loader(n=20)

    _, counter = run(make_trainer, Long(), val_check_interval=3, num_sanity_val_steps=0, max_epochs=2)
    assert counter.val_runs == [(0, 3), (0, 6), (0, 9), (1, 13), (1, 16), (1, 19)]
    _, counter = run(make_trainer, Long(), val_check_interval=4, check_val_every_n_epoch=None, num_sanity_val_steps=0, max_epochs=2)
    assert [step for _, step in counter.val_runs] == [4, 8, 12, 16, 20]


def test_check_val_every_n_epoch(make_trainer, boring_model):
    _, counter = run(make_trainer, boring_model(), max_epochs=4, check_val_every_n_epoch=2, num_sanity_val_steps=0)
    assert counter.val_runs == [(1, 8), (3, 16)]


@pytest.mark.parametrize(("steps", "expected"), [(0, 0), (1, 1), (2, 2), (-1, 4)])
def test_num_sanity_val_steps(make_trainer, boring_model, steps, expected):
    _, counter = run(make_trainer, boring_model(), num_sanity_val_steps=steps)
    assert counter.val_batches - 4 == expected


def test_fast_dev_run(tmp_root, boring_model):
    counter = Counting()
    trainer = lit.Trainer(fast_dev_run=True, callbacks=[counter], default_root_dir=tmp_root, enable_model_summary=False)
    assert trainer.loggers == []
    trainer.fit(boring_model())
    assert counter.train_batches == [(0, 0)] and counter.val_batches == 1
    assert not (tmp_root / "lightning_logs").exists()
    trainer = lit.Trainer(fast_dev_run=3, default_root_dir=tmp_root, enable_model_summary=False)
    trainer.fit(boring_model())
    assert trainer.global_step == 3


def test_overfit_batches_uses_the_same_batches_in_order(make_trainer, boring_model):
    seen = []

    class Shuffled(boring_model):
        def train_dataloader(self):
            data = TensorDataset(torch.arange(16.0).view(16, 1).repeat(1, 4), torch.zeros(16, 1))
            return DataLoader(data, batch_size=2, sampler=RandomSampler(data))

        def training_step(self, batch, batch_idx):
            seen.append(batch[0][:, 0].tolist())
            return super().training_step(batch, batch_idx)

    make_trainer(overfit_batches=2, max_epochs=2, limit_val_batches=0).fit(Shuffled())
    assert seen == [[0.0, 1.0], [2.0, 3.0]] * 2


def test_accumulate_grad_batches_counts_steps(make_trainer, boring_model):
    trainer, _ = run(make_trainer, boring_model(), accumulate_grad_batches=3, max_epochs=2)
    assert trainer.global_step == 4  # 4 batches per epoch: steps after batch 3 and after the last one


def test_reload_dataloaders_every_n_epochs(make_trainer, boring_model, random_loader):
    calls = []

    class Reloading(boring_model):
        def train_dataloader(self):
            calls.append(self.trainer.current_epoch)
            return random_loader()

    make_trainer(max_epochs=4, reload_dataloaders_every_n_epochs=2).fit(Reloading())
    assert calls == [0, 2]


def test_iterable_dataset_without_length(make_trainer, boring_model):
    class Stream(IterableDataset):
        def __iter__(self):
            g = torch.Generator().manual_seed(0)
            for _ in range(6):
                yield torch.randn(4, generator=g), torch.randn(1, generator=g)

    class Streaming(boring_model):
        def train_dataloader(self):
            return DataLoader(Stream(), batch_size=2)

    trainer, counter = run(make_trainer, Streaming(), max_epochs=2, num_sanity_val_steps=0)
    assert trainer.global_step == 6
    assert counter.val_runs == [(0, 3), (1, 6)]  # validation at the end of each epoch
    assert trainer.num_training_batches == float("inf")


def test_inference_mode_and_no_grad(make_trainer, boring_model):
    modes = []

    class Probe(boring_model):
        def validation_step(self, batch, batch_idx):
            modes.append((torch.is_inference_mode_enabled(), torch.is_grad_enabled(), self.training))

    make_trainer().validate(Probe(), verbose=False)
    make_trainer(inference_mode=False).validate(Probe(), verbose=False)
    assert modes[0] == (True, False, False) and modes[-1] == (False, False, False)


def test_deterministic_and_benchmark_restored(make_trainer, boring_model):
    seen = []

    class Probe(boring_model):
        def training_step(self, batch, batch_idx):
            seen.append((torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.benchmark))
            return super().training_step(batch, batch_idx)

    make_trainer(deterministic=True, benchmark=True, limit_train_batches=1).fit(Probe())
    assert seen == [(True, True)]
    assert not torch.are_deterministic_algorithms_enabled()


@pytest.mark.filterwarnings("ignore:Error detected in")
def test_detect_anomaly(make_trainer, boring_model):
    class NanGradient(boring_model):
        def training_step(self, batch, batch_idx):
            return (self.layer(batch[0]) * 0).sqrt().sum()  # finite forward, NaN gradient

    make_trainer(limit_train_batches=1).fit(NanGradient())  # unnoticed without anomaly detection
    with pytest.raises(RuntimeError, match="returned nan values"):
        make_trainer(detect_anomaly=True).fit(NanGradient())


def test_barebones(tmp_root, boring_model):
    trainer = lit.Trainer(barebones=True, max_epochs=1, default_root_dir=tmp_root)
    assert trainer.loggers == [] and trainer.callbacks == [] and not trainer.enable_model_summary

    class NoLogging(boring_model):
        def validation_step(self, batch, batch_idx):
            return self.loss(batch)

    trainer.fit(NoLogging())
    assert trainer.global_step == 4


def test_default_root_dir_and_log_dir(tmp_root, boring_model):
    trainer = lit.Trainer(default_root_dir=tmp_root / "runs", max_epochs=1, enable_model_summary=False)
    trainer.fit(boring_model())
    assert trainer.log_dir == str(tmp_root / "runs" / "lightning_logs" / "version_0")
    assert lit.Trainer(logger=False).log_dir == str(tmp_root)


def test_seed_era_aliases_map_with_deprecation():
    with pytest.warns(DeprecationWarning, match=r"gpus=0"):
        trainer = lit.Trainer(gpus=0, logger=False)
    assert trainer.accelerator.name == "cpu"


def test_global_rank_attributes(make_trainer):
    trainer = make_trainer()
    assert (trainer.global_rank, trainer.local_rank, trainer.node_rank, trainer.world_size) == (0, 0, 0, 1)
    assert trainer.is_global_zero and trainer.num_devices == 1 and trainer.device == torch.device("cpu")
    assert trainer.strategy.name == "single_device"
    assert trainer.strategy.reduce(torch.tensor(2.0)) == 2.0
    assert trainer.strategy.all_gather(torch.tensor([1.0])).shape == (1, 1)
    assert trainer.strategy.broadcast("x") == "x"
    trainer.strategy.barrier()


def test_estimated_stepping_batches(make_trainer, boring_model):
    seen = []

    class Probe(boring_model):
        def configure_optimizers(self):
            seen.append(self.trainer.estimated_stepping_batches)
            return super().configure_optimizers()

    make_trainer(max_epochs=3, accumulate_grad_batches=2).fit(Probe())
    assert seen == [6]


def test_sanity_check_leaves_the_random_state_alone(make_trainer, boring_model, random_loader):
    make_loader = random_loader
    """As Lightning's (isolate_rng): a run draws the same random numbers with or without a sanity check."""
    draws = []
    for steps in (0, 2):
        torch.manual_seed(3)
        trainer = make_trainer(num_sanity_val_steps=steps, limit_train_batches=1)
        model = boring_model()
        trainer.fit(model, make_loader(), make_loader())
        draws.append(torch.rand(1).item())
    assert draws[0] == draws[1]


def test_should_stop_survives_a_test_after_fit_but_not_the_next_fit(make_trainer, boring_model, random_loader):
    make_loader = random_loader
    class StopAtOnce(boring_model):
        def on_train_batch_end(self, outputs, batch, batch_idx):
            self.trainer.should_stop = True

    trainer = make_trainer(max_epochs=3)
    model = StopAtOnce()
    trainer.fit(model, make_loader())
    trainer.test(model, make_loader())
    assert trainer.should_stop  # Lightning resets it in fit only
    trainer.fit(boring_model(), make_loader())
    assert not trainer.should_stop


def test_each_stage_starts_with_no_metrics(make_trainer, boring_model, random_loader):
    make_loader = random_loader
    class Logs(boring_model):
        def training_step(self, batch, batch_idx):
            loss = self.loss(batch)
            self.log("train_loss", loss)
            return loss

    trainer = make_trainer()
    model = Logs()
    trainer.fit(model, make_loader(), make_loader())
    assert {"train_loss", "val_loss"} <= set(trainer.callback_metrics)
    trainer.test(model, make_loader())
    assert set(trainer.callback_metrics) == {"test_loss"}
