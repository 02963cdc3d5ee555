"""``xla_spmd`` over the CPU_NUM_DEVICES virtual devices: losses, weights, where the batch lived."""

from __future__ import annotations

import json
import sys

from common import fit

import lit_core as lit


class Shards(lit.Callback):
    """Records how the first training batch was laid out over the devices."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        if batch_idx == 0 and trainer.current_epoch == 0:
            import torch_xla

            self.sharding = torch_xla._XLAC._get_xla_sharding_spec(batch[0])


shards = Shards()
trainer, model = fit(accelerator="xla", strategy="xla_spmd", devices="auto", callbacks=[shards])
with open(sys.argv[1], "w") as f:
    json.dump({
        "strategy": type(trainer.strategy).__name__, "devices": trainer.num_devices, "world_size": trainer.world_size,
        "sharding": shards.sharding, "losses": model.cpu_losses(),
        "weight": model.layer.weight.detach().cpu().tolist(), "on": str(model.layer.weight.device),
        "param_dtype": str(next(model.parameters()).dtype),
    }, f)
