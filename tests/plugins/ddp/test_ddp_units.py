"""lit-ddp's parts without starting processes: environment detection, the data split, the
launcher's command, and a one-process job (world size 1) inside the test process."""

from __future__ import annotations

import math
import pickle
import sys
import types

import pytest
import torch
import torch.distributed as dist
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    DistributedSampler,
    IterableDataset,
    Sampler,
    SequentialSampler,
    TensorDataset,
)

import lit_core as lit
from lit_core.exceptions import MisconfigurationException
from lit_ddp import DDPSpawnStrategy, DDPStrategy, DistributedSamplerWrapper
from lit_ddp.environment import LightningEnvironment, SLURMEnvironment, TorchElasticEnvironment, detect, first_host, slurm_port
from lit_ddp.launchers import script_command
from lit_ddp.sampler import DistributedBatchSamplerWrapper, shard

# -- environment -----------------------------------------------------------------------------


def test_plain_process_is_rank_zero_and_launches_the_others():
    variables = {}
    env = detect(num_devices=4, num_nodes=1, env=variables)
    assert isinstance(env, LightningEnvironment)
    assert (env.global_rank(), env.local_rank(), env.world_size()) == (0, 0, 4)
    assert not env.creates_processes_externally and env.main_address == "127.0.0.1"
    # No MASTER_PORT: a free port, chosen once and kept where the processes it starts will read it.
    assert env.main_port == int(variables["MASTER_PORT"]) == env.main_port


