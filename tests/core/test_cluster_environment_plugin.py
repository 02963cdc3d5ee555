"""A ``ClusterEnvironment`` in ``plugins=[...]`` reaches ``trainer.strategy.cluster_environment`` (kernel only)."""

from __future__ import annotations

import pytest

import lit_core as lit
from lit_core.exceptions import MisconfigurationException
from lit_core.plugins.environments import ClusterEnvironment


class FixedEnvironment(ClusterEnvironment):
    """A third party's environment: one process, rank 0 (no distribution of lit's involved)."""

    creates_processes_externally = True
    main_address = "127.0.0.1"
    main_port = 12910

    @staticmethod
    def detect():
        return True

    def world_size(self):
        return 1

    def set_world_size(self, size):
        pass

    def global_rank(self):
        return 0

    def set_global_rank(self, rank):
        pass

    def local_rank(self):
        return 0

    def node_rank(self):
        return 0


def test_environment_goes_to_the_strategy_and_training_runs(make_trainer, boring_model):
    env = FixedEnvironment()
    trainer = make_trainer(plugins=[env], max_epochs=1)
    assert trainer.strategy.cluster_environment is env
    trainer.fit(boring_model())
    assert trainer.global_step == 4


def test_two_environments_are_an_error(tmp_path):
    with pytest.raises(MisconfigurationException, match="Two environments were given"):
        lit.Trainer(plugins=[FixedEnvironment(), FixedEnvironment()], default_root_dir=tmp_path, logger=False)


def test_the_base_class_is_abstract():
    with pytest.raises(TypeError, match="abstract"):
        ClusterEnvironment()
