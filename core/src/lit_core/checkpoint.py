"""The kernel's side of checkpoints: safe reading, random-number state, ``load_from_checkpoint``.

Files are written and read through the ``lit_save_checkpoint`` / ``lit_load_checkpoint`` hooks;
this module holds what every checkpoint needs whoever writes it:

* ``load``: ``torch.load(weights_only=True)`` with errors that say what is wrong with the file;
* ``capture_rng`` / ``restore_rng``: torch (CPU and CUDA), numpy and Python ``random`` states,
  stored as tensors, numbers and tuples so the checkpoint still loads with ``weights_only``;
* ``capture_loader_rng`` / ``restore_loader_rng``: what decides an epoch's shuffle (the global
  torch generator when a sampler draws its seed from it, and any generator the dataloader or
  its sampler holds), captured when the epoch starts so a resumed epoch draws the same order;
* ``load_from_checkpoint``: a module or data module rebuilt from its saved hyperparameters.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import random
import struct
import sys
import zipfile
from typing import Any

import torch

from .checkpoint_files import cuda_requested, truncated, verify, verify_file
from .exceptions import CheckpointError, UnsafeCheckpointError
from .hparams import decode
from .hparams_files import load_hparams_file
from .rank_zero import rank_zero_warn


def load(path: str | os.PathLike | Any, map_location: Any = None) -> dict[str, Any]:
    """Read a checkpoint dict with ``torch.load(weights_only=True)``; explain what went wrong.

    ``path``: a local path, a ``file://`` URL, another fsspec URL (``s3://...``; fsspec comes
    with lit-checkpoint) or an open binary file. The file is verified first
    (``checkpoint_files.verify``): a corrupt file, or one that is no checkpoint at all, is
    reported as such and never reaches the unpickler.
    """
    if isinstance(path, str) and path.startswith("file://"):
        path = path[len("file://"):]
    if isinstance(path, str) and "://" in path:
        try:
            from fsspec.core import url_to_fs
        except ImportError as exc:
            raise CheckpointError(f"Reading {path!r} needs fsspec: pip install lit-checkpoint (it brings fsspec).") from exc
        fs, inner = url_to_fs(path)
        if not fs.isfile(inner):
            raise FileNotFoundError(f"Checkpoint {path!r} does not exist (or is not a file): check ckpt_path.")
        with fs.open(inner, "rb") as f:
            return load(f, map_location)
    name = path if isinstance(path, (str, os.PathLike)) else getattr(path, "name", repr(path))
    if isinstance(path, (str, os.PathLike)) and not os.path.isfile(path):
        raise FileNotFoundError(f"Checkpoint {os.fspath(path)!r} does not exist (or is not a file): check ckpt_path.")
    if cuda_requested(map_location) and not torch.cuda.is_available():
        raise _no_cuda(name, map_location)
    if isinstance(path, (str, os.PathLike)):
        verify_file(os.fspath(path))
        source = path
    else:  # a stream (fsspec): read once, verify, load from memory
        data = path.read()
        verify(data, str(name))
        source = io.BytesIO(data)
    try:
        checkpoint = torch.load(source, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "GLOBAL" not in str(exc) and "Unsupported global" not in str(exc):  # a damaged pickle (unverified file)
            raise CheckpointError(
                f"Could not read checkpoint {name!r}: it is corrupt or is not a torch checkpoint (the unpickler "
                f"stopped: {_unpickling_reason(exc)}). Use another checkpoint, or copy the file again."
            ) from exc
        raise UnsafeCheckpointError(
            f"Refused to load {name!r}: it contains a pickled object that would run code when loaded "
            f"({_unpickling_reason(exc)}). lit loads checkpoints with torch.load(weights_only=True), which only "
            "rebuilds tensors, numbers, strings and containers of them. If you wrote this file yourself and trust "
            "it, load it with torch.load(path, weights_only=False), convert the offending entry to plain data, and "
            "save it again; hyperparameters must be plain data (see save_hyperparameters(ignore=...))."
        ) from exc
    except (PermissionError, IsADirectoryError):
        raise
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile) as exc:
        if "torch.cuda.is_available() is False" in str(exc):  # a map_location function that chose CUDA
            raise _no_cuda(name, map_location) from exc
        raise truncated(name, _first_line(exc)) from exc
    except (KeyError, IndexError, ValueError, TypeError, AttributeError, struct.error) as exc:
        # torch's reader on a file that is a zip archive but not one torch.save wrote.
        raise CheckpointError(
            f"{name!r} is not a checkpoint torch can read ({type(exc).__name__}: {_first_line(exc)}): it is a zip "
            "archive, but not one written by torch.save. Check the path."
        ) from exc
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        found = sorted(checkpoint) if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise CheckpointError(
            f"{name!r} is not a lit / Lightning checkpoint: it has no 'state_dict' (found {found}). For a bare "
            "state_dict, use model.load_state_dict(torch.load(path, weights_only=True))."
        )
    return checkpoint


def _no_cuda(name: Any, map_location: Any) -> CheckpointError:
    return CheckpointError(
        f"Cannot load {name!r} with map_location={map_location!r}: this machine has no CUDA device "
        "(torch.cuda.is_available() is False). Load it with map_location='cpu' (the checkpoint itself is fine)."
    )


def _unpickling_reason(exc: BaseException) -> str:
    """The line of torch's weights-only error that names what was refused (it also prints advice)."""
    lines = [line.strip() for line in str(exc).splitlines()]
    for line in lines:
        if "Unsupported global" in line or "WeightsUnpickler error" in line:
            return line.replace("WeightsUnpickler error: ", "")
    return _first_line(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def load_state_dict(module: torch.nn.Module, state_dict: dict[str, Any], strict: bool = True, source: str = "the checkpoint") -> None:
    """``module.load_state_dict`` with a mismatch explained: missing and unexpected keys, listed."""
    own = module.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    if strict and (missing or unexpected):
        raise CheckpointError(
            f"{source} does not match {type(module).__name__}: missing keys {_keys(missing)}, unexpected keys "
            f"{_keys(unexpected)}. Is it a checkpoint of this model (with the same hyperparameters)? To load the "
            "matching part anyway, pass strict=False."
        )
    try:
        module.load_state_dict(state_dict, strict=strict)
    except RuntimeError as exc:  # same keys, different shapes
        raise CheckpointError(
            f"{source} does not fit {type(module).__name__}: {exc}. Rebuild the model with the hyperparameters it was "
            "saved with (Model.load_from_checkpoint does)."
        ) from exc


def optimizer_types(optimizers: list[torch.optim.Optimizer]) -> list[str]:
    """What ``restore_optimizers`` compares: each optimizer's class name (saved as ``"optimizer_types"``)."""
    return [type(opt).__name__ for opt in optimizers]


def restore_optimizers(optimizers: list[torch.optim.Optimizer], checkpoint: dict[str, Any], source: str) -> None:
    """Load ``checkpoint["optimizer_states"]`` into ``optimizers``; a state of another kind of optimizer is an error.

    torch's ``load_state_dict`` takes any optimizer's state: Adam's state loaded into SGD fails
    only in the first ``step()``, with ``KeyError: 'momentum'``. Here, after loading, every
    hyperparameter the configured optimizer has (its ``defaults``; version upgrades are filled
    in by ``load_state_dict``) must be in each loaded parameter group; otherwise the optimizer is
    put back as it was and the error names both optimizers.
    """
    states = checkpoint.get("optimizer_states", [])
    saved_types = checkpoint.get("optimizer_types")
    for i, (opt, state) in enumerate(zip(optimizers, states)):
        before = opt.state_dict()
        saved = saved_types[i] if isinstance(saved_types, list) and i < len(saved_types) else None
        error: Exception | None = None
        try:
            opt.load_state_dict(state)
            missing = sorted({key for group in opt.param_groups for key in opt.defaults if key not in group})
        except (KeyError, ValueError, TypeError) as exc:
            missing, error = [], exc
        if missing or error is not None:
            opt.load_state_dict(before)
            configured = type(opt).__name__
            what = f"saved {saved}" if saved else "the saved state is of another optimizer"
            detail = f"it lacks {configured}'s hyperparameters {missing}" if missing else f"{type(error).__name__}: {error}"
            raise CheckpointError(
                f"{source}: optimizer mismatch: {what}, configured {configured} (optimizer {i}; {detail}). Return the "
                f"optimizer the checkpoint was trained with from configure_optimizers, or load only the weights "
                "(Model.load_from_checkpoint) and start a new fit."
            ) from error


def _keys(keys: list[str], limit: int = 10) -> str:
    shown = ", ".join(keys[:limit])
    return f"[{shown}{', ...' if len(keys) > limit else ''}] ({len(keys)})"


# ------------------------------------------------------------------------------------------
# Random-number state
# ------------------------------------------------------------------------------------------


def capture_rng() -> dict[str, Any]:
    """Every global random-number state a training step may draw from."""
    states: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["torch.cuda"] = torch.cuda.get_rng_state_all()
    numpy = sys.modules.get("numpy")  # not imported: nothing has drawn from it, and importing it costs 0.1 s
    if numpy is not None:
        kind, keys, pos, has_gauss, cached = numpy.random.get_state()
        states["numpy"] = (kind, torch.from_numpy(keys.astype("int64")), int(pos), int(has_gauss), float(cached))
    return states


def restore_rng(states: dict[str, Any]) -> None:
    """Put back what ``capture_rng`` returned (states of libraries absent here are skipped).

    Generator states must be CPU byte tensors; a checkpoint loaded with ``map_location`` on a
    GPU holds them on the GPU, so they are brought back first.
    """
    torch.set_rng_state(_cpu(states["torch"]))
    random.setstate(_as_tuple(states["python"]))
    if "torch.cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([_cpu(state) for state in states["torch.cuda"]])
    if "numpy" in states:
        with contextlib.suppress(ImportError):  # saved where numpy was installed, restored where it is not
            import numpy

            kind, keys, pos, has_gauss, cached = states["numpy"]
            numpy.random.set_state((kind, _cpu(keys).numpy().astype("uint32"), pos, has_gauss, cached))


def _as_tuple(value: Any) -> Any:
    return tuple(_as_tuple(v) for v in value) if isinstance(value, (list, tuple)) else value


def _generators(loader: Any) -> dict[str, torch.Generator]:
    flattened = getattr(loader, "flattened", None)
    if isinstance(flattened, list):  # a CombinedLoader: each of its loaders' generators
        return {f"{i}.{name}": g for i, inner in enumerate(flattened) for name, g in _generators(inner).items()}
    found = {}
    for name, owner in (("loader", loader), ("sampler", getattr(loader, "sampler", None)),
                        ("batch_sampler.sampler", getattr(getattr(loader, "batch_sampler", None), "sampler", None))):
        generator = getattr(owner, "generator", None)
        if isinstance(generator, torch.Generator):
            found[name] = generator
    return found


def capture_loader_rng(loader: Any) -> dict[str, torch.Tensor]:
    """What decides the order ``iter(loader)`` yields: the global torch state and the loader's generators."""
    states = {"torch": torch.get_rng_state()}
    states.update({name: g.get_state() for name, g in _generators(loader).items()})
    return states


def restore_loader_rng(loader: Any, states: dict[str, torch.Tensor]) -> None:
    """Put back ``capture_loader_rng``'s states, so ``iter(loader)`` repeats the captured epoch's order."""
    torch.set_rng_state(_cpu(states["torch"]))
    for name, generator in _generators(loader).items():
        if name in states:
            generator.set_state(_cpu(states[name]))


def _cpu(state: torch.Tensor) -> torch.Tensor:
    return state if state.device.type == "cpu" else state.cpu()


# ------------------------------------------------------------------------------------------
# load_from_checkpoint
# ------------------------------------------------------------------------------------------


def load_from_checkpoint(cls: type, checkpoint_path: Any, map_location: Any = None, strict: bool = True,
                         hparams_key: str = "hyper_parameters", hparams_file: Any = None, **overrides: Any) -> Any:
    """``cls(**saved hyperparameters, **overrides)`` with the checkpoint's weights / state loaded.

    ``hparams_file`` (``.yaml`` or ``.csv``) overrides the saved hyperparameters, as in Lightning;
    keyword arguments override both.
    """
    path = os.fspath(checkpoint_path) if isinstance(checkpoint_path, os.PathLike) else checkpoint_path
    checkpoint = load(path, map_location)
    if hparams_file is not None:
        overrides = {**load_hparams_file(hparams_file), **overrides}
    hparams, left_out = decode(checkpoint, hparams_key, overrides)
    try:
        obj = cls(**hparams)
    except TypeError as exc:
        hint = (f" The checkpoint left out {left_out} (not plain data, e.g. an nn.Module): pass them, "
                f"{cls.__name__}.load_from_checkpoint(path, {left_out[0]}=...)." if left_out else "")
        raise CheckpointError(
            f"Could not rebuild {cls.__name__} from {checkpoint_path!r} with its saved hyperparameters "
            f"{sorted(hparams)}: {exc}.{hint} Call self.save_hyperparameters() in __init__ so every argument is saved, "
            f"or pass the missing ones: {cls.__name__}.load_from_checkpoint(path, name=value)."
        ) from exc
    return obj, checkpoint


# ------------------------------------------------------------------------------------------
# Checkpoints that Lightning wrote
# ------------------------------------------------------------------------------------------

#: Where Lightning keeps the mixed-precision scaler's state (2.x: the precision plugin's class
#: name; 1.x: a fixed key); lit keeps it under ``"precision"``.
_LIGHTNING_PRECISION_KEYS = ("MixedPrecision", "MixedPrecisionPlugin", "NativeMixedPrecisionPlugin", "native_amp_scaling_state")


def _counter(progress: Any, part: str, name: str) -> int | None:
    value = progress.get(part, {}).get(name) if isinstance(progress, dict) else None
    return int(value) if isinstance(value, (int, float)) else None


def from_lightning(checkpoint: dict[str, Any], source: str = "the checkpoint") -> dict[str, Any]:
    """A checkpoint that Lightning (1.5 and later) wrote, with lit's ``loops`` entry derived from its own.

    Lightning's ``loops["fit_loop"]`` holds progress counters, ``{"total": ..., "current":
    {"ready", "started", "processed", "completed"}}``, for the epochs (``epoch_progress``) and for
    the batches of the current epoch (``epoch_loop.batch_progress``), and the logging step in
    ``epoch_loop.state_dict["_batches_that_stepped"]``. An epoch is ``processed`` before
    ``on_train_epoch_end`` (where checkpoint callbacks save) and ``completed`` after it, and
    Lightning resumes at epoch ``processed``: an epoch-end checkpoint continues with the next
    epoch. A checkpoint whose epoch was started but not processed was saved mid-epoch: lit runs
    the epoch's remaining batches, as Lightning does, after a warning (Lightning's checkpoint does
    not say what order the data was in, so the remaining batches are drawn from a new order).

    Other checkpoints are returned unchanged. Callback states need no translation: lit's
    callbacks use Lightning's ``state_key`` format.
    """
    loops = checkpoint.get("loops")
    fit_loop = loops.get("fit_loop") if isinstance(loops, dict) else None
    if not isinstance(fit_loop, dict):
        return checkpoint
    translated = dict(checkpoint)
    epochs = fit_loop.get("epoch_progress", {})
    processed = _counter(epochs, "current", "processed")
    started = _counter(epochs, "current", "started")
    epoch = processed if processed is not None else int(checkpoint.get("epoch", 0))
    batches = fit_loop.get("epoch_loop.batch_progress", {})
    mid_epoch = started is not None and processed is not None and started > processed
    done = (_counter(batches, "current", "completed") or 0) if mid_epoch else 0
    stepped = fit_loop.get("epoch_loop.state_dict", {}).get("_batches_that_stepped", checkpoint.get("global_step", 0))
    translated["epoch"] = epoch
    translated["loops"] = {
        "batches_that_stepped": int(stepped),
        "epoch_completed": False,  # "epoch" is already the epoch to run
        "epoch_batches_done": done,
        "total_batches_seen": _counter(batches, "total", "completed") or 0,
        # The order of the interrupted epoch is unknown: the resumed epoch draws a new one from here.
        "epoch_rng": {"torch": torch.get_rng_state()} if done else None,
    }
    if done:
        rank_zero_warn(
            f"{source} is a Lightning checkpoint saved in the middle of epoch {epoch} (after {done} batches). Training "
            "continues with that epoch's remaining batches, as Lightning does, but Lightning's checkpoint does not record "
            "the order the data came in, so they are drawn from a new order: some samples may be seen twice this "
            "epoch and others not at all. Resume from an end-of-epoch checkpoint for exact results."
        )
    if "precision" not in translated:
        for key in _LIGHTNING_PRECISION_KEYS:
            if isinstance(translated.get(key), dict):
                translated["precision"] = translated[key]
                break
    return translated
