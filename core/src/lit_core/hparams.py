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
