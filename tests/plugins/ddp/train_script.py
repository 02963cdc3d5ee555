"""The training script the DDP tests run in real processes (copied into each test's tmp_path).

Usage: ``python train_script.py OUT CONFIG_JSON`` (or under ``torchrun``). Every process writes
what it saw inside the loop to ``OUT/inside_rank<R>.json``; each process that reaches the end of
the script writes ``OUT/after_rank<R>.json`` (with ``ddp_spawn`` only the first process does).
Config keys: strategy, devices, num_nodes, accumulate, epochs, fail_at (global step at which
``fail_rank`` raises), fail_rank, unused (a parameter without gradient), prepare_data_per_node,
signal_at / signal_rank (that rank sends itself SIGTERM at that global step), step_delay (seconds
slept in each step), check_every_s (lit-checkpoint's preemption check interval), logger (``"csv"`` unless given), environment (the name of a class of ``lit_core.plugins.environments``
given in ``plugins=[...]``; detected when absent).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import torch
from torch import nn
from torch.distributed.algorithms.ddp_comm_hooks import default_hooks
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset

import lit_core as lit

torch.set_num_threads(1)

TRAIN_SIZE, VAL_SIZE, BATCH = 32, 10, 4


class Indexed(Dataset):
    """``(index, x, y)`` triples, the same in every process."""

    def __init__(self, n: int, seed: int) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x, self.y = torch.randn(n, 4, generator=g), torch.randn(n, 1, generator=g)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return i, self.x[i], self.y[i]


class Model(lit.LightningModule):
    def __init__(self, out: str, config: dict) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.layer = nn.Linear(4, 1)
        self.unused = nn.Linear(4, 1) if config.get("unused") else None
        self.out, self.config = out, config
        self.seen: list[list[int]] = []
        self.syncs = 0

    def prepare_data(self) -> None:
        with open(os.path.join(self.out, "prepare_data.txt"), "a") as f:
            f.write(f"{self.trainer.state.fn.value} {os.environ.get('NODE_RANK', '0')}\n")

    def on_train_start(self) -> None:
        def counting(state, bucket):
            self.syncs += 1
            return default_hooks.allreduce_hook(state, bucket)

        self.trainer.model.register_comm_hook(None, counting)

    def training_step(self, batch, batch_idx):
        idx, x, y = batch
        self.seen.append([self.current_epoch, *idx.tolist()])
        rank = float(self.global_rank)
        self.log("rank_sum", rank, on_step=False, on_epoch=True, reduce_fx="sum", sync_dist=True)
        self.log("rank_max", rank, on_step=False, on_epoch=True, reduce_fx="max", sync_dist=True)
        self.log("rank_step", rank, on_step=True, on_epoch=False, reduce_fx="sum", sync_dist=True)
        if self.global_step == self.config.get("fail_at") and self.global_rank == self.config.get("fail_rank", 1):
            raise RuntimeError(f"deliberate failure on rank {self.global_rank} at step {self.global_step}")
        if self.global_step == self.config.get("signal_at") and self.global_rank == self.config.get("signal_rank", 1):
            os.kill(os.getpid(), signal.SIGTERM)  # as a cluster preempting this process alone
        time.sleep(self.config.get("step_delay", 0))
        return F.mse_loss(self.layer(x), y)

    def validation_step(self, batch, batch_idx):
        idx, x, y = batch
        self.log("val_count", float(len(idx)), reduce_fx="sum", sync_dist=True)
        self.log("val_loss", F.mse_loss(self.layer(x), y), sync_dist=True)

    def test_step(self, batch, batch_idx):
        idx, x, y = batch
        self.log("test_loss", F.mse_loss(self.layer(x), y), sync_dist=True)

    def on_train_end(self) -> None:
        strategy = self.trainer.strategy
        rank = self.global_rank
        strategy.barrier("report")
        report = {
            "rank": rank,
            "world_size": self.trainer.world_size,
            "seen": self.seen,
            "params": [p.detach().tolist() for p in self.layer.parameters()],
            "syncs": self.syncs,
            "metrics": {k: float(v) for k, v in self.trainer.callback_metrics.items()},
            "gather": strategy.all_gather(torch.tensor([rank])).tolist(),
            "broadcast": strategy.broadcast(f"from rank {rank}", src=1),
            "broadcast_none": strategy.broadcast(None if rank == 0 else "local value", src=0),
            "reduce_mean": strategy.reduce(torch.tensor(float(rank)), "mean").item(),
            "model": type(self.trainer.model).__name__,
            "backend": torch.distributed.get_backend(),
            "environment": type(self.trainer.strategy.cluster_environment).__name__,
        }
        with open(os.path.join(self.out, f"inside_rank{rank}.json"), "w") as f:
            json.dump(report, f)

    def on_train_batch_start(self, batch, batch_idx) -> None:
        # lit-checkpoint's preemption check interval (steps), for the preemption tests.
        self.check_interval = getattr(getattr(self.trainer.checkpoint_callback, "_preemption", None), "_interval", None)

    def on_exception(self, exception: BaseException) -> None:
        """Where this process stopped (a preemption ends fit with SystemExit(0) on every rank)."""
        with open(os.path.join(self.out, f"stopped_rank{self.global_rank}.json"), "w") as f:
            json.dump({"global_step": self.global_step, "exception": type(exception).__name__,
                       "interval": getattr(self, "check_interval", None)}, f)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class Recorder:
    """Records, per rank, that this process wrote a checkpoint or sent metrics to the loggers."""

    def __init__(self, out: str) -> None:
        self.out = out

    def _record(self, trainer, what: str) -> None:
        with open(os.path.join(self.out, "writes.txt"), "a") as f:
            f.write(f"{trainer.global_rank} {what}\n")

    @lit.hookimpl
    def lit_save_checkpoint(self, trainer, path):
        self._record(trainer, "checkpoint")

    @lit.hookimpl
    def lit_log_metrics(self, trainer):
        self._record(trainer, "metrics")


def environment(config: dict) -> list:
    """``[SLURMEnvironment()]`` for ``{"environment": "SLURMEnvironment"}``, as a Lightning user writes it."""
    if "environment" not in config:
        return []
    import lit_core.plugins.environments

    return [getattr(lit_core.plugins.environments, config["environment"])()]


def main(out: str, config: dict) -> None:
    if "check_every_s" in config:
        import lit_checkpoint.preemption

        lit_checkpoint.preemption.CHECK_EVERY_S = config["check_every_s"]
    trainer = lit.Trainer(
        strategy=config.get("strategy", "ddp"), accelerator="cpu", devices=config.get("devices", 2),
        num_nodes=config.get("num_nodes", 1), max_epochs=config.get("epochs", 2),
        accumulate_grad_batches=config.get("accumulate", 1), default_root_dir=out, logger=config.get("logger", "csv"),
        log_every_n_steps=1, enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
        prepare_data_per_node=config.get("prepare_data_per_node"), plugins=[Recorder(out), *environment(config)],
    )
    model = Model(out, config)
    train = DataLoader(Indexed(TRAIN_SIZE, seed=1), batch_size=BATCH, shuffle=True)
    val = DataLoader(Indexed(VAL_SIZE, seed=2), batch_size=BATCH)
    trainer.fit(model, train, val)
    tested = trainer.test(model, val, ckpt_path="best", verbose=False)
    report = {"params": [p.detach().tolist() for p in model.layer.parameters()], "global_step": trainer.global_step,
              "current_epoch": trainer.current_epoch, "tested": tested}
    with open(os.path.join(out, f"after_rank{trainer.global_rank}.json"), "w") as f:
        json.dump(report, f)


def reference(config: dict) -> list:
    """The parameters after training in one process, plain PyTorch, on the same global batches.

    ``DistributedSampler`` shuffles with ``randperm`` seeded ``seed + epoch`` and gives rank ``r``
    positions ``r, r + W, ...``: batch ``k`` of all ``W`` ranks together is ``perm[k*B*W:(k+1)*B*W]``.
    """
    world = config.get("devices", 2) * config.get("num_nodes", 1)
    accumulate = config.get("accumulate", 1)
    data = Indexed(TRAIN_SIZE, seed=1)
    torch.manual_seed(0)
    layer = nn.Linear(4, 1)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    for epoch in range(config.get("epochs", 2)):
        perm = torch.randperm(TRAIN_SIZE, generator=torch.Generator().manual_seed(epoch)).tolist()
        batches = [perm[i : i + BATCH * world] for i in range(0, TRAIN_SIZE, BATCH * world)]
        for k, idx in enumerate(batches):
            (F.mse_loss(layer(data.x[idx]), data.y[idx]) / accumulate).backward()
            if (k + 1) % accumulate == 0 or k == len(batches) - 1:
                optimizer.step()
                optimizer.zero_grad()
    return [p.detach().tolist() for p in layer.parameters()]


def record_wrappers_at_teardown(out: str) -> None:
    """Write ``OUT/teardown_rank<R>.json``: how many DDP wrappers were still alive when lit destroyed the
    process group. One left to the interpreter's finalizers can abort the process at exit."""
    import gc

    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    destroy = dist.destroy_process_group

    def recording(*args: object, **kwargs: object) -> None:
        alive = sum(isinstance(obj, DistributedDataParallel) for obj in gc.get_objects())
        with open(os.path.join(out, f"teardown_rank{dist.get_rank()}.json"), "w") as f:
            json.dump({"ddp_wrappers_alive": alive}, f)
        destroy(*args, **kwargs)

    dist.destroy_process_group = recording


if __name__ == "__main__":
    record_wrappers_at_teardown(sys.argv[1])
    main(sys.argv[1], json.loads(sys.argv[2]))
