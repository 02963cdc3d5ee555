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

Under several processes every rank learns of the signal at the same step: the flag is reduced
(max) across ranks at each step boundary, so all ranks save and leave together.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from typing import TYPE_CHECKING, Any

import torch

import lit_core as lit
from lit_core.plugin_api import ClusterEnvironment, rank_zero_info, rank_zero_warn

if TYPE_CHECKING:
    from .model_checkpoint import ModelCheckpoint



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

    def uninstall(self) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()

    # -- hooks ---------------------------------------------------------------------------------

    @lit.hookimpl
    def lit_train_batch_end(self, trainer: lit.Trainer) -> None:
        if self.received is None and self.alone:
            return
        if not self.alone and not self._any_rank_received(trainer):
            return
        if not trainer.state.stepping:
            return  # mid-accumulation: finish the accumulation first, so no gradient is lost
        self.stop(trainer)

    def _any_rank_received(self, trainer: lit.Trainer) -> bool:
        flag = torch.tensor(0.0 if self.received is None else 1.0, device=trainer.device)
        return bool(trainer.strategy.reduce(flag, reduce_op="max").item())

    def stop(self, trainer: lit.Trainer) -> None:
        """Save ``last``, requeue under SLURM, exit with status 0."""
        name = signal.Signals(self.received).name if self.received is not None else "a stop signal on another rank"
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
