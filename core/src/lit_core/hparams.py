"""Hyperparameters: ``AttributeDict`` and reading ``__init__`` arguments from a frame."""

from __future__ import annotations

import inspect
from typing import Any


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
    from argparse import Namespace
    from collections.abc import Mapping

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
