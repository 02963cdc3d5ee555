"""CombinedLoader's modes, and several training / evaluation loaders in the loops (Lightning 2.x semantics)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import lit_core as lit
from lit_core.utilities.combined_loader import CombinedLoader


def ints(n: int, batch_size: int, start: int = 0, shuffle: bool = False) -> DataLoader:
    return DataLoader(torch.arange(start, start + n), batch_size=batch_size, shuffle=shuffle)


def plain(batch: Any) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.tolist()
    if isinstance(batch, dict):
        return {k: plain(v) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(plain(v) for v in batch)
    return batch


# -- the modes ------------------------------------------------------------------------------


def test_min_size_stops_with_the_shortest():
    combined = CombinedLoader([ints(4, 2), ints(6, 2, 10)])
    assert combined.mode == "min_size" and len(combined) == 2
    assert [(plain(b), i, d) for b, i, d in combined] == [([[0, 1], [10, 11]], 0, 0), ([[2, 3], [12, 13]], 1, 0)]


def test_max_size_cycle_restarts_the_shorter():
    combined = CombinedLoader({"a": ints(4, 2), "b": ints(6, 2, 10)}, mode="max_size_cycle")
    assert len(combined) == 3
    out = [(plain(b), i) for b, i, _ in combined]
    assert out == [({"a": [0, 1], "b": [10, 11]}, 0), ({"a": [2, 3], "b": [12, 13]}, 1), ({"a": [0, 1], "b": [14, 15]}, 2)]


def test_max_size_fills_finished_iterables_with_none():
    combined = CombinedLoader({"a": ints(2, 2), "b": ints(6, 2)}, mode="max_size")
    assert len(combined) == 3
    assert [plain(b)["a"] for b, _, _ in combined] == [[0, 1], None, None]


def test_sequential_yields_each_iterable_in_turn():
    combined = CombinedLoader([ints(4, 2), ints(3, 2, 10)], mode="sequential")
    assert len(combined) == 4
    assert [(plain(b), i, d) for b, i, d in combined] == [([0, 1], 0, 0), ([2, 3], 1, 0), ([10, 11], 0, 1), ([12], 1, 1)]


def test_sequential_limits_per_iterable():
    combined = CombinedLoader([ints(8, 2), ints(8, 2)], mode="sequential")
    combined.limits = [1, 3]
    assert len(combined) == 4
    assert [(i, d) for _, i, d in combined] == [(0, 0), (0, 1), (1, 1), (2, 1)]
    combined.limits = 1
    assert combined.limits == [1, 1] and len(combined) == 2
    with pytest.raises(ValueError, match="one per iterable"):
        combined.limits = [1, 2, 3]


def test_nested_collections_keep_their_shape_and_flatten_in_order():
    a, b, c = ints(2, 1), ints(2, 1, 10), ints(2, 1, 20)
    combined = CombinedLoader({"x": [a, b], "y": OrderedDict(z=c), "t": (a,)})
    assert combined.flattened == [a, b, c, a]
    first = next(iter(combined))[0]
    assert plain(first) == {"x": [[0], [10]], "y": {"z": [20]}, "t": ([0],)}
    assert isinstance(first["y"], OrderedDict) and isinstance(first["t"], tuple)
    assert combined.sampler["x"][0] is a.sampler and combined.batch_sampler["y"]["z"] is c.batch_sampler


def test_flattened_setter_replaces_the_iterables():
    combined = CombinedLoader({"a": ints(2, 1), "b": ints(2, 1)})
    new = [ints(2, 1, 5), ints(2, 1, 7)]
    combined.flattened = new
    assert combined.iterables == {"a": new[0], "b": new[1]}
    assert plain(next(iter(combined))[0]) == {"a": [5], "b": [7]}
    with pytest.raises(ValueError, match="give as many"):
        combined.flattened = new[:1]


def test_bad_mode_and_unsized_iterable():
    with pytest.raises(ValueError, match="Unsupported mode 'zip'"):
        CombinedLoader([], mode="zip")
    combined = CombinedLoader([iter(range(3)), ints(2, 1)])
    with pytest.raises(TypeError, match="has no length"):
        len(combined)
    assert [plain(b) for b, _, _ in combined] == [[0, [0]], [1, [1]]]


def test_dataset_length_and_reset():
    combined = CombinedLoader([ints(4, 2), ints(6, 3)], mode="sequential")
    assert combined._dataset_length() == 10
    it = iter(combined)
    next(it)
    combined.reset()
    with pytest.raises(TypeError, match="iter"):
        next(combined)


# -- several training loaders ---------------------------------------------------------------


def pair_loader(n: int, seed: int, batch_size: int = 2) -> DataLoader:
    g = torch.Generator().manual_seed(seed)
    return DataLoader(TensorDataset(torch.randn(n, 4, generator=g), torch.randn(n, 1, generator=g)), batch_size=batch_size)


def seen_model(boring_model: Any) -> Any:
    class Model(boring_model):
        def __init__(self) -> None:
            super().__init__()
            self.seen: list[Any] = []

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            self.seen.append((batch_idx, batch))
            parts = list(batch.values()) if isinstance(batch, dict) else batch
            return sum(self.loss(part) for part in parts)

    return Model()


@pytest.mark.parametrize("shape", ["dict", "list"])
def test_fit_with_several_train_loaders_cycles_to_the_longest(shape, make_trainer, boring_model):
    short, long = pair_loader(4, 1), pair_loader(10, 2)
    given = {"short": short, "long": long} if shape == "dict" else [short, long]
    model = seen_model(boring_model)
    before = model.layer.weight.detach().clone()
    trainer = make_trainer(max_epochs=2, limit_val_batches=0)
    trainer.fit(model, train_dataloaders=given)
    assert trainer.num_training_batches == 5
    assert [i for i, _ in model.seen] == [0, 1, 2, 3, 4] * 2
    batch = model.seen[2][1]
    if shape == "dict":
        assert set(batch) == {"short", "long"}
        assert torch.equal(batch["short"][0], next(iter(short))[0])  # the short loader started over
    else:
        assert isinstance(batch, list) and len(batch) == 2
    assert trainer.global_step == 10 and not torch.equal(before, model.layer.weight)
    assert isinstance(trainer.train_dataloader, CombinedLoader)


def test_train_dataloader_method_returning_a_dict_and_limit(make_trainer, boring_model):
    class Model(type(seen_model(boring_model))):
        def train_dataloader(self) -> Any:
            return {"a": pair_loader(6, 1), "b": pair_loader(12, 2)}

    model = Model()
    trainer = make_trainer(limit_train_batches=4, limit_val_batches=0)
    trainer.fit(model)
    assert len(model.seen) == 4 and trainer.num_training_batches == 4
    assert trainer.estimated_stepping_batches == 4

    model = Model()
    make_trainer(limit_train_batches=0.5, limit_val_batches=0).fit(model)
    assert len(model.seen) == 3  # half of the longest (6 batches)


def test_combined_loader_min_size_given_to_fit(make_trainer, boring_model):
    model = seen_model(boring_model)
    trainer = make_trainer(limit_val_batches=0)
    trainer.fit(model, train_dataloaders=CombinedLoader([pair_loader(4, 1), pair_loader(10, 2)], mode="min_size"))
    assert len(model.seen) == 2


def test_sequential_mode_is_refused_for_training(make_trainer, boring_model):
    combined = CombinedLoader([pair_loader(4, 1), pair_loader(4, 2)], mode="sequential")
    with pytest.raises(ValueError, match='does not support CombinedLoader\\(mode="sequential"\\)'):
        make_trainer().fit(seen_model(boring_model), train_dataloaders=combined)


def test_overfit_batches_reads_each_inner_loader_in_order(make_trainer, boring_model):
    model = seen_model(boring_model)
    loaders = {"a": DataLoader(TensorDataset(torch.randn(8, 4), torch.randn(8, 1)), batch_size=2, shuffle=True),
               "b": pair_loader(8, 2)}
    make_trainer(overfit_batches=2, max_epochs=2, limit_val_batches=0).fit(model, train_dataloaders=loaders)
    first, second = model.seen[0][1], model.seen[2][1]
    assert torch.equal(first["a"][0], second["a"][0])  # same order both epochs: not shuffled


# -- evaluation with CombinedLoader(mode="sequential") and dicts -----------------------------


class EvalModel:
    @staticmethod
    def make(boring_model: Any) -> Any:
        class Model(boring_model):
            def __init__(self) -> None:
                super().__init__()
                self.calls: list[tuple[int, int]] = []

            def validation_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
                self.calls.append((dataloader_idx, batch_idx))
                loss = self.loss(batch)
                self.log("val_loss", loss)
                return loss

        return Model()


@pytest.mark.parametrize("given", ["combined", "dict"])
def test_validate_with_sequential_combined_loader_or_dict(given, make_trainer, boring_model):
    loaders = {"small": pair_loader(4, 1), "big": pair_loader(6, 2)}
    dataloaders = CombinedLoader(loaders, mode="sequential") if given == "combined" else loaders
    model = EvalModel.make(boring_model)
    results = make_trainer().validate(model, dataloaders=dataloaders, verbose=False)
    assert model.calls == [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2)]
    assert [sorted(r) for r in results] == [["val_loss/dataloader_idx_0"], ["val_loss/dataloader_idx_1"]]


def test_eval_refuses_a_non_sequential_combined_loader(make_trainer, boring_model):
    combined = CombinedLoader([pair_loader(4, 1), pair_loader(4, 2)], mode="max_size_cycle")
    with pytest.raises(ValueError, match='only supports the CombinedLoader\\(mode="sequential"\\)'):
        make_trainer().validate(EvalModel.make(boring_model), dataloaders=combined)
    with pytest.raises(ValueError, match=r"trainer\.test"):
        make_trainer().test(EvalModel.make(boring_model), dataloaders=combined)


# -- each inner loader goes through lit_process_dataloader (how a strategy shards) -----------


class ShardPlugin:
    """Shards every DataLoader for rank 0 of 2 with lit-ddp's own ``shard``, as its strategy does."""

    def __init__(self) -> None:
        self.seen: list[Any] = []
        self.epochs: list[int] = []

    @lit.hookimpl
    def lit_process_dataloader(self, trainer: Any, dataloader: Any, stage: str) -> Any:
        shard = pytest.importorskip("lit_ddp.sampler").shard
        self.seen.append(dataloader)
        sharded = shard(dataloader, 2, 0, stage)
        plugin = self
        original = sharded.sampler.set_epoch

        def set_epoch(epoch: int) -> None:
            plugin.epochs.append(epoch)
            original(epoch)

        sharded.sampler.set_epoch = set_epoch
        return sharded


