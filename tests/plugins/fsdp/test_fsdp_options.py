"""FSDPStrategy's options, checked where they are given (no processes)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.distributed.fsdp import CPUOffloadPolicy, MixedPrecisionPolicy

import lit_core as lit
from lit_core.plugin_api import MisconfigurationException
from lit_ddp import DDPStrategy
from lit_fsdp import FSDPStrategy, policies


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inner = nn.Linear(4, 4)  # 20 parameters
        self.outer = nn.Linear(4, 10)  # 50 parameters


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = Block(), Block()
        self.head = nn.Linear(10, 1)


def picked(policy, option="auto_wrap_policy") -> list[str]:
    net = Net()
    names = {id(m): name for name, m in net.named_modules()}
    return [names[id(m)] for m in policies.selected_modules(net, policies.selector(policy, option))]


def test_selected_by_class_innermost_first() -> None:
    assert picked({Block}) == ["b", "a"]
    assert picked({nn.Linear}) == ["head", "b.outer", "b.inner", "a.outer", "a.inner"]
    assert picked(Block) == ["b", "a"]


def test_selected_by_callable() -> None:
    assert picked(lambda m: isinstance(m, nn.Linear) and m.out_features == 10) == ["b.outer", "a.outer"]


def test_selected_by_parameter_count_excludes_what_inner_modules_took() -> None:
    assert picked(50) == ["b.outer", "a.outer"]  # each block keeps only 20 parameters of its own
    assert picked(21) == ["b.outer", "a.outer"]
    assert picked(20) == ["b.outer", "b.inner", "a.outer", "a.inner"]
    assert picked(None) == []


def test_bad_policies_say_what_to_pass() -> None:
    with pytest.raises(TypeError, match=r"nn\.Module subclass"):
        FSDPStrategy(auto_wrap_policy={int})
    with pytest.raises(TypeError, match="parameter count selects only auto_wrap_policy"):
        FSDPStrategy(activation_checkpointing_policy=100)
    with pytest.raises(TypeError, match="is not a policy"):
        FSDPStrategy(auto_wrap_policy="transformer")
    with pytest.raises(ValueError, match="at least 1"):
        FSDPStrategy(auto_wrap_policy=0)


def test_sharding_strategies_map_to_reshard_after_forward() -> None:
    assert policies.reshard_after_forward("FULL_SHARD") is True
    assert policies.reshard_after_forward("shard_grad_op") is False
    assert policies.reshard_after_forward("HYBRID_SHARD") is True
    with pytest.raises(MisconfigurationException, match="strategy='ddp'"):
        FSDPStrategy(sharding_strategy="NO_SHARD")
    with pytest.raises(MisconfigurationException, match="is not known"):
        FSDPStrategy(sharding_strategy="FULL")


def test_mixed_precision_from_the_trainer_precision() -> None:
    bf16 = policies.mixed_precision_policy(None, "bf16-mixed")
    assert (bf16.param_dtype, bf16.reduce_dtype) == (torch.bfloat16, torch.float32)
    assert policies.mixed_precision_policy(None, "16-mixed").param_dtype == torch.float16
    for full in ("32-true", "bf16-true", "64-true", None):
        assert policies.mixed_precision_policy(None, full) is None
    given = MixedPrecisionPolicy(param_dtype=torch.float16)
    assert policies.mixed_precision_policy(given, "bf16-mixed") is given
    with pytest.raises(TypeError, match="MixedPrecisionPolicy"):
        FSDPStrategy(mixed_precision="bf16")


def test_cpu_offload() -> None:
    assert isinstance(policies.offload_policy(True), CPUOffloadPolicy)
    assert policies.offload_policy(False) is None
    with pytest.raises(TypeError, match="True / False"):
        FSDPStrategy(cpu_offload="yes")


def test_state_dict_type_and_selection_by_name() -> None:
    with pytest.raises(ValueError, match="'full' or 'sharded'"):
        FSDPStrategy(state_dict_type="distributed")
    trainer = lit.Trainer(strategy="fsdp", accelerator="cpu", devices=2, logger=False, enable_checkpointing=False)
    assert isinstance(trainer.strategy, FSDPStrategy) and isinstance(trainer.strategy, DDPStrategy)
    assert trainer.strategy.state_dict_type == "full" and trainer.strategy.checkpoint_io is None
    sharded = lit.Trainer(strategy=FSDPStrategy(state_dict_type="sharded"), accelerator="cpu", devices=2, logger=False,
                          enable_checkpointing=False)
    assert sharded.strategy.checkpoint_io is not None  # ModelCheckpoint removes folders through it


def test_lightning_namespace() -> None:
    from lit_core.strategies import FSDPStrategy as FromNamespace

    assert FromNamespace is FSDPStrategy


def test_fsdp1_only_options_are_refused_with_the_reason() -> None:
    with pytest.raises(TypeError, match=r"use_orig_params.*no FSDP2 equivalent"):
        FSDPStrategy(use_orig_params=True)
    assert FSDPStrategy(shard_placement_fn=None).fully_shard_kwargs == {"shard_placement_fn": None}


@pytest.fixture
def process_group_of_this_test():
    """Destroy the one-process group a fit in this process creates (lit keeps it for the next stage)."""
    import torch.distributed as dist

    existed = dist.is_initialized()
    yield
    if dist.is_initialized() and not existed:
        dist.destroy_process_group()


def test_cpu_offload_on_the_cpu_says_to_drop_it(tmp_path, process_group_of_this_test) -> None:
    from lit_core.testing.models import TinyModel, quiet_trainer

    trainer = quiet_trainer(tmp_path, accelerator="cpu", devices=1, strategy=FSDPStrategy(cpu_offload=True))
    with pytest.raises(MisconfigurationException, match=r"Drop cpu_offload=True, or train on GPUs"):
        trainer.fit(TinyModel())


def test_consolidate_needs_a_sharded_folder(tmp_path) -> None:
    from lit_fsdp import consolidate

    (tmp_path / "plain.ckpt").write_bytes(b"")
    with pytest.raises(ValueError, match="not a sharded checkpoint folder"):
        consolidate(tmp_path / "plain.ckpt", tmp_path / "out.ckpt")
    assert not (tmp_path / "out.ckpt").exists()
