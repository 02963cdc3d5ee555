"""Which run a checkpoint belongs to: recorded at every save, for ``ckpt_path="last"`` to compare.

Every checkpoint gets a ``lineage`` entry, taken when the stage started: the import path of
the module's class, its hyperparameters at that moment (before a tuner inside ``fit`` changes
them), and the job that wrote it (``slurm:<SLURM_JOB_ID>``, or
``torchelastic:<TORCHELASTIC_RUN_ID>``; ``None`` elsewhere). A SLURM requeue keeps its job id and
torchrun's restarts keep their run id, so a restarted job can tell its own checkpoints from
those of a twin run (same class, same hyperparameters) that shares the folder.

The checkpoint plugin's ``ckpt_path="last"`` compares a checkpoint's entry with ``record`` of
the module about to train and resumes no checkpoint of another experiment (see
``docs/checkpointing.rst``, "Resume lineage").

>>> import torch
>>> class Net(torch.nn.Module):
...     hparams = {"lr": 0.5}
>>> record(Net(), environ={"SLURM_JOB_ID": "42"})["hparams"], job_id({"SLURM_JOB_ID": "42"})
({'lr': 0.5}, 'slurm:42')
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .hparams import checkpoint_entries

#: Environment variables that name the job a process belongs to, kept across its restarts.
_JOB_VARIABLES = (("slurm", "SLURM_JOB_ID"), ("torchelastic", "TORCHELASTIC_RUN_ID"))


def job_id(environ: Mapping[str, str] = os.environ) -> str | None:
    """``"slurm:<id>"`` in a SLURM batch job, ``"torchelastic:<id>"`` under torchrun, else ``None``.

    An interactive SLURM allocation (``SLURM_JOB_NAME`` ``bash`` / ``interactive``) runs many
    unrelated scripts under one id: it names no job here.
    """
    if environ.get("SLURM_JOB_NAME") in ("bash", "interactive"):
        environ = {k: v for k, v in environ.items() if k != "SLURM_JOB_ID"}
    for kind, variable in _JOB_VARIABLES:
        value = environ.get(variable)
        if value and value != "none":  # torchrun's default run id is the literal "none"
            return f"{kind}:{value}"
    return None


def record(module: Any, environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """The ``lineage`` entry for checkpoints of ``module``: taken when a stage starts, before it restores.

    ``module``: the import path of the module's class (``"package.module.ClassName"``);
    ``hparams``: ``module.hparams`` as a checkpoint stores them (plain data), as the run started:
    a tuner inside ``fit`` (``LearningRateFinder`` setting ``hparams.lr``) changes the saved
    ``hyper_parameters`` but not what the restarted script builds, so restarts are compared with
    these; ``job``: ``job_id``.
    """
    cls = type(module)
    hparams = checkpoint_entries(getattr(module, "hparams", {}) or {}, "hyper_parameters")["hyper_parameters"]
    return {"module": f"{cls.__module__}.{cls.__qualname__}", "job": job_id(environ), "hparams": hparams}
