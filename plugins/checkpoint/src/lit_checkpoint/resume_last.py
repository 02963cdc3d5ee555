"""Which ``last`` checkpoint ``ckpt_path="last"`` resumes: the newest of this run's lineage.

``ModelCheckpoint`` finds ``last`` checkpoints in its folder and, with the default folder and a
logger, in the other versions of the logger (a restarted process logs to a new version). Those
folders may hold other experiments' checkpoints (a shared ``default_root_dir``): resuming one
would train this module from another experiment's weights and learning rate, or crash on a
shape mismatch. So each candidate's recorded experiment (``lit_core.lineage``: module class and
hyperparameters) is compared with the module about to train:

* a candidate that differs is never resumed; a warning names it and the difference;
* among the others, one written by this job (the same ``SLURM_JOB_ID`` after a requeue, the same
  torchrun run id after a restart) wins over a twin run's, then the newest.

A file the user names (``ckpt_path="path/last.ckpt"``) is loaded as given.

>>> import torch
>>> class Net(torch.nn.Module):
...     hparams = {"lr": 0.5}
>>> differences({"hyper_parameters": {"lr": 0.1}, "lineage": {"module": lineage.record(Net())["module"]}}, Net())
['hyperparameter lr: 0.1 in the checkpoint, 0.5 now']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

import lit_core as lit
from lit_core.plugin_api import lineage, load_checkpoint, rank_zero_warn

from . import io

#: How many differences a message lists before "and N more".
_SHOWN = 4


def newest_of_this_run(trainer: lit.Trainer, paths: Sequence[str], version_of: Callable[[str], int]) -> str | None:
    """The ``last`` checkpoint to resume among ``paths``; ``None`` when none is of this run.

    Before a stage has a module (``trainer.lightning_module`` is ``None``) nothing can be
    compared: the newest is returned.
    """
    ordered = sorted(paths, key=lambda p: (io.modified(p), version_of(p)), reverse=True)
    module = trainer.lightning_module
    if module is None or not ordered:
        return ordered[0] if ordered else None
    job = lineage.job_id()
    chosen: str | None = None
    newest: str | None = None
    skipped: list[tuple[str, list[str]]] = []
    for path in ordered:
        saved = _saved_entries(path)
        problems = differences(saved, module) if saved is not None else []
        if problems:
            skipped.append((path, problems))
            continue
        saved_lineage = saved.get("lineage") if saved is not None else None
        if job is None or (isinstance(saved_lineage, Mapping) and saved_lineage.get("job") == job):
            chosen = path
            break
        newest = newest or path  # of this experiment but another job: taken if this job wrote none
    chosen = chosen or newest
    _warn_skipped(skipped, chosen, ordered, type(module).__name__)
    return chosen


def differences(checkpoint: Mapping[str, Any], module: Any) -> list[str]:
    """How the experiment that saved ``checkpoint`` differs from ``module``: its class, then each hyperparameter.

    Empty when they match. A checkpoint without a ``lineage`` entry (older lit, Lightning) is
    compared on its hyperparameters only; one whose entry has no ``hparams`` (an older lit's, which
    left them out when equal to the saved ones) on its ``hyper_parameters``.
    """
    found: list[str] = []
    saved_lineage = checkpoint.get("lineage")
    saved_lineage = saved_lineage if isinstance(saved_lineage, Mapping) else {}
    now = lineage.record(module)
    saved_class, current = saved_lineage.get("module"), now["hparams"]
    if saved_class is not None and saved_class != now["module"]:
        found.append(f"module class: {saved_class} in the checkpoint, {now['module']} now")
    saved = saved_lineage.get("hparams")
    saved = saved if saved is not None else checkpoint.get("hyper_parameters") or {}
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


def _saved_entries(path: str) -> dict[str, Any] | None:
    """The checkpoint's entries, tensors left on disk (memory-mapped) where the file is local.

    ``None`` when it cannot be read here: the stage's own load then reports what is wrong with it.
    """
    local = io.local_path(path)
    try:
        if local is not None:
            checkpoint = torch.load(local, map_location="cpu", weights_only=True, mmap=True)
        else:
            checkpoint = load_checkpoint(path, map_location="cpu")
    except Exception:  # any unreadable file: reported by the load that follows, which explains each case
        return None
    return checkpoint if isinstance(checkpoint, dict) else None


def _warn_skipped(skipped: list[tuple[str, list[str]]], chosen: str | None, ordered: list[str], module: str) -> None:
    """One warning for the other experiments' checkpoints newer than the one resumed (or all, when none is)."""
    rank = ordered.index(chosen) if chosen is not None else len(ordered)
    newer = [(path, problems) for path, problems in skipped if ordered.index(path) < rank]
    if not newer:
        return
    lines = [f"{path} ({'; '.join(problems)})" for path, problems in newer[:3]]
    if len(newer) > 3:
        lines.append(f"and {len(newer) - 3} more")
    # Without one to resume, the Trainer's own warning says that training starts from the current weights.
    outcome = f" Resuming {chosen}, the newest checkpoint of this {module}." if chosen is not None else ""
    rank_zero_warn(
        "ckpt_path='last': not resumed, saved by another experiment: " + "; ".join(lines) + f".{outcome} To resume one "
        "anyway, pass its path as ckpt_path=; to keep experiments apart, give each its own folder "
        "(ModelCheckpoint(dirpath=...), Trainer(default_root_dir=...) or the logger's name / version)."
    )
