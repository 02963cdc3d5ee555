"""Each plugin object once, and each callback state under its own key.

pluggy refuses to register one object twice with a ``ValueError`` that dumps its whole registry;
two stateful callbacks with one ``state_key`` would silently overwrite each other's state in
every checkpoint. Both are caught here, before anything is registered, with errors that say what
to change. Lightning raises ``RuntimeError`` ("Found more than one stateful callback of type
...") for the second; lit raises the same type and keeps those words.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .builtins.adapters import overrides
from .callback import Callback
from .exceptions import MisconfigurationException


def check_each_once(loggers: Iterable[Any], callbacks: Iterable[Any], plugins: Iterable[Any]) -> None:
    """Raise when one object is given twice among the loggers, callbacks and other plugins.

    Loggers and callbacks come from ``logger=`` / ``callbacks=`` and ``plugins=[...]`` alike (callbacks
    also from ``configure_callbacks()``). Then ``check_state_keys(callbacks)``.
    """
    seen: set[int] = set()
    for where, objects in (("logger= / plugins=[...]", loggers), ("callbacks=[...] / plugins=[...] / configure_callbacks()", callbacks),
                           ("plugins=[...]", plugins)):
        for obj in objects:
            if id(obj) in seen:
                name = type(obj).__name__
                raise MisconfigurationException(
                    f"{where} has the same {name} object twice ({obj!r}): a plugin runs once per Trainer. Pass it "
                    f"once, or pass two separate instances ({name}(...), {name}(...)) if you want two."
                )
            seen.add(id(obj))
    check_state_keys(callbacks)


def check_state_keys(callbacks: Iterable[Any]) -> None:
    """Raise ``RuntimeError`` when two callbacks that save state (override ``state_dict``) share a ``state_key``."""
    owners: dict[str, Any] = {}
    for callback in callbacks:
        if not overrides(callback, Callback, "state_dict"):
            continue  # nothing saved: nothing to collide
        key = callback.state_key
        if key in owners:
            name = type(callback).__name__
            raise RuntimeError(
                f"Found more than one stateful callback of type `{name}` with state_key {key!r} (the other is a "
                f"{type(owners[key]).__name__}): checkpoints keep one state per key, so one would overwrite the "
                f"other. Configure them differently (a state_key that includes what differs, such as the monitored "
                f"metric), override `{name}.state_key` to make each unique, or keep one."
            )
        owners[key] = callback