def test_started_process_and_nodes_take_their_ranks_from_the_environment():
    env = detect(2, 3, env={"LOCAL_RANK": "1", "NODE_RANK": "2", "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "1234"})
    assert (env.global_rank(), env.local_rank(), env.node_rank(), env.world_size()) == (5, 1, 2, 6)
    assert (env.main_address, env.main_port, env.creates_processes_externally) == ("10.0.0.1", 1234, True)


def test_several_nodes_need_a_rendezvous_address():
    with pytest.raises(MisconfigurationException, match=r"MASTER_ADDR .* MASTER_PORT .* NODE_RANK"):
        detect(1, 2, env={"NODE_RANK": "1"})
    with pytest.raises(MisconfigurationException, match="NODE_RANK=2 but num_nodes=2"):
        detect(1, 2, env={"NODE_RANK": "2", "MASTER_ADDR": "a", "MASTER_PORT": "1"})


def test_torchrun_is_joined():
    variables = {"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4", "GROUP_RANK": "1", "MASTER_ADDR": "h", "MASTER_PORT": "29500",
                 "TORCHELASTIC_RUN_ID": "x"}
    env = detect(2, 2, env=variables)
    assert isinstance(env, TorchElasticEnvironment)
    assert (env.global_rank(), env.local_rank(), env.node_rank(), env.world_size()) == (3, 1, 1, 4)
    assert env.creates_processes_externally
    with pytest.raises(MisconfigurationException, match=r"TorchElasticEnvironment launcher started 4 processes, but the Trainer asks for devices=2 x num_nodes=1"):
        detect(2, 1, env=variables)


def test_slurm_is_joined():
    variables = {"SLURM_NTASKS": "4", "SLURM_PROCID": "2", "SLURM_LOCALID": "0", "SLURM_NODEID": "1",
                 "SLURM_NODELIST": "gpu[03-05,7]", "SLURM_JOB_ID": "4242", "SLURM_JOB_NAME": "train"}
    env = detect(2, 2, env=variables)
    assert isinstance(env, SLURMEnvironment)
    assert (env.global_rank(), env.node_rank(), env.world_size()) == (2, 1, 4)
    assert (env.main_address, env.main_port) == ("gpu03", slurm_port("4242"))
    # An interactive allocation is not a launched job: lit launches there.
    assert isinstance(detect(2, 1, env={**variables, "SLURM_JOB_NAME": "bash"}), LightningEnvironment)


@pytest.mark.parametrize(("nodelist", "host"), [("node1", "node1"), ("gpu[03-05,7],cpu1", "gpu03"), ("a-b[1,2]", "a-b1")])
def test_first_host_of_a_slurm_node_list(nodelist, host):
    assert first_host(nodelist) == host


def test_script_command_reruns_the_script(tmp_path, monkeypatch):
    script = tmp_path / "train.py"
    script.write_text("")
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    monkeypatch.setattr(sys, "argv", [str(script), "--lr", "0.1"])
    assert script_command() == [sys.executable, str(script), "--lr", "0.1"]
    monkeypatch.setattr(sys, "argv", ["-c"])
    with pytest.raises(MisconfigurationException, match="strategy='ddp_spawn'"):
        script_command()


# -- the data split --------------------------------------------------------------------------

DATA = TensorDataset(torch.arange(10))


def indices(loader) -> list[int]:
    return [int(i) for (batch,) in loader for i in batch]


def test_default_samplers_become_distributed_samplers(monkeypatch):
    monkeypatch.setenv("PL_GLOBAL_SEED", "7")
    shuffled = shard(DataLoader(DATA, batch_size=2, shuffle=True, num_workers=0), 2, 1, "train")
    assert isinstance(shuffled.sampler, DistributedSampler) and shuffled.sampler.shuffle and shuffled.sampler.seed == 7
    ordered = shard(DataLoader(DATA, batch_size=2), 2, 1, "validate")
    assert not ordered.sampler.shuffle and indices(ordered) == [1, 3, 5, 7, 9]


def test_custom_sampler_is_wrapped_not_dropped():
    class Reversed(SequentialSampler):
        def __iter__(self):
            return iter(range(len(self.data_source) - 1, -1, -1))

    loaders = [shard(DataLoader(DATA, batch_size=2, sampler=Reversed(DATA)), 3, rank, "train") for rank in range(3)]
    assert all(isinstance(loader.sampler, DistributedSamplerWrapper) for loader in loaders)
    shares = [indices(loader) for loader in loaders]
    assert shares == [[9, 6, 3, 0], [8, 5, 2, 9], [7, 4, 1, 8]], "the user's order, dealt out, padded from its start"
    unpadded = [indices(shard(DataLoader(DATA, sampler=Reversed(DATA)), 3, rank, "predict")) for rank in range(3)]
    assert unpadded == [[9, 8, 7, 6], [5, 4, 3], [2, 1, 0]], "prediction: each sample once, contiguous blocks in the user's order"


def test_prediction_shares_are_contiguous_blocks_in_order():
    shares = [indices(shard(DataLoader(DATA, batch_size=2), 4, rank, "predict")) for rank in range(4)]
    assert shares == [[0, 1, 2], [3, 4, 5], [6, 7], [8, 9]]
    assert [i for share in shares for i in share] == list(range(10)), "the processes' shares end to end: the loader's order"


def test_set_epoch_reaches_the_wrapped_sampler():
    class Seeded(SequentialSampler):
        epoch = None

        def set_epoch(self, epoch):
            self.epoch = epoch

    inner = Seeded(DATA)
    wrapper = DistributedSamplerWrapper(inner, 2, 0)
    wrapper.set_epoch(3)
    assert inner.epoch == 3 and len(wrapper) == 5


def test_loaders_lit_cannot_split():
    given = DataLoader(DATA, sampler=DistributedSampler(DATA, num_replicas=2, rank=0))
    assert shard(given, 2, 0, "train") is given, "a DistributedSampler in place is the user's choice"

    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(3))

    stream = DataLoader(Stream())
    assert shard(stream, 2, 0, "train") is stream


class ByParity(Sampler):
    """A custom batch sampler (not torch's BatchSampler): even samples' batches, then odd ones'."""

    def __init__(self, n, size):
        self.n, self.size, self.epoch = n, size, None

    def __iter__(self):
        for parity in (0, 1):
            group = list(range(parity, self.n, 2))
            yield from (group[i : i + self.size] for i in range(0, len(group), self.size))

    def __len__(self):
        return sum(math.ceil(len(range(p, self.n, 2)) / self.size) for p in (0, 1))

    def set_epoch(self, epoch):
        self.epoch = epoch


def batches_of(loader) -> list[list[int]]:
    return [[int(i) for i in batch] for (batch,) in loader]


def test_a_custom_batch_sampler_is_dealt_out_batch_by_batch():
    given = DataLoader(DATA, batch_sampler=ByParity(10, 2))  # [0,2] [4,6] [8] [1,3] [5,7] [9]
    train = [shard(given, 4, rank, "train") for rank in range(4)]
    assert all(isinstance(loader.batch_sampler, DistributedBatchSamplerWrapper) for loader in train)
    assert [batches_of(loader) for loader in train] == [[[0, 2], [5, 7]], [[4, 6], [9]], [[8], [0, 2]], [[1, 3], [4, 6]]], \
        "the user's batches kept whole, dealt out in turn, the last round padded from the start"
    assert [len(loader) for loader in train] == [2, 2, 2, 2]
    predict = [batches_of(shard(given, 4, rank, "predict")) for rank in range(4)]
    assert predict == [[[0, 2], [4, 6]], [[8], [1, 3]], [[5, 7]], [[9]]], "prediction: contiguous blocks, no padding"
    train[0].batch_sampler.set_epoch(3)
    assert given.batch_sampler.epoch == 3, "set_epoch reaches the user's batch sampler"
    assert shard(train[0], 4, 0, "train") is train[0], "already shared out"
    own = DataLoader(DATA, batch_sampler=BatchSampler(DistributedSampler(DATA, num_replicas=2, rank=0), 2, False))
    assert shard(own, 2, 0, "train") is own, "a batch sampler over a DistributedSampler is the user's own split"


def test_a_batch_sampler_without_length_cannot_be_dealt_out():
    class Endless(Sampler):
        def __iter__(self):
            while True:
                yield [0, 1]

    with pytest.raises(MisconfigurationException, match=r"batch_sampler \(Endless\) has no length.*use_distributed_sampler=False"):
        shard(DataLoader(DATA, batch_sampler=Endless()), 2, 0, "train")


# -- a one-process job in this process ---------------------------------------------------------


@pytest.fixture
def one_process(monkeypatch):
    """A free rendezvous port for a world of one; the process group is destroyed afterwards."""
    from lit_ddp.environment import free_port

    for key in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "NODE_RANK", "TORCHELASTIC_RUN_ID", "LIT_DDP_LAUNCHED"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(free_port()))
    yield
    if dist.is_initialized():
        dist.destroy_process_group()


