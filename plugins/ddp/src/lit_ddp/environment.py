"""Where this process sits in the job: Lightning's cluster environments, and their detection.

Three ways a process comes to exist, detected in this order (``detect``):

``TorchElasticEnvironment``
    ``torchrun`` (TorchElastic) started it: ``TORCHELASTIC_RUN_ID``, or all of ``RANK``,
    ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``, are set.
``SLURMEnvironment``
    ``srun`` started it (``SLURM_NTASKS`` > 1, outside an interactive ``salloc`` shell).
``LightningEnvironment``
    The user started it (``python train.py``, on each node with ``NODE_RANK``), and lit starts
    the other local processes itself. lit's launchers set ``LIT_DDP_LAUNCHED`` and the rank
    variables (``LOCAL_RANK``, ``RANK``, ``NODE_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
    ``MASTER_PORT``) in every process of the job, the first one included.

In the first two cases the processes already exist and this one joins them. A user may skip
detection with ``Trainer(plugins=[SLURMEnvironment()])`` (any ``ClusterEnvironment``), or
``KubeflowEnvironment()`` for a PyTorchJob (one process per pod, no ``LOCAL_RANK``).

Every environment reads the variables when asked (as Lightning's do), from ``os.environ``;
``detect(..., env=mapping)`` reads a given mapping instead (tests).
"""

from __future__ import annotations

import os
import re
import signal
import socket
from collections.abc import Mapping, MutableMapping
from typing import Any

from lit_core.plugin_api import ClusterEnvironment, MisconfigurationException

#: Set by lit's launchers in every process of a job they started (the first process included).
LAUNCHED_ENV = "LIT_DDP_LAUNCHED"
#: Set by lit's script launcher in the processes it starts: the pid of the process that started them.
PARENT_PID_ENV = "LIT_DDP_PARENT_PID"
#: Set by lit's script launcher: where a started process writes the traceback that ends it.
ERROR_FILE_ENV = "LIT_DDP_ERROR_FILE"

_TORCHELASTIC_VARS = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


class EnvironmentMismatchError(MisconfigurationException, ValueError):
    """The launcher's processes do not match ``devices`` x ``num_nodes`` (Lightning raises ``ValueError``)."""


class _Variables:
    """Reads the environment variables of ``os.environ``, or of the mapping ``detect`` was given."""

    _environ: MutableMapping[str, str] | None = None

    @property
    def environ(self) -> MutableMapping[str, str]:
        return os.environ if self._environ is None else self._environ

    def __getstate__(self) -> dict[str, Any]:
        # ddp_spawn pickles the trainer: a child reads its own process's variables.
        return {k: v for k, v in self.__dict__.items() if k != "_environ"}


class LightningEnvironment(_Variables, ClusterEnvironment):
    """The processes are started by lit (or by the user, one ``python train.py`` per node).

    Reads ``LOCAL_RANK`` (started by a launcher when set), ``NODE_RANK`` (or ``GROUP_RANK``),
    ``MASTER_ADDR`` (default ``127.0.0.1``) and ``MASTER_PORT`` (default: a free port, chosen
    once and written to ``MASTER_PORT``). The strategy sets the world size and the global rank.
    """

    def __init__(self) -> None:
        self._world_size = 1
        self._global_rank = 0

    @property
    def creates_processes_externally(self) -> bool:
        return "LOCAL_RANK" in self.environ

    @property
    def main_address(self) -> str:
        return self.environ.get("MASTER_ADDR", "127.0.0.1")

    @property
    def main_port(self) -> int:
        if "MASTER_PORT" not in self.environ:
            self.environ["MASTER_PORT"] = str(free_port())  # every process this one starts gets the same
        return int(self.environ["MASTER_PORT"])

    @staticmethod
    def detect() -> bool:
        return True

    def world_size(self) -> int:
        return self._world_size

    def set_world_size(self, size: int) -> None:
        self._world_size = size

    def global_rank(self) -> int:
        return self._global_rank

    def set_global_rank(self, rank: int) -> None:
        self._global_rank = rank

    def local_rank(self) -> int:
        return int(self.environ.get("LOCAL_RANK", 0))

    def node_rank(self) -> int:
        return int(self.environ.get("NODE_RANK", self.environ.get("GROUP_RANK", 0)))

    def validate_settings(self, num_devices: int, num_nodes: int) -> None:
        if num_nodes > 1 and not ("MASTER_ADDR" in self.environ and "MASTER_PORT" in self.environ):
            raise MisconfigurationException(
                f"num_nodes={num_nodes}: every node must know where to meet. Set MASTER_ADDR (the address of node 0), "
                "MASTER_PORT (a free port there) and NODE_RANK (0 .. num_nodes-1) in each node's environment, "
                "or launch with torchrun or srun."
            )
        if self.node_rank() >= num_nodes:
            raise MisconfigurationException(f"NODE_RANK={self.node_rank()} but num_nodes={num_nodes}: NODE_RANK counts nodes from 0.")

    def teardown(self) -> None:
        self.environ.pop("WORLD_SIZE", None)


