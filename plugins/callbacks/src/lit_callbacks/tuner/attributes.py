"""Where a tuned value lives: on the module, in its ``hparams``, on the datamodule or in its ``hparams``.

Lightning's ``lightning_hasattr`` / ``lightning_getattr`` / ``lightning_setattr``: the finders
read the value from the first place that has it (the datamodule wins, then the module's
``hparams``... as Lightning reads the last holder found) and write it to every place.
"""

from __future__ import annotations

from typing import Any

import lit_core as lit


def _holds(holder: Any, attribute: str) -> bool:
    if isinstance(holder, dict):
        return attribute in holder
    return hasattr(holder, attribute)


def attr_holders(model: lit.LightningModule, attribute: str) -> list[Any]:
    """Every object holding ``attribute``: module, module hparams, datamodule, datamodule hparams."""
    candidates: list[Any] = [model, getattr(model, "hparams", None)]
    trainer = model.__dict__.get("_trainer")
    datamodule = getattr(trainer, "datamodule", None)
    if datamodule is not None:
        candidates += [datamodule, getattr(datamodule, "hparams", None)]
    holders = []
    for holder in candidates:
        if holder is None:
            continue
        if holder is model or holder is datamodule:
            if not hasattr(holder, attribute):
                continue
        elif attribute not in holder:
            continue
        holders.append(holder)
    return holders


def lightning_hasattr(model: lit.LightningModule, attribute: str) -> bool:
    """Whether the module, its hparams, the datamodule or its hparams has ``attribute``."""
    return bool(attr_holders(model, attribute))


def lightning_getattr(model: lit.LightningModule, attribute: str) -> Any:
    """The value of ``attribute`` (the datamodule's first, then hparams', then the module's)."""
    holders = attr_holders(model, attribute)
    if not holders:
        raise AttributeError(
            f"{attribute} is neither stored in the model namespace nor the `hparams` namespace/dict, nor the datamodule."
        )
    holder = holders[-1]
    return holder[attribute] if isinstance(holder, dict) else getattr(holder, attribute)


def lightning_setattr(model: lit.LightningModule, attribute: str, value: Any) -> None:
    """Set ``attribute`` to ``value`` everywhere it is held."""
    holders = attr_holders(model, attribute)
    if not holders:
        raise AttributeError(
            f"{attribute} is neither stored in the model namespace nor the `hparams` namespace/dict, nor the datamodule."
        )
    for holder in holders:
        if isinstance(holder, dict):
            holder[attribute] = value
        else:
            setattr(holder, attribute, value)
