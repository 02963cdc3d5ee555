"""Which run a checkpoint belongs to: recorded at every save, compared before ``ckpt_path="last"`` resumes.

Every checkpoint gets a ``lineage`` entry, taken when the stage started: the import path of
the module's class, its hyperparameters at that moment, and the job that wrote it
(``slurm:<SLURM_JOB_ID>``, or ``torchelastic:<TORCHELASTIC_RUN_ID>``; ``None`` elsewhere). A SLURM
requeue keeps its job id and torchrun's restarts keep their run id, so a restarted job can
tell its own checkpoints from those of a twin run (same class, same hyperparameters) that
shares the folder.

``differences`` says how a checkpoint's experiment differs from the module about to train: the
checkpoint plugin's ``ckpt_path="last"`` resumes no checkpoint with a difference (see
``docs/checkpointing.rst``, "Resume lineage").

>>> import torch
>>> class Net(torch.nn.Module):
...     hparams = {"lr": 0.5}
>>> differences({"hyper_parameters": {"lr": 0.1}, "lineage": {"module": class_path(Net())}}, Net())
['hyperparameter lr: 0.1 in the checkpoint, 0.5 now']
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch

from .hparams import checkpoint_entries

#: Environment variables that name the job a process belongs to, kept across its restarts.
_JOB_VARIABLES = (("slurm", "SLURM_JOB_ID"), ("torchelastic", "TORCHELASTIC_RUN_ID"))
#: How many differences a message lists before "and N more".
_SHOWN = 4


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


def class_path(module: Any) -> str:
    """``"package.module.ClassName"`` of ``module``'s class."""
    cls = type(module)
    return f"{cls.__module__}.{cls.__qualname__}"


def record(module: Any) -> dict[str, Any]:
    """The ``lineage`` entry for checkpoints of ``module``: taken when a stage starts, before it restores.

    ``hparams`` are the hyperparameters as the run started: a tuner inside ``fit``
    (``LearningRateFinder`` setting ``hparams.lr``) changes the saved ``hyper_parameters`` but
    not what the restarted script builds, so restarts are compared with these.
    """
    return {"module": class_path(module), "job": job_id(), "hparams": _stored_hparams(module)}


def entry(started: dict[str, Any] | None, module: Any) -> dict[str, Any]:
    """The ``lineage`` entry of a checkpoint of ``module`` saved now, from the stage's ``record``.

    The starting hyperparameters are kept only when they differ from those the checkpoint
    stores (a tuner changed them): otherwise ``hyper_parameters`` says the same.
    """
    lineage = dict(started) if started is not None else record(module)
    if _same(lineage["hparams"], _stored_hparams(module)):
        del lineage["hparams"]
    return lineage


def saved_job(checkpoint: Mapping[str, Any]) -> str | None:
    """The job that wrote ``checkpoint`` (``None``: unknown, or outside a job)."""
    lineage = checkpoint.get("lineage")
    return lineage.get("job") if isinstance(lineage, Mapping) else None


def differences(checkpoint: Mapping[str, Any], module: Any) -> list[str]:
    """How the experiment that saved ``checkpoint`` differs from ``module``: its class, then each hyperparameter.

    Empty when they match. A checkpoint without a ``lineage`` entry (older lit, Lightning) is
    compared on its hyperparameters only.
    """
    found: list[str] = []
    lineage = checkpoint.get("lineage")
    saved_class = lineage.get("module") if isinstance(lineage, Mapping) else None
    if saved_class is not None and saved_class != class_path(module):
        found.append(f"module class: {saved_class} in the checkpoint, {class_path(module)} now")
    saved_start = lineage.get("hparams") if isinstance(lineage, Mapping) else None
    saved = saved_start if saved_start is not None else checkpoint.get("hyper_parameters") or {}
    current = _stored_hparams(module)
    for name in sorted(set(saved) | set(current), key=str):
        if name not in current:
            found.append(f"hyperparameter {name}: {_short(saved[name])} in the checkpoint, absent now")
        elif name not in saved:
            found.append(f"hyperparameter {name}: absent in the checkpoint, {_short(current[name])} now")
        elif not _same(saved[name], current[name]):
            found.append(f"hyperparameter {name}: {_short(saved[name])} in the checkpoint, {_short(current[name])} now")
    if len(found) > _SHOWN:
        found[_SHOWN:] = [f"and {len(found) - _SHOWN} more"]
    return found


def _stored_hparams(module: Any) -> dict[str, Any]:
    """``module.hparams`` as a checkpoint stores them (plain data; what cannot be stored is left out)."""
    return checkpoint_entries(getattr(module, "hparams", {}) or {}, "hyper_parameters")["hyper_parameters"]


def _same(a: Any, b: Any) -> bool:
    """Equality of stored hyperparameter values: tensors by value, containers item by item."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.shape == b.shape and bool(torch.equal(a, b))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    try:
        return bool(a == b) or (a != a and b != b)  # NaN equals NaN here
    except Exception:  # a value whose == raises or is not a truth value: compare what it prints
        return repr(a) == repr(b)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
