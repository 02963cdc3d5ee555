"""Lightning's cluster environments (``lit_core.plugins.environments``, from lit-ddp), read from fake
environment variables, and given to the Trainer in ``plugins=[...]``."""

from __future__ import annotations

import os
import signal

import pytest
import torch
import torch.distributed as dist

import lit_core as lit
from lit_core.exceptions import MisconfigurationException
from lit_core.plugins.environments import (
    ClusterEnvironment,
    KubeflowEnvironment,
    LightningEnvironment,
    SLURMEnvironment,
    TorchElasticEnvironment,
)

RANK_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "NODE_RANK", "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT",
                  "TORCHELASTIC_RUN_ID", "LIT_DDP_LAUNCHED", "LOCAL_WORLD_SIZE")


@pytest.fixture
def clean(monkeypatch):
    """No rank or SLURM variable from a surrounding launcher; ``setenv(**vars)`` sets some."""
    for key in list(os.environ):
        if key in RANK_VARIABLES or key.startswith("SLURM_"):
            monkeypatch.delenv(key)

    def setenv(**variables: str) -> None:
        for key, value in variables.items():
            monkeypatch.setenv(key, value)

    return setenv


SLURM_JOB = {"SLURM_NTASKS": "8", "SLURM_PROCID": "5", "SLURM_LOCALID": "1", "SLURM_NODEID": "1", "SLURM_NNODES": "2",
             "SLURM_NODELIST": "node[17-18]", "SLURM_JOB_ID": "123456", "SLURM_JOB_NAME": "train"}


def test_slurm_environment_reads_the_slurm_variables(clean):
    clean(**SLURM_JOB)
    env = SLURMEnvironment()
    assert isinstance(env, ClusterEnvironment) and SLURMEnvironment.detect()
    assert (env.world_size(), env.global_rank(), env.local_rank(), env.node_rank()) == (8, 5, 1, 1)
    assert env.creates_processes_externally and env.main_address == "node17"
    assert SLURMEnvironment.job_name() == "train" and SLURMEnvironment.job_id() == 123456
    assert SLURMEnvironment.resolve_root_node_address("gpu[03-05,7],cpu1") == "gpu03"
    assert env.auto_requeue is True and env.requeue_signal == signal.SIGUSR1
    env.set_world_size(3)  # srun decided: the variables win
    env.set_global_rank(0)
    assert (env.world_size(), env.global_rank()) == (8, 5)
    env.validate_settings(num_devices=4, num_nodes=2)
    with pytest.raises(ValueError, match=r"SLURMEnvironment launcher started 8 processes.*devices=2 x num_nodes=2"):
        env.validate_settings(num_devices=2, num_nodes=2)
    clean(MASTER_ADDR="10.1.1.1", MASTER_PORT="29400")
    assert (env.main_address, env.main_port) == ("10.1.1.1", 29400)


def test_slurm_interactive_allocation_is_not_a_job(clean):
    clean(**{**SLURM_JOB, "SLURM_JOB_NAME": "bash"})
    assert not SLURMEnvironment.detect() and SLURMEnvironment.job_id() is None
    SLURMEnvironment().validate_settings(num_devices=1, num_nodes=1)  # not checked against srun's tasks


def test_torchelastic_environment(clean):
    clean(RANK="3", LOCAL_RANK="1", WORLD_SIZE="4", GROUP_RANK="1", MASTER_ADDR="h", MASTER_PORT="29500",
          TORCHELASTIC_RUN_ID="r")
    env = TorchElasticEnvironment()
    assert TorchElasticEnvironment.detect()
    assert (env.world_size(), env.global_rank(), env.local_rank(), env.node_rank()) == (4, 3, 1, 1)
    assert (env.main_address, env.main_port, env.creates_processes_externally) == ("h", 29500, True)
    with pytest.raises(MisconfigurationException, match="TorchElasticEnvironment launcher started 4 processes"):
        env.validate_settings(num_devices=1, num_nodes=1)


def test_lightning_environment(clean):
    env = LightningEnvironment()
    assert LightningEnvironment.detect() and not env.creates_processes_externally
    assert (env.world_size(), env.global_rank(), env.local_rank(), env.node_rank()) == (1, 0, 0, 0)
    port = env.main_port
    assert os.environ["MASTER_PORT"] == str(port) and env.main_port == port, "a free port, chosen once"
    assert env.main_address == "127.0.0.1"
    clean(LOCAL_RANK="1", NODE_RANK="1", WORLD_SIZE="4")
    env.set_world_size(4)
    env.set_global_rank(3)
    assert env.creates_processes_externally and (env.world_size(), env.global_rank(), env.local_rank(), env.node_rank()) == (4, 3, 1, 1)
    with pytest.raises(MisconfigurationException, match="NODE_RANK=1 but num_nodes=1"):
        env.validate_settings(num_devices=2, num_nodes=1)
    env.teardown()
    assert "WORLD_SIZE" not in os.environ


