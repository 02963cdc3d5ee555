"""Lightning 1.x's argparse helpers: ``Trainer`` / ``LightningDataModule`` arguments from ``__init__``.

Lightning's path ``lit_core.utilities.argparse`` resolves here (the ``lit_core.utilities.argparse``
entry-point group), and so do ``Trainer.add_argparse_args`` and the other classmethods: lit-core
looks them up in the distribution that fills the ``lightning_1x_flags`` role.

``Trainer.add_argparse_args(parser)`` adds one ``--name`` option per ``__init__`` argument whose
type is a ``str``, ``int``, ``float`` or ``bool`` (or a union of them), with its default;
``Trainer.from_argparse_args(args, **overrides)`` builds the object from the parsed namespace,
taking only the names ``__init__`` accepts (the rest of the namespace, e.g. the model's own
options, is ignored). Lightning 2.x replaced them with ``LightningCLI``; they warn once each.
"""

from __future__ import annotations

import inspect
import typing
from argparse import SUPPRESS, ArgumentParser, Namespace, _ArgumentGroup
from typing import Any

import lit_core as lit
from lit_core.plugin_api import rank_zero_deprecation

_ALLOWED = (str, int, float, bool)

#: Lightning 1.9 ``Trainer`` flags that lit's ``Trainer`` takes through its 1.x translation
#: (``lit_compat.trainer_flags``): offered on the command line, passed on only when given.
LEGACY_TRAINER_OPTIONS: dict[str, tuple[type, ...]] = {
    "resume_from_checkpoint": (str,),
    "track_grad_norm": (int, float, str),
    "amp_backend": (str,),
    "amp_level": (str,),
    "auto_select_gpus": (bool,),
    "replace_sampler_ddp": (bool,),
    "move_metrics_to_cpu": (bool,),
    "multiple_trainloader_mode": (str,),
    "ipus": (int,),
    "num_processes": (int,),
}

def _deprecated(what: str, instead: str) -> None:
    rank_zero_deprecation(f"{what} is deprecated since Lightning 1.9 (removed in 2.0): {instead}.")


def str_to_bool(value: str) -> bool:
    """``"yes"/"true"/"t"/"y"/"1"`` -> ``True``, ``"no"/"false"/"f"/"n"/"0"`` -> ``False``, else ``ValueError``."""
    lowered = value.lower()
    if lowered in ("y", "yes", "t", "true", "on", "1"):
        return True
    if lowered in ("n", "no", "f", "false", "off", "0"):
        return False
    raise ValueError(f"invalid truth value {value!r}")


def str_to_bool_or_str(value: str) -> bool | str:
    """A truth value when ``value`` reads as one, else the string."""
    try:
        return str_to_bool(value)
    except ValueError:
        return value


def str_to_bool_or_int(value: str) -> bool | int | str:
    """A truth value, else an int, else the string (``--fast_dev_run 3``)."""
    result = str_to_bool_or_str(value)
    if isinstance(result, bool):
        return result
    try:
        return int(result)
    except ValueError:
        return result


def _int_or_float(value: str) -> int | float:
    """``"2"`` -> 2 batches, ``"0.25"`` -> a fraction (``--limit_train_batches``)."""
    return float(value) if "." in value or "e" in value.lower() else int(value)


def _devices(value: str) -> int | str:
    """``--gpus 2`` -> 2 devices; ``--gpus 0,1`` / ``auto`` stay strings (device lists and keywords)."""
    return int(value) if value.strip().lstrip("-").isdigit() else value


