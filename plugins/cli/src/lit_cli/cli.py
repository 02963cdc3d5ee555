"""``LightningCLI``: a Trainer, a model and a datamodule configured from the command line and YAML files.

The order of a run, as in Lightning 2.6: build the parser (``fit`` / ``validate`` / ``test`` /
``predict`` subcommands, each with the trainer's flags, the model's and datamodule's
``__init__`` arguments, ``--optimizer`` / ``--lr_scheduler`` and the method's own arguments),
parse, seed, ``before_instantiate_classes``, instantiate, ``after_instantiate_classes``, then
``before_<subcommand>``, ``trainer.<subcommand>(model, datamodule=...)``, ``after_<subcommand>``.
"""

from __future__ import annotations

import importlib
import os
import sys
from functools import partial, update_wrapper
from types import MethodType
from typing import Any

import torch
from jsonargparse import ActionConfigFile, Namespace, class_from_function, register_unresolvable_import_paths
from torch.optim import Optimizer

import lit_core as lit
from lit_core.plugin_api import (
    Callback,
    LightningDataModule,
    LightningModule,
    MisconfigurationException,
    PluginError,
    Trainer,
    rank_zero_warn,
)

from . import __version__
from .arguments import ArgsType, LRSchedulerTypeTuple, LRSchedulerTypeUnion, ReduceLROnPlateau, instantiate_class
from .parser import LightningArgumentParser
from .save_config import SaveConfigCallback

# torch's classes report a __module__ they cannot be imported from (torch.optim.adam.Adam is fine,
# but e.g. torch._C types are not): jsonargparse must accept torch's paths as they are.
register_unresolvable_import_paths(torch)

#: Lightning namespaces whose classes are imported before parsing, so that a short class name
#: (``--trainer.callbacks+=EarlyStopping``, ``--trainer.logger CSVLogger``) resolves: jsonargparse
#: finds subclasses among imported classes only, and lit's namespaces import their providers lazily.
NAMED_CLASS_NAMESPACES = ("lit_core.callbacks", "lit_core.loggers")


