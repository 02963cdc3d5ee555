"""The types LightningCLI's arguments are parsed as, and Lightning's aliases for CLI authors.

``OptimizerCallable`` / ``LRSchedulerCallable`` are for a model's ``__init__`` that takes an
optimizer to build later (``optimizer: OptimizerCallable = torch.optim.Adam``): jsonargparse
then accepts ``--model.optimizer Adam --model.optimizer.lr 0.01`` and passes a callable.

``TRAINER_TYPES``: lit's ``Trainer`` annotates ``logger``, ``callbacks`` and ``plugins`` as
``Any`` (it accepts names, classes and instances of many kinds), which jsonargparse cannot parse
into objects. The CLI parses those three flags as these unions instead: a plugin name (``csv``,
``wandb``, ``lr_monitor``), a class name or path with ``init_args``, or a list of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from jsonargparse import Namespace
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from lit_core.plugin_api import Accelerator, Callback, ClusterEnvironment, Logger, Precision, Strategy


class ReduceLROnPlateau(torch.optim.lr_scheduler.ReduceLROnPlateau):
    """torch's ``ReduceLROnPlateau`` with the metric it watches: ``--lr_scheduler.monitor val_loss``.

    The CLI's automatic ``configure_optimizers`` returns it with ``"monitor": self.monitor``;
    torch's own class has no such attribute, so the CLI offers this one (as Lightning does).
    """

    def __init__(self, optimizer: Optimizer, monitor: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(optimizer, *args, **kwargs)
        self.monitor = monitor


#: The scheduler classes ``--lr_scheduler`` accepts subclasses of.
LRSchedulerTypeTuple = (LRScheduler, ReduceLROnPlateau)
LRSchedulerTypeUnion = LRScheduler | ReduceLROnPlateau
LRSchedulerType = type[LRScheduler] | type[ReduceLROnPlateau]

#: What ``LightningCLI(args=...)`` takes: command-line strings, or a config as a dict / Namespace.
ArgsType = list[str] | dict[str, Any] | Namespace | None
#: A model argument that builds its optimizer from the parameters: ``optimizer(self.parameters())``.
OptimizerCallable = Callable[[Iterable], Optimizer]
#: A model argument that builds its scheduler from the optimizer: ``lr_scheduler(optimizer)``.
LRSchedulerCallable = Callable[[Optimizer], LRScheduler | ReduceLROnPlateau]

#: Trainer flag -> the type the CLI parses it as (bool before str: ``--trainer.logger false`` is ``False``).
TRAINER_TYPES: dict[str, Any] = {
    "logger": bool | Logger | list[Logger | str] | str | None,
    "callbacks": list[Callback | str] | Callback | str | None,
    "plugins": list[Accelerator | Strategy | Precision | Logger | Callback | ClusterEnvironment | str]
    | Accelerator | Strategy | Precision | Logger | Callback | ClusterEnvironment | str | None,
}


def instantiate_class(args: Any, init: dict[str, Any]) -> Any:
    """Build ``init["class_path"](*args, **init["init_args"])``; ``args`` a tuple or one positional argument.

    >>> import torch
    >>> opt = instantiate_class([torch.nn.Parameter(torch.zeros(1))],
    ...                         {"class_path": "torch.optim.SGD", "init_args": {"lr": 0.1}})
    >>> type(opt).__name__, opt.defaults["lr"]
    ('SGD', 0.1)
    """
    import importlib

    positional = args if isinstance(args, tuple) else (args,)
    module_name, _, class_name = init["class_path"].rpartition(".")
    if not module_name:
        raise ValueError(f"instantiate_class: class_path {init['class_path']!r} is not a dotted import path "
                         "(module.ClassName); give the full path, e.g. 'torch.optim.Adam'.")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(*positional, **(init.get("init_args") or {}))