def _precision(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def _types_of(annotation: Any) -> tuple[type, ...]:
    """The plain types in an annotation (``int | str | None`` -> ``(int, str, NoneType)``)."""
    args = typing.get_args(annotation)
    if not args:
        return (annotation,) if isinstance(annotation, type) else ()
    found: list[type] = []
    for arg in args:
        found.extend(t for t in _types_of(arg) if t not in found)
    return tuple(found)


def get_init_arguments_and_types(cls: Any) -> list[tuple[str, tuple[type, ...], Any]]:
    """``(name, types, default)`` for each argument of ``cls.__init__`` (``*args`` / ``**kwargs`` left out)."""
    init = cls.__init__
    try:
        hints = typing.get_type_hints(init)
    except Exception:  # an annotation that does not evaluate here: fall back to the unevaluated ones
        hints = {}
    result = []
    for name, param in inspect.signature(init).parameters.items():
        if name == "self" or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        annotation = hints.get(name, param.annotation)
        types = _types_of(annotation)
        if not types and param.default not in (inspect.Parameter.empty, None):
            types = (type(param.default),)  # an unannotated argument: typed by its default
        result.append((name, types, param.default))
    return result


def _option_type(name: str, types: tuple[type, ...]) -> tuple[Any, dict[str, Any]]:
    allowed = tuple(t for t in _ALLOWED if t in types)
    extra: dict[str, Any] = {}
    if bool in allowed:
        extra = {"nargs": "?", "const": True}  # ``--flag`` alone means True
        use: Any = (str_to_bool if len(allowed) == 1 else str_to_bool_or_int if int in allowed
                    else str_to_bool_or_str if str in allowed else allowed[0])
    else:
        use = allowed[0]
    if name in ("gpus", "tpu_cores", "devices"):
        use = _devices
    elif set(allowed) == {int, float}:
        use = _int_or_float
    elif name == "precision":
        use = _precision
    elif name == "track_grad_norm":
        use = _track_grad_norm
    return use, extra


def _track_grad_norm(value: str) -> float | str:
    return value if value == "inf" else float(value)


def add_argparse_args(cls: Any, parent_parser: ArgumentParser, *, use_argument_group: bool = True) -> ArgumentParser:
    """Add an option per ``cls.__init__`` argument to ``parent_parser`` (a group named after ``cls``).

    Returns ``parent_parser`` (with the group), or, with ``use_argument_group=False``, a new parser
    whose parent is ``parent_parser``.
    """
    _deprecated(f"{cls.__name__}.add_argparse_args", "describe the options with LightningCLI, or add them to your parser yourself")
    if isinstance(parent_parser, _ArgumentGroup):
        raise RuntimeError(f"{cls.__name__}.add_argparse_args takes an ArgumentParser, not an argument group.")
    if use_argument_group:
        parser: Any = parent_parser.add_argument_group(cls.__name__)
    else:
        parser = ArgumentParser(parents=[parent_parser], add_help=False)
    for name, types, default in get_init_arguments_and_types(cls):
        if not any(t in types for t in _ALLOWED):
            continue  # objects (loggers, callbacks, plugins) cannot come from the command line
        use, extra = _option_type(name, types)
        required = default is inspect.Parameter.empty
        parser.add_argument(f"--{name}", dest=name, type=use, default=None if required else default,
                            required=required, **extra)
    if _is_trainer(cls):
        for name, types in LEGACY_TRAINER_OPTIONS.items():
            use, extra = _option_type(name, types)
            parser.add_argument(f"--{name}", dest=name, type=use, default=SUPPRESS,
                                help=f"Lightning 1.x flag (deprecated): {name}", **extra)
    return parent_parser if use_argument_group else parser


def _is_trainer(cls: Any) -> bool:
    """``cls`` is the ``Trainer`` or a subclass: its ``__init__`` also takes ``LEGACY_TRAINER_OPTIONS``."""
    return isinstance(cls, type) and issubclass(cls, lit.Trainer)


def parse_argparser(cls: Any, arg_parser: ArgumentParser | Namespace) -> Namespace:
    """Parse the command line (or take a parsed namespace); a boolean option given without a value is ``True``."""
    _deprecated(f"{cls.__name__}.parse_argparser", "use LightningCLI, or argparse directly")
    args = arg_parser.parse_args() if isinstance(arg_parser, ArgumentParser) else arg_parser
    types = {name: (t, default) for name, t, default in get_init_arguments_and_types(cls)}
    parsed = {}
    for name, value in vars(args).items():
        if name in types and value is None:
            arg_types, default = types[name]
            if bool in arg_types and isinstance(default, bool):
                value = True
        parsed[name] = value
    return Namespace(**parsed)


def from_argparse_args(cls: Any, args: Namespace | ArgumentParser | dict[str, Any], **kwargs: Any) -> Any:
    """``cls(**the arguments of args that cls.__init__ accepts, **kwargs)``; other entries are ignored."""
    _deprecated(f"{cls.__name__}.from_argparse_args", f"build {cls.__name__}(...) with keyword arguments, or use LightningCLI")
    if isinstance(args, ArgumentParser):
        args = parse_argparser(cls, args)
    params = dict(args) if isinstance(args, dict) else vars(args)
    accepted = {name for name, _, _ in get_init_arguments_and_types(cls)}
    if _is_trainer(cls):
        accepted |= set(LEGACY_TRAINER_OPTIONS)
    chosen = {name: value for name, value in params.items() if name in accepted}
    chosen.update(kwargs)
    return cls(**chosen)


def default_attributes(cls: Any) -> dict[str, Any]:
    """``{argument: default}`` for ``cls.__init__`` (``inspect.Parameter.empty`` where there is none)."""
    return {name: default for name, _, default in get_init_arguments_and_types(cls)}
