"""Preemption: on SIGTERM (or SIGUSR1, SLURM's warning signal) finish the step, save ``last``, exit.

Clusters stop jobs with a signal some time before they kill them: SLURM sends SIGUSR1 ahead of
the time limit when asked (``#SBATCH --signal=SIGUSR1@90``), and SIGTERM on preemption or
``scancel``; Kubernetes and most schedulers send SIGTERM. The handler installed for ``fit``
only records the signal. At the end of the next training batch that stepped the optimizer
(so no accumulated gradient is lost) the checkpoint callback writes its ``last`` checkpoint,
the job is requeued under SLURM (``scontrol requeue``), and the process exits with status 0.
Started again with ``trainer.fit(..., ckpt_path="last")``, training continues from that step
and ends bitwise identical to a run that was never stopped.

``Trainer(plugins=[SLURMEnvironment(auto_requeue=False)])`` (read from
``trainer.strategy.cluster_environment``) turns the SLURM part off, as in Lightning: SIGUSR1 is
left alone and the job is not requeued; SIGTERM still saves ``last`` and exits.
``SLURMEnvironment(requeue_signal=signal.SIGHUP)`` makes SIGHUP the warning signal.

Under several processes every rank learns of the signal at the same step, so all ranks save and
leave together: the flag is reduced (max) across ranks. Under ``torch.distributed`` the reduction
is an asynchronous all-reduce on a gloo group of its own (CPU tensors: no device sync), whose
result is read at the next check, and the checks are spaced to about ``CHECK_EVERY_S`` seconds
of training: the same reduction carries the slowest rank's time per step, from which every rank
computes the same next interval. A signal is acted on within about two intervals (one second or
one optimizer step, whichever is longer), at a cost below 1 % of a step (``benchmarks/ddp.py``).
Other multi-process strategies (no ``torch.distributed``) reduce with ``trainer.strategy.reduce``
at every optimizer step.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from typing import TYPE_CHECKING, Any

import torch
import torch.distributed as dist

import lit_core as lit
from lit_core.plugin_api import ClusterEnvironment, rank_zero_info, rank_zero_warn

if TYPE_CHECKING:
    from .model_checkpoint import ModelCheckpoint



#: Seconds of training between two checks of the stop flag under several processes.
CHECK_EVERY_S = 0.5
#: At most this many optimizer steps between two checks.
MAX_INTERVAL = 10_000

#: The gloo group the flag is reduced on, per default process group (created by every rank at its first check).
_groups: dict[int, Any] = {}


def _flag_group() -> Any:
    """A gloo group over every rank, for the CPU flag: asynchronous, with no device sync under nccl."""
    world = dist.group.WORLD
    key = id(world)
    if key not in _groups:
        _groups.clear()  # a group of an earlier, destroyed default group
        # Its own group even under gloo: the flag's reduction in flight never shares a queue with DDP's.
        _groups[key] = dist.new_group(backend="gloo")
    return _groups[key]


def slurm_job_id(environ: Any = os.environ) -> str | None:
    """The id ``scontrol requeue`` wants: ``<array job>_<task>`` for array jobs, else the job id."""
    array_job, task = environ.get("SLURM_ARRAY_JOB_ID"), environ.get("SLURM_ARRAY_TASK_ID")
    if array_job and task:
        return f"{array_job}_{task}"
    return environ.get("SLURM_JOB_ID")


class Preemption:
    """A plugin (hook implementations only) that turns a stop signal into save-and-exit.

    Registered for the duration of ``fit`` by the first ``ModelCheckpoint`` of the trainer.
    """

    def __init__(self, checkpoint: ModelCheckpoint, world_size: int = 1, environment: ClusterEnvironment | None = None) -> None:
        self.checkpoint = checkpoint
        #: Whether to ``scontrol requeue`` the job: the cluster environment's ``auto_requeue`` (yes without one).
        self.auto_requeue = environment.auto_requeue if environment is not None else True
        requeue_signal = environment.requeue_signal if environment is not None else getattr(signal, "SIGUSR1", None)
        #: The signals handled: SIGTERM, and the requeue signal unless requeueing is off.
        self.signals = tuple(dict.fromkeys(
            s for s in (getattr(signal, "SIGTERM", None), requeue_signal if self.auto_requeue else None) if s is not None))
        #: One process: no need to ask the others at every step (the common case costs one check).
        self.alone = world_size == 1
        #: The signal received, if any (set by the handler, read at step boundaries).
        self.received: int | None = None
        self._previous: dict[int, Any] = {}
        #: Under torch.distributed: optimizer steps between two checks (equal on every rank), steps left
        #: until the next one, and the reduction in flight ``(work, tensor)`` with when it was started.
        self._interval = 1
        self._countdown = 1
        self._pending: tuple[Any, torch.Tensor] | None = None
        self._launched_at = 0.0

    # -- handlers ------------------------------------------------------------------------------

    def _handle(self, signum: int, frame: Any) -> None:
        self.received = signum

    def install(self) -> bool:
        """Install the handlers; only the main thread may (elsewhere: nothing, and ``False``)."""
        if threading.current_thread() is not threading.main_thread():
            return False
        for signum in self.signals:
            self._previous[signum] = signal.signal(signum, self._handle)
        return True

    def uninstall(self, finished: bool = True) -> None:
        """Put the handlers back; after a run that ``finished``, first let the reduction in flight complete
        (after a failure the other ranks may never join it)."""
        for signum, previous in self._previous.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()
        pending, self._pending = self._pending, None
        if pending is not None and finished:
            pending[0].wait()

    # -- hooks ---------------------------------------------------------------------------------

    @lit.hookimpl
    def lit_train_batch_end(self, trainer: lit.Trainer) -> None:
        if self.received is None and self.alone:
            return
        if not trainer.state.stepping:
            return  # mid-accumulation: finish the accumulation first, so no gradient is lost (every rank agrees)
        if self.alone or self._any_rank_received(trainer):
            self.stop(trainer)

    def _any_rank_received(self, trainer: lit.Trainer) -> bool:
        """Whether a rank has received the signal, decided alike on every rank (a collective: every rank calls it
        at each optimizer step)."""
        self._countdown -= 1
        if self._countdown > 0:
            return False  # between two checks: the common case, one comparison
        if not (dist.is_available() and dist.is_initialized()):
            flag = torch.tensor(0.0 if self.received is None else 1.0, device=trainer.device)
            return bool(trainer.strategy.reduce(flag, reduce_op="max").item())
        now = time.perf_counter()
        pending = self._pending
        if pending is not None:
            pending[0].wait()  # started an interval ago: normally complete by now
        # This check's flag, and this rank's time per step since the last check (0 at the first).
        seconds = (now - self._launched_at) / self._interval if pending is not None else 0.0
        mine = torch.tensor([0.0 if self.received is None else 1.0, seconds], dtype=torch.float64)
        self._pending = (dist.all_reduce(mine, op=dist.ReduceOp.MAX, group=_flag_group(), async_op=True), mine)
        self._launched_at = now
        if pending is None:
            return False
        received, step_seconds = pending[1].tolist()
        if received:
            return True
        # The slowest rank's time per step, the same number on every rank: the same next interval.
        self._interval = self._countdown = max(1, min(MAX_INTERVAL, round(CHECK_EVERY_S / step_seconds) if step_seconds > 0 else 1))
        return False

    def stop(self, trainer: lit.Trainer) -> None:
        """Save ``last``, requeue under SLURM, exit with status 0."""
        name = signal.Signals(self.received).name if self.received is not None else "a stop signal on another rank"
        pending, self._pending = self._pending, None
        if pending is not None:
            pending[0].wait()  # every rank started it at this check: it completes, and no work is left in flight at exit
        path = self.checkpoint.save_last_checkpoint(trainer)
        rank_zero_info(f"{name} received: saved {path} at global step {trainer.global_step}; resume with "
                       "trainer.fit(..., ckpt_path='last').")
        job = slurm_job_id()
        if job is not None and self.auto_requeue and trainer.is_global_zero:
            self._requeue(job)
        raise SystemExit(0)

    @staticmethod
    def _requeue(job: str) -> None:
        try:
            result = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            rank_zero_warn(f"Could not requeue SLURM job {job}: {exc}. Resubmit it to resume from the last checkpoint.")
            return
        if result.returncode != 0:
            rank_zero_warn(f"scontrol requeue {job} failed ({result.returncode}): {result.stderr.strip()}. Resubmit the "
                           "job to resume from the last checkpoint.")
        else:
            rank_zero_info(f"Requeued SLURM job {job}.")