def test_each_inner_loader_is_processed_and_sharded(make_trainer, boring_model):
    a = DataLoader(TensorDataset(torch.arange(8.0).view(8, 1).expand(8, 4), torch.zeros(8, 1)), batch_size=2, shuffle=True)
    b = pair_loader(12, 2)
    model = seen_model(boring_model)
    trainer = make_trainer(max_epochs=2, limit_val_batches=0)
    plugin = ShardPlugin()
    trainer.plugin_manager.register(plugin, "test-shard")
    try:
        trainer.fit(model, train_dataloaders={"a": a, "b": b})
    finally:
        trainer.plugin_manager.unregister(plugin)
    assert all(dl in (a, b) for dl in plugin.seen) and {id(dl) for dl in plugin.seen} == {id(a), id(b)}
    assert trainer.num_training_batches == 3  # b's 12 samples: 6 for this rank, 3 batches
    assert plugin.epochs == [0, 0, 1, 1]  # set_epoch reached both inner samplers, each epoch
    # Rank 0's half of a: 4 of its 8 samples, each epoch (a's 2 batches cycled to b's 3).
    for epoch in range(2):
        rows = {int(x) for _, batch in model.seen[3 * epoch:3 * epoch + 2] for x in batch["a"][0][:, 0]}
        assert len(rows) == 4


