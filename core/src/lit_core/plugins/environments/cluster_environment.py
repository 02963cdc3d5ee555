"""``ClusterEnvironment``: Lightning's interface to the job a process belongs to.

lit-core only defines the interface: it runs one process and never asks. A multi-process
strategy (lit-ddp) detects an environment from the variables its launcher left (torchrun,
SLURM, lit's own), or uses the one the user gave: ``Trainer(plugins=[SLURMEnvironment()])``
(the Trainer sets ``trainer.strategy.cluster_environment``). Other plugins may read that
attribute too: lit-checkpoint's preemption handling reads ``auto_requeue`` and
``requeue_signal`` (a scheduler that requeues jobs, SLURM's, says so there).
"""

from __future__ import annotations

import signal
from abc import ABC, abstractmethod


class ClusterEnvironment(ABC):
    """Where this process sits in the job: its ranks, the world size, the rendezvous address."""

    #: Whether a stop announced by ``requeue_signal`` should save and requeue the job (SLURM's
    #: ``scontrol requeue``); an environment without a requeueing scheduler leaves it as it is.
    auto_requeue: bool = True
    #: The signal that announces the stop (``SIGUSR1``, as ``#SBATCH --signal=SIGUSR1@90`` sends).
    requeue_signal: signal.Signals | None = getattr(signal, "SIGUSR1", None)

    @property
    @abstractmethod
    def creates_processes_externally(self) -> bool:
        """Whether someone else (torchrun, srun, a launcher in a parent process) starts the processes."""

    @property
    @abstractmethod
    def main_address(self) -> str:
        """The address of the process of global rank zero (``MASTER_ADDR``)."""

    @property
    @abstractmethod
    def main_port(self) -> int:
        """A free port on ``main_address`` for the rendezvous (``MASTER_PORT``)."""

    @staticmethod
    @abstractmethod
    def detect() -> bool:
        """Whether this process runs in this kind of environment."""

    @abstractmethod
    def world_size(self) -> int:
        """The number of processes of the job."""

    @abstractmethod
    def set_world_size(self, size: int) -> None:
        """Set the number of processes (environments that read it from the launcher ignore it)."""

    @abstractmethod
    def global_rank(self) -> int:
        """This process's rank among all processes of the job."""

    @abstractmethod
    def set_global_rank(self, rank: int) -> None:
        """Set this process's global rank (environments that read it from the launcher ignore it)."""

    @abstractmethod
    def local_rank(self) -> int:
        """This process's rank among the processes of its node."""

    @abstractmethod
    def node_rank(self) -> int:
        """The rank of this process's node."""

    def validate_settings(self, num_devices: int, num_nodes: int) -> None:  # noqa: B027  (optional, as in Lightning)
        """Raise when the Trainer's ``devices`` and ``num_nodes`` do not fit this environment."""

    def teardown(self) -> None:  # noqa: B027  (optional, as in Lightning)
        """Clean up what this environment set (environment variables) when the stage ends."""
