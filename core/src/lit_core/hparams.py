"""Hyperparameters: ``AttributeDict``, reading ``__init__`` arguments from a frame, storing them in checkpoints."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import sys
from argparse import Namespace
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from .exceptions import CheckpointError
from .rank_zero import rank_zero_warn


class AttributeDict(dict):
    """A ``dict`` whose keys are also attributes: ``hparams.lr`` and ``hparams["lr"]``."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError as exc:
            raise AttributeError(f"No hyperparameter {key!r}; saved: {sorted(self)}") from exc

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def __delattr__(self, key: str) -> None:
        del self[key]


def collect_init_args(frame: Any, obj: object) -> dict[str, Any]:
    """The arguments of the ``__init__`` running in ``frame`` (or an outer frame) for ``obj``.

    Walks outwards through ``super().__init__`` chains so that a subclass's arguments win over
    its parent's, as Lightning does. ``*args`` are dropped; ``**kwargs`` are merged in.
    """
    collected: dict[str, Any] = {}
    while frame is not None:
        code = frame.f_code
        local = frame.f_locals
        if code.co_name != "__init__" or local.get("self") is not obj:
            break
        info = inspect.getargvalues(frame)
        found = {name: local[name] for name in info.args[1:] if name in local}
        if info.keywords:
            found.update(local.get(info.keywords, {}))
        collected.update(found)
        frame = frame.f_back
    return collected


def hyperparameters_from_call(obj: object, args: tuple[Any, ...], ignore: str | list[str] | None, frame: Any) -> dict[str, Any]:
    """What ``save_hyperparameters(*args, ignore=...)`` saves, for a module or a data module.

    No ``args``: every ``__init__`` argument (read from ``frame``); names: only those; one dict /
    ``argparse.Namespace`` (or OmegaConf config): that, as it is. ``ignore`` drops names.
    """
    if len(args) == 1 and isinstance(args[0], (Mapping, Namespace)):
        params = dict(vars(args[0]) if isinstance(args[0], Namespace) else args[0])
    else:
        non_names = [a for a in args if not isinstance(a, str)]
        if non_names:
            raise ValueError(
                f"save_hyperparameters() takes argument names, or one dict / argparse.Namespace: unsupported config "
                f"type {type(non_names[0]).__name__}."
            )
        init_args = collect_init_args(frame, obj)
        if args:
            missing = [a for a in args if a not in init_args]
            if missing:
                raise ValueError(
                    f"save_hyperparameters({', '.join(map(repr, args))}): {missing} are not arguments "
                    f"of {type(obj).__name__}.__init__ (it has {sorted(init_args)})."
                )
            params = {a: init_args[a] for a in args}
        else:
            params = init_args
    ignored = {ignore} if isinstance(ignore, str) else set(ignore or ())
    return {k: v for k, v in params.items() if k not in ignored}


def save_hyperparameters(obj: Any, args: tuple[Any, ...], ignore: str | list[str] | None, frame: Any, logger: bool) -> None:
    """``save_hyperparameters`` of a module or a data module: collect (``hyperparameters_from_call``),
    warn about values a checkpoint leaves out (at the user's call), store, and snapshot
    ``hparams_initial`` (later calls add to it; later changes to ``hparams`` do not reach it)."""
    obj._log_hyperparams = logger
    params = hyperparameters_from_call(obj, args, ignore, frame)
    for key, value in params.items():
        warning = omission_warning(key, value)
        if warning is not None:
            rank_zero_warn(warning, stacklevel=5)  # at the user's save_hyperparameters() call
    obj._hparams.update(params)
    obj._hparams_initial = initial_copy(obj._hparams)


def initial_copy(hparams: Mapping[str, Any]) -> AttributeDict:
    """``hparams_initial``: a deep copy of each value, or the value itself when it cannot be copied.

    Lightning deep-copies the whole dict and so fails on a module, a lock or a tensor subclass
    without ``new_empty``; such a value is kept as it is instead (it is left out of checkpoints,
    with the warning, like any other object).
    """
    copied = AttributeDict()
    for key, value in hparams.items():
        try:
            copied[key] = copy.deepcopy(value)
        except Exception:  # whatever __deepcopy__ / __reduce_ex__ raises: the value is not data anyway
            copied[key] = value
    return copied


