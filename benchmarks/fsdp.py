"""What FSDP saves and costs on CPU (gloo): memory per process, parity with DDP, checkpoint times.

* **memory**: the bytes of the parameters and of Adam's state held by each process after one
  step, for an MLP (``--width`` wide, ``--depth`` layers, every dimension divisible by 4),
  trained by 1 process (``strategy="auto"``) and by 2 and 4 processes with ``strategy="fsdp"``
  (``auto_wrap_policy={nn.Linear}``). Goal: ``N`` processes hold 1/N of one process's bytes,
  within 10 %.
* **parity**: the losses of 10 steps of the same model on the same data (fp32) with
  ``strategy="fsdp"`` and ``strategy="ddp"``, 2 processes. Goal: largest difference ≤ 1e-5.
* **checkpoints**: with 2 processes, the time ``trainer.save_checkpoint`` takes with
  ``state_dict_type="full"`` (gathered, one file written by rank zero) and ``"sharded"`` (each
  process writes its shards, one folder), and the time to read each back into the sharded module
  and optimizer (the strategy's ``lit_load_checkpoint``, then ``load_state_dict``); median of
  ``--rounds``. A report, no goal.

Each configuration runs in fresh processes (this file with ``--worker``; lit's launcher starts the
others). ``--quick`` is a smoke test (a small model: the figures are noise).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

GOAL_MEMORY = 0.10
GOAL_PARITY = 1e-5


def worker(config: dict[str, Any], out: str) -> None:
    """Train as ``config`` says; each process writes ``out/rank<R>.json``."""
    import torch
    from torch import nn
    from torch.distributed.tensor import DTensor
    from torch.utils.data import DataLoader, TensorDataset

    import lit_core as lit
    from lit_fsdp import FSDPStrategy

    torch.set_num_threads(1)
    width, depth = config["width"], config["depth"]

    class Net(lit.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            layers: list[nn.Module] = []
            for _ in range(depth):
                layers += [nn.Linear(width, width), nn.ReLU()]
            self.net = nn.Sequential(*layers, nn.Linear(width, 4))
            self.losses: list[float] = []

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            x, y = batch
            loss = nn.functional.mse_loss(self.net(x), y)
            self.losses.append(loss.item())
            return loss

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.Adam(self.parameters(), lr=1e-3)

    kind = config["strategy"]
    strategy: Any = FSDPStrategy(auto_wrap_policy={nn.Linear}) if kind == "fsdp" else kind
    g = torch.Generator().manual_seed(1)
    data = TensorDataset(torch.randn(80, width, generator=g), torch.randn(80, 4, generator=g))
    trainer = lit.Trainer(accelerator="cpu", devices=config["devices"], strategy=strategy, max_steps=config["steps"],
                          logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    model = Net()
    trainer.fit(model, DataLoader(data, batch_size=4))

    def local_bytes(tensors: list[torch.Tensor]) -> int:
        return sum((t.to_local() if isinstance(t, DTensor) else t).numel() * t.element_size() for t in tensors)

    optimizer = trainer.optimizers[0]
    result: dict[str, Any] = {
        "param_bytes": local_bytes(list(model.parameters())),
        "optimizer_bytes": local_bytes([v for s in optimizer.state.values() for v in s.values()
                                        if isinstance(v, torch.Tensor) and v.dim() > 0]),
        "losses": model.losses,
    }
    if config.get("checkpoints"):
        result["checkpoints"] = _checkpoint_times(trainer, model, optimizer, out, config["rounds"])
    with open(os.path.join(out, f"rank{trainer.global_rank}.json"), "w") as f:
        json.dump(result, f)


def _checkpoint_times(trainer: Any, model: Any, optimizer: Any, out: str, rounds: int) -> dict[str, dict[str, float]]:
    """Median seconds to save and to load back a full and a sharded checkpoint (every process takes part)."""
    strategy = trainer.strategy
    times: dict[str, dict[str, list[float]]] = {}
    for kind in ("full", "sharded"):
        strategy.state_dict_type = kind
        path = os.path.join(out, f"{kind}.ckpt")
        for _ in range(rounds):
            strategy.barrier()
            start = time.perf_counter()
            trainer.save_checkpoint(path)
            saved = time.perf_counter() - start
            strategy.barrier()
            start = time.perf_counter()
            # Through the hook, as the Trainer loads: the strategy's wrapper shards a full file, its reader a folder.
            checkpoint = trainer.plugin_manager.hook.lit_load_checkpoint(trainer=trainer, path=path, map_location=trainer.device)
            model.load_state_dict(checkpoint["state_dict"])
            optimizer.load_state_dict(checkpoint["optimizer_states"][0])
            loaded = time.perf_counter() - start
            times.setdefault(kind, {"save": [], "load": []})
            times[kind]["save"].append(saved)
            times[kind]["load"].append(loaded)
    return {kind: {what: statistics.median(values) for what, values in entry.items()} for kind, entry in times.items()}


def run(config: dict[str, Any], timeout: float) -> list[dict[str, Any]]:
    """Run ``worker(config)`` in fresh processes; every rank's result."""
    with tempfile.TemporaryDirectory(prefix="lit-fsdp-bench-") as out:
        env = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_PORT")}
        env.update(OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", json.dumps(config), out],
                              env=env, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"worker {config} failed:\n{proc.stderr[-3000:]}")
        return [json.load(open(os.path.join(out, f"rank{r}.json"))) for r in range(config["devices"])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--depth", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3, help="checkpoint save/load rounds (median)")
    parser.add_argument("--quick", action="store_true", help="smoke test: a small model, one round")
    parser.add_argument("--worker", nargs=2, metavar=("CONFIG", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(json.loads(args.worker[0]), args.worker[1])
        return
    if args.quick:
        args.width, args.depth, args.rounds = 64, 2, 1
    base = {"width": args.width, "depth": args.depth, "steps": 1}
    print(f"lit-fsdp benchmark: MLP {args.depth} x Linear({args.width}, {args.width}), Adam; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, gloo")

    one = run({**base, "strategy": "auto", "devices": 1}, timeout=300)[0]
    reference = one["param_bytes"] + one["optimizer_bytes"]
    print(f"\nmemory per process (parameters + Adam state), 1 process: {reference / 2**20:.2f} MiB")
    for n in (2, 4):
        ranks = run({**base, "strategy": "fsdp", "devices": n}, timeout=300)
        worst = max(r["param_bytes"] + r["optimizer_bytes"] for r in ranks)
        ratio = worst / reference
        off = abs(ratio * n - 1)
        print(f"  fsdp, {n} processes: largest {worst / 2**20:.2f} MiB = {ratio:.3f} x one process (1/N = {1 / n:.3f})")
        print(f"GOAL fsdp memory per process, {n} processes, off 1/N by: {off:.1%} <= {GOAL_MEMORY:.0%} -> "
              f"{'PASS' if off <= GOAL_MEMORY else 'FAIL'}")

    steps = {**base, "steps": 10}
    fsdp = run({**steps, "strategy": "fsdp", "devices": 2}, timeout=300)
    ddp = run({**steps, "strategy": "ddp", "devices": 2}, timeout=300)
    diff = max(abs(a - b) for f, d in zip(fsdp, ddp) for a, b in zip(f["losses"], d["losses"]))
    print(f"\nGOAL fsdp loss parity with ddp, 10 steps fp32, 2 processes, largest difference: {diff:.2e} <= "
          f"{GOAL_PARITY:.0e} -> {'PASS' if diff <= GOAL_PARITY else 'FAIL'}")

    times = run({**base, "strategy": "fsdp", "devices": 2, "checkpoints": True, "rounds": args.rounds}, timeout=600)[0]["checkpoints"]
    print(f"\ncheckpoints, 2 processes, {reference / 2**20:.1f} MiB of state (median of {args.rounds}):")
    for kind, entry in times.items():
        print(f"  {kind:8s} save {entry['save'] * 1e3:8.1f} ms   load {entry['load'] * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