class LightningCLI:
    """Lightning's ``LightningCLI`` for lit: ``python train.py fit --config config.yaml --trainer.max_epochs 3``.

    Args:
        model_class: the LightningModule class (or a function returning one); ``None``: any,
            chosen with ``--model ClassName`` / ``model.class_path`` in a config.
        datamodule_class: the LightningDataModule class (or function); ``None``: any, optional.
        save_config_callback: the callback class that saves the config to the log dir; ``None`` saves nothing.
        save_config_kwargs: its keyword arguments (``{"overwrite": True}``).
        trainer_class: the Trainer class, or a function returning a Trainer.
        trainer_defaults: defaults for the trainer's flags; its ``callbacks`` are always added, not configurable.
        seed_everything_default: the seed; ``True`` picks one at random, ``False`` does not seed.
        parser_kwargs: keyword arguments for every parser; a key named after a subcommand
            (``{"fit": {"default_config_files": [...]}}``) applies to that subcommand's parser only.
        parser_class: the parser class (a ``LightningArgumentParser`` subclass).
        subclass_mode_model: accept any subclass of ``model_class``.
        subclass_mode_data: accept any subclass of ``datamodule_class``.
        args: the arguments to parse instead of ``sys.argv[1:]``: a list of strings, or a config dict / Namespace.
        run: with subcommands, run the one chosen; ``False``: no subcommands, only instantiate the classes.
        auto_configure_optimizers: add ``--optimizer`` / ``--lr_scheduler`` and give the model a
            ``configure_optimizers`` returning them when they are set.
    """

    def __init__(self, model_class: type[LightningModule] | Any = None, datamodule_class: type[LightningDataModule] | Any = None,
                 save_config_callback: type[SaveConfigCallback] | None = SaveConfigCallback,
                 save_config_kwargs: dict[str, Any] | None = None, trainer_class: type[Trainer] | Any = Trainer,
                 trainer_defaults: dict[str, Any] | None = None, seed_everything_default: bool | int = True,
                 parser_kwargs: dict[str, Any] | None = None,
                 parser_class: type[LightningArgumentParser] = LightningArgumentParser, subclass_mode_model: bool = False,
                 subclass_mode_data: bool = False, args: ArgsType = None, run: bool = True,
                 auto_configure_optimizers: bool = True) -> None:
        self.save_config_callback = save_config_callback
        self.save_config_kwargs = save_config_kwargs or {}
        self.trainer_class = trainer_class
        self.trainer_defaults = trainer_defaults or {}
        self.seed_everything_default = seed_everything_default
        self.parser_kwargs = parser_kwargs or {}
        self.parser_class = parser_class
        self.auto_configure_optimizers = auto_configure_optimizers
        self.model_class = model_class
        self._model_class = model_class or LightningModule
        self.subclass_mode_model = model_class is None or subclass_mode_model
        self.datamodule_class = datamodule_class
        self._datamodule_class = datamodule_class or LightningDataModule
        self.subclass_mode_data = datamodule_class is None or subclass_mode_data

        import_named_classes()
        subcommands = self.subcommands()
        main_kwargs = {k: v for k, v in self.parser_kwargs.items() if k not in subcommands}
        subparser_kwargs = {k: v for k, v in self.parser_kwargs.items() if k in subcommands}
        self._leading_subcommand = args[0] if isinstance(args, list) and args else (
            sys.argv[1] if args is None and len(sys.argv) > 1 else None)
        self.setup_parser(run, main_kwargs, subparser_kwargs)
        self.parse_arguments(self.parser, args)
        self._parse_ckpt_path()
        self.subcommand: str | None = self.config["subcommand"] if run else None
        self._set_seed()
        self.before_instantiate_classes()
        self.instantiate_classes()
        self.after_instantiate_classes()
        if self.subcommand is not None:
            self._run_subcommand(self.subcommand)

    # ---- the parser -----------------------------------------------------------------------------
    def init_parser(self, **kwargs: Any) -> LightningArgumentParser:
        """A parser with ``-c/--config`` (which brings ``--print_config``)."""
        kwargs.setdefault("dump_header", [f"lit-cli=={__version__}"])
        parser = self.parser_class(**kwargs)
        parser.add_argument("-c", "--config", action=ActionConfigFile,
                            help="Path to a configuration file in json or yaml format; several are merged in order.")
        return parser

    def setup_parser(self, add_subcommands: bool, main_kwargs: dict[str, Any], subparser_kwargs: dict[str, Any]) -> None:
        """Build ``self.parser``: with a parser per subcommand, or with the arguments directly (``run=False``)."""
        self.parser = self.init_parser(**main_kwargs)
        if add_subcommands:
            self._subcommand_method_arguments: dict[str, list[str]] = {}
            self._add_subcommands(self.parser, **subparser_kwargs)
        else:
            self._add_arguments(self.parser)

    def add_default_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        """``--seed_everything``."""
        parser.add_argument("--seed_everything", type=bool | int, default=self.seed_everything_default,
                            help="An int seeds everything with it before the classes are built; true picks a random "
                                 "seed (saved in the config); false does not seed.")

    def add_core_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        """The trainer's flags (``--trainer.*``), the model's (``--model.*``) and the datamodule's (``--data.*``)."""
        parser.add_lightning_class_args(self.trainer_class, "trainer")
        parser.set_defaults({f"trainer.{k}": v for k, v in self.trainer_defaults.items() if k != "callbacks"})
        parser.add_lightning_class_args(self._model_class, "model", subclass_mode=self.subclass_mode_model)
        parser.add_lightning_class_args(self._datamodule_class, "data", subclass_mode=self.subclass_mode_data,
                                        required=self.datamodule_class is not None)

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        """Override to add arguments or ``parser.link_arguments(source, target)``; called once per subcommand parser."""

    def _add_arguments(self, parser: LightningArgumentParser) -> None:
        self.add_default_arguments_to_parser(parser)
        self.add_core_arguments_to_parser(parser)
        self.add_arguments_to_parser(parser)
        if self.auto_configure_optimizers:
            if not parser._optimizers:  # the user's add_arguments_to_parser may have added its own
                parser.add_optimizer_args((Optimizer,))
            if not parser._lr_schedulers:
                parser.add_lr_scheduler_args(LRSchedulerTypeTuple)
        self.link_optimizers_and_lr_schedulers(parser)

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        """The subcommands (Trainer methods) and their arguments that the CLI fills itself."""
        return {
            "fit": {"model", "train_dataloaders", "val_dataloaders", "datamodule"},
            "validate": {"model", "dataloaders", "datamodule"},
            "test": {"model", "dataloaders", "datamodule"},
            "predict": {"model", "dataloaders", "datamodule"},
        }

    def _add_subcommands(self, parser: LightningArgumentParser, **kwargs: Any) -> None:
        self._subcommand_parsers: dict[str, LightningArgumentParser] = {}
        parser_subcommands = parser.add_subcommands()
        trainer_class = self.trainer_class if isinstance(self.trainer_class, type) else class_from_function(self.trainer_class)
        # `train.py fit ...` can only run fit: the other subcommands' parsers stay empty (each full one
        # introspects the trainer, model, data, optimizers: 0.3 s of `fit --help`'s 0.4 s above
        # `import torch` before this, benchmarks/cli_startup.py). Any other command line builds all.
        chosen = getattr(self, "_leading_subcommand", None)
        chosen = chosen if chosen in self.subcommands() else None
        for subcommand in self.subcommands():
            description = _short_description(getattr(trainer_class, subcommand))
            subparser_kwargs = dict(kwargs.get(subcommand, {}))
            subparser_kwargs.setdefault("description", description)
            if chosen is not None and subcommand != chosen:
                subcommand_parser = self.init_parser(**subparser_kwargs)
            else:
                subcommand_parser = self._prepare_subcommand_parser(trainer_class, subcommand, **subparser_kwargs)
            self._subcommand_parsers[subcommand] = subcommand_parser
            parser_subcommands.add_subcommand(subcommand, subcommand_parser, help=description)

    def _prepare_subcommand_parser(self, klass: type, subcommand: str, **kwargs: Any) -> LightningArgumentParser:
        parser = self.init_parser(**kwargs)
        self._add_arguments(parser)
        skip: set[str | int] = set(self.subcommands()[subcommand])
        self._subcommand_method_arguments[subcommand] = parser.add_method_arguments(klass, subcommand, skip=skip)
        return parser

    @staticmethod
    def link_optimizers_and_lr_schedulers(parser: LightningArgumentParser) -> None:
        """Link each optimizer / scheduler group added with a ``link_to`` key to that key."""
        for key, (class_type, link_to) in {**parser._optimizers, **parser._lr_schedulers}.items():
            if link_to == "AUTOMATIC":
                continue
            if isinstance(class_type, tuple):
                parser.link_arguments(key, link_to)
            else:
                parser.link_arguments(key, link_to, compute_fn=partial(_with_class_path, class_type))

    def parse_arguments(self, parser: LightningArgumentParser, args: ArgsType) -> None:
        """Parse ``args`` (``sys.argv[1:]`` when ``None``) into ``self.config``."""
        if isinstance(args, list) and len(sys.argv) > 1 and args != sys.argv[1:]:
            rank_zero_warn("LightningCLI(args=...) parses args as if they were the command line; the script's own "
                           f"command-line arguments {sys.argv[1:]} are ignored. Give one or the other.")
        if isinstance(args, (dict, Namespace)):
            self.config = parser.parse_object(args)
        else:
            self.config = parser.parse_args(args)

    def adapt_checkpoint_hparams(self, subcommand: str, checkpoint_hparams: dict[str, Any]) -> dict[str, Any]:
        """Override to change the model arguments read from ``--ckpt_path``'s checkpoint before they are parsed.

        E.g. drop the training-only ones when a different model class evaluates the checkpoint.
        """
        return checkpoint_hparams

    def _parse_ckpt_path(self) -> None:
        """With ``--ckpt_path`` an existing file, the model's saved hyperparameters become its config.

        As in Lightning: ``validate --ckpt_path run.ckpt`` builds the model with the arguments it
        was trained with; flags given on the command line do not win over the checkpoint's.
        """
        subcommand = self.config.get("subcommand")
        if not subcommand:
            return
        ckpt_path = self.config[subcommand].get("ckpt_path")
        if not ckpt_path or not os.path.isfile(ckpt_path):
            return
        hparams = dict(torch.load(ckpt_path, weights_only=True, map_location="cpu").get("hyper_parameters") or {})
        hparams.pop("_instantiator", None)
        hparams = self.adapt_checkpoint_hparams(subcommand, hparams)
        if not hparams:
            return
        if "_class_path" in hparams:
            hparams = {"class_path": hparams.pop("_class_path"), "dict_kwargs": hparams}
        elif self.subclass_mode_model and self.config[subcommand].get("model") is not None:
            # A class_path given anew resets its init_args: keep the ones the checkpoint does not set.
            model = self.config[subcommand].model
            given = model.init_args.as_dict() if model.get("init_args") is not None else {}
            hparams = {"class_path": model.class_path, "init_args": {**given, **hparams}}
        try:
            self.config = self.parser.parse_object({subcommand: {"model": hparams}}, self.config)
        except SystemExit:
            sys.stderr.write(f"The model's hyperparameters in {ckpt_path} do not parse as its arguments; "
                             "LightningCLI.adapt_checkpoint_hparams can drop or rename them.\n")
            raise

    # ---- instantiation --------------------------------------------------------------------------
    def before_instantiate_classes(self) -> None:
        """Override to run code after parsing, before the classes are built (``self.config`` is set)."""

    def instantiate_classes(self) -> None:
        """Build ``self.config_init``, ``self.datamodule``, ``self.model`` and ``self.trainer``."""
        self.config_init = self.parser.instantiate(self.config)
        self.datamodule = self._get(self.config_init, "data")
        self.model = self._get(self.config_init, "model")
        self._add_configure_optimizers_method_to_model(self.subcommand)
        self.trainer = self.instantiate_trainer()

    def after_instantiate_classes(self) -> None:
        """Override to run code after the classes are built, before the subcommand runs."""

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        """The Trainer from the parsed flags, ``kwargs`` overriding them; callbacks of callback groups added."""
        extra_callbacks = [self._get(self.config_init, key) for key in self._parser(self.subcommand).callback_keys]
        trainer_config = {**self._get(self.config_init, "trainer", default={}), **kwargs}
        return self._instantiate_trainer(trainer_config, extra_callbacks)

    def _instantiate_trainer(self, config: dict[str, Any], callbacks: list[Callback]) -> Trainer:
        value = config.get("callbacks")
        config["callbacks"] = [] if value is None else list(value) if isinstance(value, list) else [value]
        config["callbacks"].extend(callbacks)
        default = self.trainer_defaults.get("callbacks")
        if default is not None:
            config["callbacks"] += default if isinstance(default, list) else [default]
        if self.save_config_callback and not config.get("fast_dev_run", False):
            config["callbacks"].append(self.save_config_callback(
                self._parser(self.subcommand), self.config.get(str(self.subcommand), self.config), **self.save_config_kwargs))
        return self.trainer_class(**config)

    def _parser(self, subcommand: str | None) -> LightningArgumentParser:
        return self.parser if subcommand is None else self._subcommand_parsers[subcommand]

    @staticmethod
    def configure_optimizers(lightning_module: LightningModule, optimizer: Optimizer,
                             lr_scheduler: LRSchedulerTypeUnion | None = None) -> Any:
        """Override to change what the model's automatic ``configure_optimizers`` returns."""
        if lr_scheduler is None:
            return optimizer
        if isinstance(lr_scheduler, ReduceLROnPlateau):
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": lr_scheduler, "monitor": lr_scheduler.monitor}}
        return [optimizer], [lr_scheduler]

    def _add_configure_optimizers_method_to_model(self, subcommand: str | None) -> None:
        """Give the model a ``configure_optimizers`` returning ``--optimizer`` (and ``--lr_scheduler``) when set."""
        if not self.auto_configure_optimizers:
            return
        parser = self._parser(subcommand)
        optimizers = _automatic(Optimizer, parser._optimizers)
        lr_schedulers = _automatic(LRSchedulerTypeTuple, parser._lr_schedulers)
        if not optimizers:
            return
        if len(optimizers) > 1 or len(lr_schedulers) > 1:
            raise MisconfigurationException(
                f"{type(self).__name__} can configure one optimizer and one lr_scheduler automatically, but "
                f"{optimizers + lr_schedulers} are 'AUTOMATIC'. Add them with link_to=... to the model's arguments "
                "and implement configure_optimizers in the model.")
        optimizer_class = parser._optimizers[optimizers[0]][0]
        optimizer_init = self._get(self.config_init, optimizers[0])
        if not isinstance(optimizer_class, tuple):
            optimizer_init = _with_class_path(optimizer_class, optimizer_init)
        if not optimizer_init:  # the group exists but --optimizer was not given: the model's own method stands
            return
        lr_scheduler_init = None
        if lr_schedulers:
            lr_scheduler_class = parser._lr_schedulers[lr_schedulers[0]][0]
            lr_scheduler_init = self._get(self.config_init, lr_schedulers[0])
            if not isinstance(lr_scheduler_class, tuple):
                lr_scheduler_init = _with_class_path(lr_scheduler_class, lr_scheduler_init)
        if type(self.model).configure_optimizers is not LightningModule.configure_optimizers:
            rank_zero_warn(f"`{type(self.model).__name__}.configure_optimizers` will be overridden by "
                           f"`{type(self).__name__}.configure_optimizers` (--optimizer was given).")
        optimizer = instantiate_class(self.model.parameters(), _plain(optimizer_init))
        lr_scheduler = instantiate_class(optimizer, _plain(lr_scheduler_init)) if lr_scheduler_init else None
        fn = partial(self.configure_optimizers, optimizer=optimizer, lr_scheduler=lr_scheduler)
        update_wrapper(fn, self.configure_optimizers)
        self.model.configure_optimizers = MethodType(fn, self.model)

    def _get(self, config: Any, key: str, default: Any = None) -> Any:
        """``config[key]``, inside the subcommand's part of the config when there is one."""
        return config.get(str(self.subcommand), config).get(key, default)

    # ---- running --------------------------------------------------------------------------------
    def _run_subcommand(self, subcommand: str) -> None:
        before = getattr(self, f"before_{subcommand}", None)
        if callable(before):
            before()
        fn = getattr(self, subcommand, getattr(self.trainer, subcommand))
        fn(**self._prepare_subcommand_kwargs(subcommand))
        after = getattr(self, f"after_{subcommand}", None)
        if callable(after):
            after()

    def _prepare_subcommand_kwargs(self, subcommand: str) -> dict[str, Any]:
        """The method's own parsed arguments (``ckpt_path``, ...) plus the model and datamodule."""
        kwargs = {k: v for k, v in self.config_init[subcommand].items() if k in self._subcommand_method_arguments[subcommand]}
        kwargs["model"] = self.model
        if self.datamodule is not None:
            kwargs["datamodule"] = self.datamodule
        return kwargs

    def _set_seed(self) -> None:
        seed = self._get(self.config, "seed_everything")
        if seed is False:
            return
        seed = lit.seed_everything(None if seed is True else seed, workers=True)
        target = self.config[self.subcommand] if self.subcommand else self.config
        target["seed_everything"] = seed  # the saved config reproduces the run