def hyperparameters_to_log(module: Any, datamodule: Any) -> dict[str, Any]:
    """The module's and the data module's ``hparams_initial`` for the loggers, each only when it
    asked to be logged (``save_hyperparameters(logger=False)`` opts out), as Lightning merges them.

    :raises RuntimeError: when a key is in both with different values.
    """
    module_params = dict(module.hparams_initial) if getattr(module, "_log_hyperparams", True) else {}
    if datamodule is None or not getattr(datamodule, "_log_hyperparams", True):
        return module_params
    data_params = dict(datamodule.hparams_initial)
    clashing = sorted(k for k in module_params.keys() & data_params.keys() if not _same(module_params[k], data_params[k]))
    if clashing:
        raise RuntimeError(
            f"Error while merging hparams: the keys {clashing} are present in both the LightningModule's and "
            "LightningDataModule's hparams but have different values: rename one, or save it in one place only."
        )
    return {**data_params, **module_params}


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # tensors and other values whose == is not one bool
        return a is b

# ------------------------------------------------------------------------------------------
# Hyperparameters in checkpoints (read back with torch.load(weights_only=True))
# ------------------------------------------------------------------------------------------

#: Exactly these types load with ``torch.load(weights_only=True)`` (a subclass such as an IntEnum or
#: a tensor subclass is pickled by class, which such a load refuses).
_PLAIN_SCALARS = frozenset({type(None), bool, int, float, str, torch.dtype, torch.device, torch.Tensor, nn.Parameter})

#: How a value that is not plain data is stored (``<key>_encoding`` in the checkpoint).
IMPORT, NAMESPACE, DATACLASS, OMITTED = "import", "namespace", "dataclass:", "omitted"

_NOT_PLAIN = object()


def plain_copy(value: Any, _inside: tuple[int, ...] = ()) -> Any:
    """``value`` as data ``torch.load(weights_only=True)`` reads back (``_NOT_PLAIN`` when it cannot be).

    Numbers, strings, tensors; any mapping becomes a ``dict`` and any list or tuple a ``list`` /
    ``tuple`` of such values (an ``AttributeDict``, a named tuple or a config mapping too). A
    structure that contains itself is not plain data (a save would recurse forever).
    """
    if type(value) in _PLAIN_SCALARS:
        return value
    if id(value) in _inside:
        return _NOT_PLAIN
    inside = (*_inside, id(value))
    if isinstance(value, Mapping):
        items = [(plain_copy(k, inside), plain_copy(v, inside)) for k, v in value.items()]
        return _NOT_PLAIN if any(k is _NOT_PLAIN or v is _NOT_PLAIN for k, v in items) else dict(items)
    if isinstance(value, (list, tuple)):
        items = [plain_copy(item, inside) for item in value]
        if any(item is _NOT_PLAIN for item in items):
            return _NOT_PLAIN
        return items if isinstance(value, list) else tuple(items)
    return _NOT_PLAIN


def import_path(obj: Any) -> str | None:
    """``"package.module.Name"`` for an importable class or function, else ``None`` (local, lambda, ...)."""
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not (inspect.isclass(obj) or inspect.isfunction(obj) or inspect.isbuiltin(obj)) or not module or not qualname:
        return None
    if "<" in qualname or (module == "__main__" and not hasattr(sys.modules.get("__main__"), qualname.split(".")[0])):
        return None
    return f"{module}.{qualname}"


