"""``LambdaCallback``: a callback made of functions given as keyword arguments."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import lit_core as lit

#: Every Lightning callback hook (the ``on_*`` methods, ``setup`` and ``teardown``).
HOOK_NAMES = tuple(
    name for name, member in vars(lit.Callback).items()
    if inspect.isfunction(member) and (name.startswith("on_") or name in ("setup", "teardown"))
)


class LambdaCallback(lit.Callback):
    """Lightning's ``LambdaCallback``: ``LambdaCallback(on_train_epoch_end=fn, ...)``.

    Each keyword names a hook; its function receives what the hook receives (``trainer,
    pl_module, ...``). Only the hooks given are ever called: the others cost nothing.

    >>> seen = []
    >>> cb = LambdaCallback(on_fit_start=lambda trainer, pl_module: seen.append("fit"))
    >>> cb.on_fit_start(None, None); seen
    ['fit']
    """

    def __init__(self, **hooks: Callable[..., Any]) -> None:
        unknown = sorted(set(hooks) - set(HOOK_NAMES))
        if unknown:
            raise TypeError(
                f"LambdaCallback got unknown hook(s) {unknown}: the hooks are the Callback methods "
                f"{', '.join(HOOK_NAMES)}."
            )
        for name, fn in hooks.items():
            if fn is None:  # Lightning's signature has every hook default to None
                continue
            if not callable(fn):
                raise TypeError(f"LambdaCallback({name}=...) must be a function, got {type(fn).__name__}.")
            # An instance attribute: the adapter makes it a hook (the class's no-ops stay uncalled).
            setattr(self, name, fn)
