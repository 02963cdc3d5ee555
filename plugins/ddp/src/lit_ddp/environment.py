"""Where this process sits in the job: its ranks, the world size, the rendezvous address.

Three ways a process comes to exist, detected in this order:

``torchelastic``
    ``torchrun`` (TorchElastic) started it: ``TORCHELASTIC_RUN_ID``, or all of ``RANK``,
    ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``, are set.
``slurm``
    ``srun`` started it (``SLURM_NTASKS`` > 1, outside an interactive ``salloc`` shell).
``lit``
    The user started it (``python train.py``, on each node with ``NODE_RANK``), and lit starts
    the other local processes itself. lit's launchers set ``LIT_DDP_LAUNCHED`` and the rank
    variables (``LOCAL_RANK``, ``RANK``, ``NODE_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
    ``MASTER_PORT``) in every process of the job, the first one included.

In the first two cases the processes already exist and this one joins them.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from lit_core.exceptions import MisconfigurationException

#: Set by lit's launchers in every process of a job they started (the first process included).
LAUNCHED_ENV = "LIT_DDP_LAUNCHED"
#: Set by lit's script launcher in the processes it starts: the pid of the process that started them.
PARENT_PID_ENV = "LIT_DDP_PARENT_PID"
#: Set by lit's script launcher: where a started process writes the traceback that ends it.
ERROR_FILE_ENV = "LIT_DDP_ERROR_FILE"

_TORCHELASTIC_VARS = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class ClusterEnvironment:
    """This process's place in the job."""

    #: ``"lit"``, ``"torchelastic"`` or ``"slurm"``.
    name: str
    global_rank: int
    local_rank: int
    node_rank: int
    world_size: int
    main_address: str
    #: ``None`` until lit's launcher picks a free port (single node, ``MASTER_PORT`` unset).
    main_port: int | None
    #: Whether someone else (torchrun, srun, lit's launcher in a parent) started the processes.
    creates_processes_externally: bool


def detect(num_devices: int, num_nodes: int, env: Mapping[str, str] | None = None) -> ClusterEnvironment:
    """The environment of this process for ``devices=num_devices`` and ``num_nodes``.

    Raises ``MisconfigurationException`` when a launcher's world size does not match the flags,
    or when several nodes are asked for without a rendezvous address.
    """
    env = os.environ if env is None else env
    expected = num_devices * num_nodes
    torchelastic = "TORCHELASTIC_RUN_ID" in env or all(key in env for key in _TORCHELASTIC_VARS)
    if torchelastic and LAUNCHED_ENV not in env:
        found = ClusterEnvironment(
            name="torchelastic",
            global_rank=int(env["RANK"]),
            local_rank=int(env["LOCAL_RANK"]),
            node_rank=int(env.get("GROUP_RANK", env.get("NODE_RANK", 0))),
            world_size=int(env["WORLD_SIZE"]),
            main_address=env["MASTER_ADDR"],
            main_port=int(env["MASTER_PORT"]),
            creates_processes_externally=True,
        )
        how = "torchrun --nnodes N --nproc_per_node M"
    elif LAUNCHED_ENV not in env and int(env.get("SLURM_NTASKS", "1")) > 1 and env.get("SLURM_JOB_NAME") not in ("bash", "interactive"):
        found = ClusterEnvironment(
            name="slurm",
            global_rank=int(env["SLURM_PROCID"]),
            local_rank=int(env["SLURM_LOCALID"]),
            node_rank=int(env["SLURM_NODEID"]),
            world_size=int(env["SLURM_NTASKS"]),
            main_address=env.get("MASTER_ADDR") or first_host(env["SLURM_NODELIST"]),
            main_port=int(env["MASTER_PORT"]) if "MASTER_PORT" in env else slurm_port(env["SLURM_JOB_ID"]),
            creates_processes_externally=True,
        )
        how = "srun --nodes N --ntasks-per-node M"
    else:
        if num_nodes > 1 and not ("MASTER_ADDR" in env and "MASTER_PORT" in env):
            raise MisconfigurationException(
                f"num_nodes={num_nodes}: every node must know where to meet. Set MASTER_ADDR (the address of node 0), "
                "MASTER_PORT (a free port there) and NODE_RANK (0 .. num_nodes-1) in each node's environment, "
                "or launch with torchrun or srun."
            )
        local_rank = int(env.get("LOCAL_RANK", 0))
        node_rank = int(env.get("NODE_RANK", env.get("GROUP_RANK", 0)))
        if node_rank >= num_nodes:
            raise MisconfigurationException(f"NODE_RANK={node_rank} but num_nodes={num_nodes}: NODE_RANK counts nodes from 0.")
        return ClusterEnvironment(
            name="lit",
            global_rank=node_rank * num_devices + local_rank,
            local_rank=local_rank,
            node_rank=node_rank,
            world_size=expected,
            main_address=env.get("MASTER_ADDR", "127.0.0.1"),
            main_port=int(env["MASTER_PORT"]) if "MASTER_PORT" in env else None,
            # A process given LOCAL_RANK was started by a launcher (lit's, or the user's own).
            creates_processes_externally="LOCAL_RANK" in env,
        )
    if found.world_size != expected:
        raise MisconfigurationException(
            f"The {found.name} launcher started {found.world_size} processes, but the Trainer asks for devices={num_devices} "
            f"x num_nodes={num_nodes} = {expected}. Make them agree: Trainer(devices=<processes per node>, "
            f"num_nodes=<nodes>) with `{how}`."
        )
    return found


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