def encode(key: str, value: Any) -> tuple[Any, str | None]:
    """``(stored value, encoding)`` for one hyperparameter; encoding ``None`` means stored as plain data."""
    plain = plain_copy(value)
    if plain is not _NOT_PLAIN:
        return plain, None
    path = import_path(value)
    if path is not None:
        return path, IMPORT
    if isinstance(value, Namespace) or (dataclasses.is_dataclass(value) and not isinstance(value, type)):
        fields = plain_copy(vars(value) if isinstance(value, Namespace) else
                            {f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
        if fields is not _NOT_PLAIN:
            if isinstance(value, Namespace):
                return fields, NAMESPACE
            path = import_path(type(value))
            if path is not None:
                return fields, DATACLASS + path
    return None, OMITTED


def omission_warning(key: str, value: Any) -> str | None:
    """What ``save_hyperparameters()`` warns about ``value`` (``None``: it is stored in checkpoints)."""
    if isinstance(value, nn.Module):
        return (f"Attribute {key!r} is an instance of `nn.Module` and is already saved during checkpointing. It is "
                f"recommended to ignore them using `self.save_hyperparameters(ignore=[{key!r}])`.")
    if encode(key, value)[1] == OMITTED:
        return (f"Hyperparameter {key!r} is {_what_is_not_plain(value)}, which a checkpoint cannot store as plain data: it "
                f"is left out of checkpoints (pass it again to load_from_checkpoint(path, {key}=...)). It is recommended "
                f"to ignore it using `self.save_hyperparameters(ignore=[{key!r}])`.")
    return None


def _what_is_not_plain(value: Any, _inside: tuple[int, ...] = ()) -> str:
    """``"a dict whose ['cfg'] is a Lock"``: the first part of ``value`` that is not plain data."""
    if isinstance(value, (Mapping, list, tuple)) and type(value) not in _PLAIN_SCALARS:
        if id(value) in _inside:
            return f"a {type(value).__name__} that contains itself"
        parts = value.items() if isinstance(value, Mapping) else enumerate(value)
        for index, item in parts:
            if plain_copy(item) is _NOT_PLAIN:
                inner = _what_is_not_plain(item, (*_inside, id(value)))
                return f"a {type(value).__name__} whose [{index!r}] is {inner}"
    return f"a {type(value).__name__}"


def checkpoint_entries(hparams: dict[str, Any], key: str) -> dict[str, Any]:
    """``{key: stored hparams}`` plus ``{key + "_encoding": ...}`` when some value is not plain data.

    Classes and functions are stored by import path, Namespaces and dataclasses of plain fields as
    dicts, anything else (an ``nn.Module``, whose weights are in the state dict) is left out. Never
    raises: a checkpoint save in the middle of training must not fail on a hyperparameter.
    """
    stored: dict[str, Any] = {}
    encoding: dict[str, str] = {}
    for name, value in hparams.items():
        value, how = encode(name, value)
        if how is not None:
            encoding[name] = how
        if how != OMITTED:
            stored[name] = value
    return {key: stored, f"{key}_encoding": encoding} if encoding else {key: stored}


def resolve_import(path: str) -> Any:
    """The class or Python function at ``"package.module.Name"``, in a module that is already imported.

    A checkpoint names the path, so nothing is imported here (importing runs a module's code) and
    only classes and functions written in Python are returned (never ``eval`` or another builtin):
    a checkpoint still cannot run code. ``ImportError`` says what to import first.
    """
    parts = path.split(".")
    for split in range(len(parts) - 1, 0, -1):
        obj = sys.modules.get(".".join(parts[:split]))
        if obj is None:
            continue
        for attr in parts[split:]:
            obj = getattr(obj, attr)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)) or getattr(obj, "__module__", None) == "builtins":
            raise ImportError(f"{path!r} is not a class or a Python function")
        return obj
    raise ImportError(f"{path!r} is in a module that is not imported (a checkpoint never imports one)")


def decode(checkpoint: dict[str, Any], key: str, overrides: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The saved hyperparameters as ``__init__`` takes them, and the names left out that ``overrides`` lacks."""
    hparams = dict(checkpoint.get(key) or {})
    missing = []
    for name, how in (checkpoint.get(f"{key}_encoding") or {}).items():
        if name in overrides:
            continue
        if how == OMITTED:
            missing.append(name)
        elif how == NAMESPACE:
            hparams[name] = Namespace(**hparams[name])
        else:
            hparams[name] = _rebuild(name, how, hparams[name])
    hparams.update(overrides)
    return hparams, missing


def _rebuild(name: str, how: str, stored: Any) -> Any:
    path = stored if how == IMPORT else how[len(DATACLASS):]
    try:
        obj = resolve_import(path)
    except (ImportError, AttributeError) as exc:
        raise CheckpointError(
            f"The hyperparameter {name!r} was saved as a reference to {path!r}, which is not available here "
            f"({exc}). Import the module that defines it before loading, or pass the value: "
            f"load_from_checkpoint(path, {name}=...)."
        ) from exc
    if how == IMPORT:
        return obj
    return obj(**stored) if dataclasses.is_dataclass(obj) else stored
