"""The training script the FSDP tests run in real processes (copied into each test's tmp_path).

Usage: ``python fsdp_script.py OUT CONFIG_JSON``: lit's launcher runs it again for every other
process. Each process writes ``OUT/rank<R>.json``: the loss of every step, the size of its local
parameter shards and optimizer states, the whole parameters at the start (after any restore) and at
the end. Config keys: strategy ("fsdp" / "ddp"), devices, steps, wrap (auto_wrap_policy: "linear",
an int, or absent), checkpointing (activation_checkpointing_policy on the Linear layers), clip,
clip_algorithm, accumulate, state_dict_type, save (trainer.save_checkpoint(OUT/<save>) after fit),
ckpt_path, model_checkpoint (ModelCheckpoint(every_n_train_steps=N, save_last=True) in OUT/ckpts),
meta (build the layers on the meta device in configure_model), precision, accelerator, preempt_at
(SIGTERM to rank 1 at that global step: lit-checkpoint saves ``last`` and every process exits 0
without reaching the end of the script), sharding (sharding_strategy), validate (trainer.validate
after fit: its metrics under "validated"), num_nodes, offload (cpu_offload=True).
"""

from __future__ import annotations

import json
import os
import signal
import sys

import torch
from torch import nn
from torch.distributed.tensor import DTensor
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

import lit_core as lit

torch.set_num_threads(1)


def dataset() -> TensorDataset:
    g = torch.Generator().manual_seed(1)
    return TensorDataset(torch.randn(64, 8, generator=g), torch.randn(64, 4, generator=g))


def build() -> nn.Sequential:
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 4))


class Model(lit.LightningModule):
    def __init__(self, meta: bool = False, preempt_at: int | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net: nn.Module | None = None
        if not meta:
            torch.manual_seed(0)
            self.net = build()
        self.losses: list[float] = []
        self.start: dict[str, list] = {}
        self.gathered_dtypes: set[str] = set()

    def configure_model(self) -> None:
        if self.net is None:
            with torch.device("meta"):
                self.net = build()

    def on_train_start(self) -> None:
        self.start = whole(self)
        # Runs after FSDP's own pre-forward hook: sees the gathered parameter, in the mixed-precision dtype.
        self.net[0].register_forward_pre_hook(lambda layer, args: self.gathered_dtypes.add(str(layer.weight.dtype)))

    def training_step(self, batch, batch_idx):
        x, y = batch
        if self.global_step == self.hparams.preempt_at and self.global_rank == 1:
            os.kill(os.getpid(), signal.SIGTERM)  # as a cluster preempting the job (one rank is told; all stop)
        loss = F.mse_loss(self.net(x), y)
        self.losses.append(loss.item())
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", F.mse_loss(self.net(x), y), sync_dist=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=0.01)


def whole(module: nn.Module) -> dict[str, list]:
    """Every parameter as a whole tensor (all-gathered from the shards: every process must call it)."""
    out = {}
    for name, p in module.named_parameters():
        t = p.detach()
        out[name] = (t.full_tensor() if isinstance(t, DTensor) else t).float().cpu().tolist()
    return out


def local_bytes(tensors) -> int:
    return sum((t.to_local() if isinstance(t, DTensor) else t).numel() * t.element_size() for t in tensors)


def main(out: str, config: dict) -> None:
    from lit_fsdp import FSDPStrategy

    if "preempt_at" in config:  # lit-checkpoint checks the stop flag every step (not every ~0.5 s) in this short run
        import lit_checkpoint.preemption

        lit_checkpoint.preemption.CHECK_EVERY_S = 0

    strategy = config.get("strategy", "fsdp")
    if strategy == "fsdp":
        wrap = config.get("wrap")
        strategy = FSDPStrategy(
            auto_wrap_policy={nn.Linear} if wrap == "linear" else wrap,
            activation_checkpointing_policy={nn.Linear} if config.get("checkpointing") else None,
            state_dict_type=config.get("state_dict_type", "full"),
            sharding_strategy=config.get("sharding", "FULL_SHARD"),
            cpu_offload=bool(config.get("offload")),
        )
    callbacks = []
    if config.get("model_checkpoint"):
        from lit_checkpoint import ModelCheckpoint

        callbacks.append(ModelCheckpoint(dirpath=os.path.join(out, "ckpts"), every_n_train_steps=config["model_checkpoint"],
                                         save_top_k=1, save_last=True))
    trainer = lit.Trainer(accelerator=config.get("accelerator", "cpu"), devices=config.get("devices", 2),
                          num_nodes=config.get("num_nodes", 1), strategy=strategy,
                          max_steps=config.get("steps", 10), max_epochs=-1, logger=False, callbacks=callbacks,
                          enable_checkpointing=bool(callbacks), enable_progress_bar=False, enable_model_summary=False,
                          gradient_clip_val=config.get("clip"), gradient_clip_algorithm=config.get("clip_algorithm", "norm"),
                          accumulate_grad_batches=config.get("accumulate", 1), precision=config.get("precision", "32-true"),
                          num_sanity_val_steps=0)
    model = Model(meta=bool(config.get("meta")), preempt_at=config.get("preempt_at"))
    loader = DataLoader(dataset(), batch_size=4, shuffle=False)
    ckpt = config.get("ckpt_path")
    trainer.fit(model, loader, ckpt_path=os.path.join(out, ckpt) if ckpt and ckpt != "last" else ckpt)
    validated = trainer.validate(model, loader, verbose=False) if config.get("validate") else None
    if config.get("save"):
        trainer.save_checkpoint(os.path.join(out, config["save"]))
    optimizer_state = [v for state in trainer.optimizers[0].state.values() for v in state.values()
                       if isinstance(v, torch.Tensor) and v.dim() > 0]
    result = {
        "losses": model.losses,
        "validated": validated,
        "global_step": trainer.global_step,
        "world_size": trainer.world_size,
        "local_numel": {n: (p.to_local() if isinstance(p, DTensor) else p).numel() for n, p in model.named_parameters()},
        "param_bytes": local_bytes(list(model.parameters())),
        "optimizer_bytes": local_bytes(optimizer_state),
        "sharded": all(isinstance(p, DTensor) for p in model.parameters()),
        "start": model.start,
        "end": whole(model),
        "dtypes": sorted({str(p.dtype) for p in model.parameters()}),
        "devices": sorted({(p.to_local() if isinstance(p, DTensor) else p).device.type for p in model.parameters()}),
        "gathered_dtypes": sorted(model.gathered_dtypes),
        "backend": torch.distributed.get_backend() if torch.distributed.is_initialized() else None,
    }
    with open(os.path.join(out, f"rank{trainer.global_rank}.json"), "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1], json.loads(sys.argv[2]))