def import_named_classes() -> None:
    """Import the classes the Lightning namespaces in ``NAMED_CLASS_NAMESPACES`` offer (one that fails is skipped)."""
    for module_name in NAMED_CLASS_NAMESPACES:
        module = importlib.import_module(module_name)
        for name in dir(module):
            if name[:1].isupper():
                try:
                    getattr(module, name)
                except (ImportError, AttributeError, PluginError):  # a broken plugin: naming it shows its error
                    continue


def _automatic(class_type: type | tuple[type, ...], register: dict[str, tuple[Any, str]]) -> list[str]:
    """The keys in ``register`` linked ``AUTOMATIC`` whose class is a ``class_type``."""
    found = []
    for key, (base, link_to) in register.items():
        bases = base if isinstance(base, tuple) else (base,)
        if link_to == "AUTOMATIC" and any(issubclass(c, class_type) for c in bases):
            found.append(key)
    return found


def _with_class_path(class_type: type, init_args: Any = None) -> dict[str, Any]:
    if isinstance(init_args, Namespace):
        init_args = init_args.as_dict()
    return {"class_path": f"{class_type.__module__}.{class_type.__name__}", "init_args": init_args or {}}


def _plain(init: Any) -> dict[str, Any]:
    """A ``{"class_path", "init_args"}`` spec as plain dicts (jsonargparse gives Namespaces)."""
    return init.as_dict() if isinstance(init, Namespace) else dict(init)


def _short_description(component: object) -> str | None:
    """The first paragraph of a docstring, on one line (the subcommand's help)."""
    doc = getattr(component, "__doc__", None)
    return " ".join(doc.strip().split("\n\n")[0].split()) if doc else None