def test_kubeflow_environment_one_process_per_pod(clean):
    clean(KUBERNETES_PORT="tcp://10.0.0.1:443", MASTER_ADDR="job-master-0", MASTER_PORT="23456", WORLD_SIZE="3", RANK="2")
    env = KubeflowEnvironment()
    assert not KubeflowEnvironment.detect(), "never detected: given in plugins=[...]"
    assert (env.world_size(), env.global_rank(), env.local_rank(), env.node_rank()) == (3, 2, 0, 2)
    assert (env.main_address, env.main_port) == ("job-master-0", 23456)
    env.validate_settings(num_devices=1, num_nodes=3)


def test_environment_in_plugins_is_the_strategys(clean, tmp_path):
    env = SLURMEnvironment(auto_requeue=False)
    trainer = lit.Trainer(plugins=[env], accelerator="cpu", devices=1, default_root_dir=tmp_path, logger=False)
    assert trainer.strategy.cluster_environment is env
    with pytest.raises(MisconfigurationException, match="Two cluster environments"):
        from lit_ddp import DDPStrategy

        lit.Trainer(strategy=DDPStrategy(cluster_environment=LightningEnvironment()), plugins=[env], accelerator="cpu",
                    devices=1, default_root_dir=tmp_path, logger=False)


def test_a_given_environment_places_a_one_process_ddp_job(clean, tmp_path, boring_model):
    """torchrun's variables for a world of one, read by the TorchElasticEnvironment the user gave."""
    from lit_ddp.environment import free_port

    clean(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", GROUP_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()))
    env = TorchElasticEnvironment()
    trainer = lit.Trainer(strategy="ddp", plugins=[env], accelerator="cpu", devices=1, max_epochs=1, limit_train_batches=2,
                          default_root_dir=tmp_path, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                          enable_model_summary=False)
    try:
        trainer.fit(boring_model())
        assert trainer.strategy.cluster_environment is env
        assert dist.is_initialized() and dist.get_world_size() == 1 and trainer.world_size == 1
        assert trainer.global_step == 2
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


# -- SLURMEnvironment(auto_requeue=...) and lit-checkpoint's preemption -----------------------


def preempted_fit(tmp_path, boring_model, monkeypatch, plugins):
    """Fit that sends itself SIGTERM at step 2 under a SLURM batch job; returns the requeued jobs and the handlers seen."""
    from lit_checkpoint import ModelCheckpoint
    from lit_checkpoint.preemption import Preemption

    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    requeued, handlers = [], {}
    monkeypatch.setattr(Preemption, "_requeue", staticmethod(requeued.append))

    class Model(boring_model):
        def training_step(self, batch, batch_idx):
            if self.trainer.global_step == 2:
                handlers.update({s: signal.getsignal(s) for s in (signal.SIGUSR1, signal.SIGTERM, signal.SIGHUP)})
                os.kill(os.getpid(), signal.SIGTERM)
            return super().training_step(batch, batch_idx)

    trainer = lit.Trainer(plugins=plugins, callbacks=[ModelCheckpoint(dirpath=tmp_path / "ckpt")], accelerator="cpu",
                          devices=1, max_epochs=1, default_root_dir=tmp_path, logger=False, enable_progress_bar=False,
                          enable_model_summary=False)
    with pytest.raises(SystemExit):
        trainer.fit(Model())
    assert torch.load(tmp_path / "ckpt" / "last.ckpt", weights_only=True)["global_step"] == 3
    return requeued, handlers


def test_auto_requeue_false_neither_handles_sigusr1_nor_requeues(clean, tmp_path, boring_model, monkeypatch):
    before = signal.getsignal(signal.SIGUSR1)
    requeued, handlers = preempted_fit(tmp_path, boring_model, monkeypatch, [SLURMEnvironment(auto_requeue=False)])
    assert requeued == [] and handlers[signal.SIGUSR1] == before
    assert handlers[signal.SIGTERM] != signal.SIG_DFL, "SIGTERM still saves last"


def test_auto_requeue_requeues_and_handles_the_requeue_signal(clean, tmp_path, boring_model, monkeypatch):
    before = signal.getsignal(signal.SIGUSR1)
    requeued, handlers = preempted_fit(tmp_path, boring_model, monkeypatch, [SLURMEnvironment(requeue_signal=signal.SIGHUP)])
    assert requeued == ["4242"]
    assert handlers[signal.SIGUSR1] == before and handlers[signal.SIGHUP] == handlers[signal.SIGTERM]
