"""``strategy="xla"`` through ``torch_xla.launch`` (world size 1 on XLA:CPU): what came back."""

from __future__ import annotations

import json
import os
import sys

import torch
from common import Recorded, loader

import lit_core as lit


class Collectives(Recorded):
    """Exercises the strategy's collectives and rank-zero side effects inside the launched process."""

    def training_step(self, batch, batch_idx):
        loss = super().training_step(batch, batch_idx)
        self.log("synced_loss", loss, on_step=False, on_epoch=True, sync_dist=True)
        return loss

    def on_train_end(self):
        strategy = self.trainer.strategy
        here = torch.tensor([3.0, 5.0], device=self.device)
        self.seen = {
            "pid": os.getpid(), "device": str(self.device), "world_size": self.trainer.world_size,
            "global_rank": self.trainer.global_rank, "dist_backend": torch.distributed.get_backend(),
            "sum": strategy.reduce(here, "sum").cpu().tolist(), "max": strategy.reduce(here, "max").cpu().tolist(),
            "gathered": list(strategy.all_gather(here).shape), "broadcast": strategy.broadcast({"a": [1, 2]}),
            "synced_loss": float(self.trainer.callback_metrics["synced_loss"]),
        }
        strategy.barrier("end")
        self.trainer.save_checkpoint(os.path.join(sys.argv[2], "launched.ckpt"))
        with open(os.path.join(sys.argv[2], "seen.json"), "w") as f:
            json.dump({**self.seen, "losses": self.cpu_losses()}, f)


model = Collectives()
trainer = lit.Trainer(accelerator="xla", strategy="xla", devices=1, max_epochs=3, logger=False, enable_progress_bar=False,
                      enable_checkpointing=False, enable_model_summary=False)
trainer.fit(model, loader())
with open(sys.argv[1], "w") as f:
    json.dump({
        "parent_pid": os.getpid(), "global_step": trainer.global_step, "current_epoch": trainer.current_epoch,
        "weight": model.layer.weight.detach().tolist(), "weight_device": str(model.layer.weight.device),
        "status": str(trainer.state.status),
    }, f)