class _External(_Variables, ClusterEnvironment):
    """An environment whose launcher started every process: ranks and world size are read, not set."""

    #: How to launch a job of ``devices`` x ``num_nodes`` processes (for the mismatch error).
    how = ""

    @property
    def creates_processes_externally(self) -> bool:
        return True

    def set_world_size(self, size: int) -> None:
        pass  # the launcher decided it: validate_settings compares

    def set_global_rank(self, rank: int) -> None:
        pass

    def validate_settings(self, num_devices: int, num_nodes: int) -> None:
        if self.world_size() != num_devices * num_nodes:
            raise EnvironmentMismatchError(
                f"The {type(self).__name__} launcher started {self.world_size()} processes, but the Trainer asks for "
                f"devices={num_devices} x num_nodes={num_nodes} = {num_devices * num_nodes}. Make them agree: "
                f"Trainer(devices=<processes per node>, num_nodes=<nodes>) with `{self.how}`."
            )


class TorchElasticEnvironment(_External):
    """``torchrun`` / TorchElastic started the processes (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``GROUP_RANK``)."""

    how = "torchrun --nnodes N --nproc_per_node M"

    @property
    def main_address(self) -> str:
        return self.environ.get("MASTER_ADDR", "127.0.0.1")

    @property
    def main_port(self) -> int:
        return int(self.environ["MASTER_PORT"])

    @staticmethod
    def detect() -> bool:
        return _torchelastic(os.environ)

    def world_size(self) -> int:
        return int(self.environ["WORLD_SIZE"])

    def global_rank(self) -> int:
        return int(self.environ["RANK"])

    def local_rank(self) -> int:
        return int(self.environ["LOCAL_RANK"])

    def node_rank(self) -> int:
        return int(self.environ.get("GROUP_RANK", self.environ.get("NODE_RANK", 0)))


class KubeflowEnvironment(_External):
    """A Kubeflow ``PyTorchJob``: one process per pod, placed by ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``/``PORT``.

    Never detected (a pod looks like any process given those variables): pass it in
    ``plugins=[KubeflowEnvironment()]``, with ``Trainer(devices=1, num_nodes=<pods>)``.
    """

    how = "a PyTorchJob of N replicas, one device each"

    @property
    def main_address(self) -> str:
        return self.environ["MASTER_ADDR"]

    @property
    def main_port(self) -> int:
        return int(self.environ["MASTER_PORT"])

    @staticmethod
    def detect() -> bool:
        """Always ``False``: a pod cannot be told from any process given these variables; pass it yourself."""
        return False

    def world_size(self) -> int:
        return int(self.environ["WORLD_SIZE"])

    def global_rank(self) -> int:
        return int(self.environ["RANK"])

    def local_rank(self) -> int:
        return 0

    def node_rank(self) -> int:
        return self.global_rank()