def test_one_process_job(one_process, make_trainer, boring_model):
    seen = {}

    class Model(boring_model):
        def on_train_end(self):
            seen["model"] = type(self.trainer.model).__name__
            seen["sum"] = self.trainer.strategy.reduce(torch.tensor([1, 2]), "sum").tolist()
            seen["mean"] = self.trainer.strategy.reduce(torch.tensor(3), "mean").item()
            value = torch.tensor(5.0, requires_grad=True)
            gathered = self.trainer.strategy.all_gather(value * 2, sync_grads=True)
            gathered.sum().backward()
            seen["gather"] = (gathered.tolist(), value.grad.item())

    trainer = make_trainer(strategy="ddp", accelerator="cpu", devices=1)
    trainer.fit(Model())
    assert seen == {"model": "DistributedDataParallel", "sum": [1, 2], "mean": 3.0, "gather": ([10.0], 2.0)}
    assert dist.get_backend() == "gloo" and trainer.world_size == 1
    trainer.validate(trainer.lightning_module)
    assert trainer.model is trainer.lightning_module, "evaluation runs on the module itself, not through DDP"
    with pytest.raises(ValueError, match="reduce_op='avg'"):
        trainer.strategy.reduce(torch.tensor(1.0), "avg")


def test_sync_batchnorm_on_cpu_says_why(one_process, make_trainer, boring_model):
    trainer = make_trainer(strategy="ddp", accelerator="cpu", devices=1, sync_batchnorm=True)
    with pytest.raises(MisconfigurationException, match=r"sync_batchnorm=True\) needs CUDA"):
        trainer.fit(boring_model())


def test_strategies_by_name_and_pickled():
    assert lit.Trainer(strategy="ddp_find_unused_parameters_true", accelerator="cpu", devices=2, logger=False).strategy.find_unused_parameters
    strategy = pickle.loads(pickle.dumps(DDPSpawnStrategy(start_method="fork", static_graph=True)))
    assert (strategy.start_method, strategy.ddp_kwargs, strategy.find_unused_parameters) == ("fork", {"static_graph": True}, False)
    assert isinstance(lit.Trainer(accelerator="cpu", devices=2, logger=False).strategy, DDPStrategy), "devices=2 picks ddp"


def test_preemption_checks_are_spaced_by_the_time_per_step(one_process, monkeypatch):
    """lit-checkpoint's flag check under torch.distributed: asynchronous, read one check later, spaced to
    CHECK_EVERY_S of training from the time per step that the reduction itself carries."""
    from lit_checkpoint import preemption

    dist.init_process_group("gloo", rank=0, world_size=1)
    check = preemption.Preemption(checkpoint=None, world_size=2)  # as one rank of two: it must ask the others
    now = [0.0]
    monkeypatch.setattr(preemption.time, "perf_counter", lambda: now[0])

    def steps(n: int, seconds: float = 0.1) -> list[bool]:
        results = []
        for _ in range(n):
            now[0] += seconds
            results.append(check._any_rank_received(trainer=None))
        return results

    # Each check reads what the previous one sent: the first time per step arrives at the third step.
    assert steps(3) == [False] * 3 and check._interval == 5, "0.1 s a step: a check every 0.5 s, 5 steps"
    assert steps(5) == [False] * 5 and check._interval == 5
    check.received = 15  # SIGTERM, between two checks
    # The next check (5 steps on) sends the flag; the one after reads it.
    assert steps(10) == [False] * 9 + [True]
    check._pending[0].wait()
    check2 = preemption.Preemption(checkpoint=None, world_size=2)
    now[0] = 0.0
    monkeypatch.setattr(preemption, "CHECK_EVERY_S", 0.5)
    check = check2
    assert steps(3, seconds=2.0) == [False] * 3 and check._interval == 1, "slow steps: a check every step"
    check._pending[0].wait()
