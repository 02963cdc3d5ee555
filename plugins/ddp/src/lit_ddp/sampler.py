"""Giving each process its share of a dataloader: moved to ``lit_core.distributed``, which lit-xla
imports too; these names stay here for code that imports them from lit-ddp."""

from lit_core.plugin_api import DistributedBatchSamplerWrapper, DistributedSamplerWrapper, ShardedLoaders, shard

__all__ = ["DistributedBatchSamplerWrapper", "DistributedSamplerWrapper", "ShardedLoaders", "shard"]