# -- predict, and an exact mid-epoch resume with several shuffled loaders -------------------


def test_predict_with_a_sequential_combined_loader(make_trainer, boring_model):
    combined = CombinedLoader({"x": pair_loader(4, 1), "y": pair_loader(6, 2)}, mode="sequential")
    predictions = make_trainer().predict(boring_model(), dataloaders=combined)
    assert [len(p) for p in predictions] == [2, 3]


def shuffled(n: int, seed: int) -> DataLoader:
    # Each loader with its own generator: the resume must put back both.
    return DataLoader(TensorDataset(torch.arange(n)), batch_size=2, shuffle=True,
                      generator=torch.Generator().manual_seed(seed))


class Stop(Exception):
    pass


def test_mid_epoch_resume_repeats_every_inner_loader_order(tmp_root, boring_model):
    class Model(boring_model):
        def __init__(self) -> None:
            super().__init__()
            self.order: list[tuple[list[int], list[int]]] = []

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            self.order.append((batch["a"][0].tolist(), batch["b"][0].tolist()))
            return self.layer.weight.sum() * 0.0 + self.layer.bias.sum()

    class SaveAndStop(lit.Callback):
        def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
            if trainer.current_epoch == 1 and batch_idx == 2:
                trainer.save_checkpoint(tmp_root / "mid.ckpt")
                raise Stop

    def trainer(**flags: Any) -> lit.Trainer:
        return lit.Trainer(default_root_dir=tmp_root, max_epochs=2, logger=False, enable_checkpointing=False,
                           enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", **flags)

    def loaders() -> dict[str, DataLoader]:
        return {"a": shuffled(6, 1), "b": shuffled(10, 2)}

    whole = Model()
    trainer().fit(whole, train_dataloaders=loaders())
    crashed = Model()
    with pytest.raises(Stop):
        trainer(callbacks=[SaveAndStop()]).fit(crashed, train_dataloaders=loaders())
    torch.manual_seed(123)
    resumed = Model()
    trainer().fit(resumed, train_dataloaders=loaders(), ckpt_path=tmp_root / "mid.ckpt")
    assert crashed.order == whole.order[:8] and resumed.order == whole.order[8:]
    assert whole.order[:5] != whole.order[5:]  # the epochs differ: the check above is not trivial