class SLURMEnvironment(_External):
    """``srun`` started the processes (``SLURM_PROCID``, ``SLURM_LOCALID``, ``SLURM_NODEID``, ``SLURM_NTASKS``).

    :param auto_requeue: when the job is about to be stopped (``requeue_signal``), save the
        ``last`` checkpoint and ``scontrol requeue`` the job (lit-checkpoint does it). ``False``:
        lit neither handles ``requeue_signal`` nor requeues (SIGTERM still saves ``last`` and exits).
    :param requeue_signal: the signal that announces the stop (``#SBATCH --signal=SIGUSR1@90``);
        default ``SIGUSR1``.
    """

    how = "srun --nodes N --ntasks-per-node M"

    def __init__(self, auto_requeue: bool = True, requeue_signal: signal.Signals | None = None) -> None:
        self.auto_requeue = auto_requeue
        self.requeue_signal = requeue_signal if requeue_signal is not None else getattr(signal, "SIGUSR1", None)

    @property
    def main_address(self) -> str:
        return self.environ.get("MASTER_ADDR") or self.resolve_root_node_address(self.environ["SLURM_NODELIST"])

    @property
    def main_port(self) -> int:
        if "MASTER_PORT" in self.environ:
            return int(self.environ["MASTER_PORT"])
        return slurm_port(self.environ["SLURM_JOB_ID"])

    @staticmethod
    def detect() -> bool:
        return "SLURM_NTASKS" in os.environ and not _slurm_interactive(os.environ)

    @staticmethod
    def job_name() -> str | None:
        """``SLURM_JOB_NAME`` (``"bash"`` / ``"interactive"`` in an interactive allocation)."""
        return os.environ.get("SLURM_JOB_NAME")

    @staticmethod
    def job_id() -> int | None:
        """``SLURM_JOB_ID`` as an int; ``None`` outside a batch job (or in an interactive one)."""
        job = os.environ.get("SLURM_JOB_ID")
        if job is None or _slurm_interactive(os.environ):
            return None
        try:
            return int(job)
        except ValueError:
            return None

    def world_size(self) -> int:
        return int(self.environ["SLURM_NTASKS"])

    def global_rank(self) -> int:
        return int(self.environ["SLURM_PROCID"])

    def local_rank(self) -> int:
        return int(self.environ["SLURM_LOCALID"])

    def node_rank(self) -> int:
        return int(self.environ["SLURM_NODEID"])

    def validate_settings(self, num_devices: int, num_nodes: int) -> None:
        if _slurm_interactive(self.environ):
            return
        super().validate_settings(num_devices, num_nodes)

    @staticmethod
    def resolve_root_node_address(nodes: str) -> str:
        """The first host of a SLURM node list: ``"gpu[03-05,7],cpu1"`` -> ``"gpu03"``."""
        return first_host(nodes)


def _torchelastic(env: Mapping[str, str]) -> bool:
    return "TORCHELASTIC_RUN_ID" in env or all(key in env for key in _TORCHELASTIC_VARS)


def _slurm_interactive(env: Mapping[str, str]) -> bool:
    return env.get("SLURM_JOB_NAME") in ("bash", "interactive")


def detect(num_devices: int, num_nodes: int, env: MutableMapping[str, str] | None = None) -> ClusterEnvironment:
    """The environment of this process for ``devices=num_devices`` and ``num_nodes``, placed and checked.

    Raises ``MisconfigurationException`` when a launcher's world size does not match the flags,
    or when several nodes are asked for without a rendezvous address.
    """
    environ = os.environ if env is None else env
    found: ClusterEnvironment
    if _torchelastic(environ) and LAUNCHED_ENV not in environ:
        found = TorchElasticEnvironment()
    elif LAUNCHED_ENV not in environ and int(environ.get("SLURM_NTASKS", "1")) > 1 and not _slurm_interactive(environ):
        found = SLURMEnvironment()
    else:
        found = LightningEnvironment()
    found._environ = env
    return place(found, num_devices, num_nodes)


def place(env: ClusterEnvironment, num_devices: int, num_nodes: int) -> ClusterEnvironment:
    """Check ``env`` against the flags and give it the world size and global rank the strategy decides."""
    env.validate_settings(num_devices, num_nodes)
    env.set_world_size(num_devices * num_nodes)
    env.set_global_rank(env.node_rank() * num_devices + env.local_rank())
    return env


def first_host(nodelist: str) -> str:
    """The first host of a SLURM node list: ``"gpu[03-05,7],cpu1"`` -> ``"gpu03"``."""
    match = re.match(r"([^,\[]+)(\[([^\]]+)\])?", nodelist.strip())
    if match is None:
        raise MisconfigurationException(f"Cannot read the SLURM node list {nodelist!r}: set MASTER_ADDR yourself.")
    prefix, _, ranges = match.groups()
    return prefix if ranges is None else prefix + re.split(r"[-,]", ranges)[0]


def slurm_port(job_id: str) -> int:
    """A port every task of a SLURM job derives alike (``MASTER_PORT`` overrides it)."""
    return 15000 + int(re.sub(r"\D", "", job_id) or 0) % 20000


def free_port() -> int:
    """A TCP port nobody listens on now (for a single-node job without ``MASTER_PORT``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("", 0))
        return sock.getsockname()[1]
