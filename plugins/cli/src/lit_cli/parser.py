"""``LightningArgumentParser``: jsonargparse's parser with Lightning's class, optimizer and scheduler groups."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from typing import Any, NoReturn

from jsonargparse import ArgumentParser, class_from_function
from torch.optim import Optimizer

from lit_core.plugin_api import Callback, LightningDataModule, LightningModule, MisconfigurationException, Trainer

from . import config_errors
from .arguments import TRAINER_TYPES, LRSchedulerTypeTuple


class LightningArgumentParser(ArgumentParser):
    """jsonargparse's ``ArgumentParser`` for lit: the groups LightningCLI builds its parsers from.

    Environment variables are read when ``default_env=True`` (``PL_FIT__TRAINER__MAX_EPOCHS=3``, as
    Lightning names them). An error names the flag and the expected type, and when the value came
    from a ``--config`` file, that file and line.
    """

    def __init__(self, *args: Any, description: str = "lit (Lightning) Trainer command line tool", env_prefix: str = "PL",
                 default_env: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, description=description, env_prefix=env_prefix, default_env=default_env, **kwargs)
        #: Keys of the argument groups that hold a Callback (added to the trainer's callbacks).
        self.callback_keys: list[str] = []
        # key -> (class or tuple of classes, link_to): the optimizer and scheduler groups added.
        self._optimizers: dict[str, tuple[type | tuple[type, ...], str]] = {}
        self._lr_schedulers: dict[str, tuple[type | tuple[type, ...], str]] = {}
        #: The command line the parser read last (for config_errors: which --config files, in order).
        self.parsed_args: list[str] = []

    def add_lightning_class_args(self, lightning_class: Callable[..., Any] | type, nested_key: str,
                                 subclass_mode: bool = False, required: bool = True) -> list[str]:
        """Add the ``__init__`` arguments of a Trainer, LightningModule, LightningDataModule or Callback under ``nested_key``.

        ``subclass_mode=True``: any subclass, chosen with ``--<nested_key> ClassName`` (or ``class_path``
        in a config). A function returning one of those classes works too. Returns the keys added.
        """
        if callable(lightning_class) and not isinstance(lightning_class, type):
            lightning_class = class_from_function(lightning_class)
        if not (isinstance(lightning_class, type)
                and issubclass(lightning_class, (Trainer, LightningModule, LightningDataModule, Callback))):
            raise MisconfigurationException(
                f"Cannot add arguments from {lightning_class!r}: give a callable, or a subclass of Trainer, "
                "LightningModule, LightningDataModule or Callback.")
        if issubclass(lightning_class, Callback):
            self.callback_keys.append(nested_key)
        if subclass_mode:
            return self.add_subclass_arguments(lightning_class, nested_key, fail_untyped=False, required=required)
        if issubclass(lightning_class, Trainer):
            return self._add_trainer_args(lightning_class, nested_key)
        return self.add_class_arguments(lightning_class, nested_key, fail_untyped=False, instantiate=True, sub_configs=True)

    def _add_trainer_args(self, trainer_class: type, nested_key: str) -> list[str]:
        """The Trainer's flags; those it types ``Any`` that take plugins are parsed as ``TRAINER_TYPES``."""
        params = inspect.signature(trainer_class.__init__).parameters
        retyped = {name: hint for name, hint in TRAINER_TYPES.items() if name in params}
        added = self.add_class_arguments(trainer_class, nested_key, fail_untyped=False, instantiate=False, sub_configs=True,
                                         skip=set(retyped))
        for name, hint in retyped.items():
            default = params[name].default
            self.add_argument(f"--{nested_key}.{name}", type=hint, default=None if default is inspect.Parameter.empty else default,
                              help=f"Trainer({name}=...): a plugin name, a class name or path (with init_args), or a list of them.")
            added.append(f"{nested_key}.{name}")
        return added

    def add_optimizer_args(self, optimizer_class: type[Optimizer] | tuple[type[Optimizer], ...] = (Optimizer,),
                           nested_key: str = "optimizer", link_to: str = "AUTOMATIC") -> None:
        """Add an optimizer group: ``--optimizer Adam --optimizer.lr 0.01`` (a tuple allows subclasses).

        ``link_to``: the key of a model argument to pass it to, or ``"AUTOMATIC"``: LightningCLI
        then gives the model a ``configure_optimizers`` returning it.
        """
        self._add_optim_group(optimizer_class, Optimizer, nested_key, "params")
        self._optimizers[nested_key] = (optimizer_class, link_to)

    def add_lr_scheduler_args(self, lr_scheduler_class: type | tuple[type, ...] = LRSchedulerTypeTuple,
                              nested_key: str = "lr_scheduler", link_to: str = "AUTOMATIC") -> None:
        """Add a learning-rate scheduler group: ``--lr_scheduler StepLR --lr_scheduler.step_size 1``."""
        self._add_optim_group(lr_scheduler_class, LRSchedulerTypeTuple, nested_key, "optimizer")
        self._lr_schedulers[nested_key] = (lr_scheduler_class, link_to)

    def _add_optim_group(self, cls: type | tuple[type, ...], base: type | tuple[type, ...], key: str, skip: str) -> None:
        classes = cls if isinstance(cls, tuple) else (cls,)
        wrong = [c for c in classes if not (isinstance(c, type) and issubclass(c, base))]
        if wrong:
            raise MisconfigurationException(f"--{key} takes subclasses of {base}; got {wrong}.")
        kwargs: dict[str, Any] = {"instantiate": False, "fail_untyped": False, "skip": {skip}}
        if isinstance(cls, tuple):
            self.add_subclass_arguments(cls, key, **kwargs)
        else:
            self.add_class_arguments(cls, key, sub_configs=True, **kwargs)

    def parse_args(self, args: Any = None, *posargs: Any, **kwargs: Any) -> Any:
        """jsonargparse's ``parse_args``, remembering the command line for error messages."""
        self.parsed_args = list(sys.argv[1:] if args is None else args)
        return super().parse_args(args, *posargs, **kwargs)

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        """jsonargparse's error, with the config file and line the offending key came from."""
        root = self._root()
        super().error(config_errors.explain(message, root.parsed_args, root._option_strings()), ex)

    def _option_strings(self) -> list[str]:
        """Every ``--flag`` of this parser and of its subcommands' parsers."""
        found = [s for a in self._actions for s in a.option_strings if s.startswith("--") and not s.endswith("+")]
        for action in self._actions:
            for sub in getattr(action, "_name_parser_map", {}).values():
                if isinstance(sub, LightningArgumentParser):
                    found += sub._option_strings()
        return found

    def _root(self) -> LightningArgumentParser:
        parent = getattr(self, "parent_parser", None)
        return parent._root() if isinstance(parent, LightningArgumentParser) else self
