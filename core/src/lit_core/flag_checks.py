"""Every ``Trainer`` flag checked when the Trainer is built, with Lightning 2.6's exception types.

``check_trainer_flags`` runs first thing in ``Trainer.__init__``, before any plugin is loaded:
one rule per flag in ``RULES`` (a flag without a rule is a ``KeyError`` there, and
``tests/reliability/test_trainer_guards.py`` asks for a bad-value row per flag). Each error is a
``MisconfigurationException`` that names the flag, the value and what is allowed; where
Lightning raises ``TypeError`` or ``ValueError`` for the same mistake (its connectors and loops:
``_determine_batch_limits``, ``_DataConnector.on_trainer_init``, ``_FitLoop``,
``_parse_cpu_cores``...) it is also that type, so users' ``except`` clauses keep working.
What depends on the installed plugins (an unknown ``precision`` name, the devices an accelerator
has, a strategy's process count) is checked when the plugin is chosen.
"""

from __future__ import annotations

import inspect
import numbers
import os
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any

from .accelerators.accelerator import Accelerator
from .callback import Callback
from .exceptions import MisconfigurationException, MisconfigurationTypeError, MisconfigurationValueError
from .logger import Logger
from .plugins.precision.precision import Precision
from .profiling import check_flag as _profiler
from .strategies.strategy import Strategy


def _is_int(value: Any) -> bool:
    """An integer that is not a bool (numpy integers too: they come from configs)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _a(noun: str) -> str:
    return f"{'an' if noun[0] in 'AEIOU' else 'a'} {noun}"


def _names_plugin(value: Any, base: type) -> bool:
    """A plugin name, a ``base`` subclass or an instance of one (which names are installed is checked later)."""
    return isinstance(value, (str, base)) or (inspect.isclass(value) and issubclass(value, base))


def _int_at_least(low: int, meaning: str = "", optional: bool = False) -> Callable[[str, Any], None]:
    """A rule: an int >= ``low`` (``None`` too when ``optional``); a wrong type is also a ``TypeError``."""
    allowed = f"an int >= {low}{f' ({meaning})' if meaning else ''}{', or None' if optional else ''}"

    def rule(name: str, value: Any) -> None:
        if value is None and optional:
            return
        if not _is_int(value):
            raise MisconfigurationTypeError(f"{name}={value!r} must be {allowed}.")
        if value < low:
            raise MisconfigurationException(f"{name}={value!r} must be {allowed}.")

    return rule


def _flag(optional: bool) -> Callable[[str, Any], None]:
    """A rule: ``True`` or ``False`` (``None`` too when ``optional``: "decide for me")."""
    allowed = "True, False or None" if optional else "True or False"

    def rule(name: str, value: Any) -> None:
        # 0 and 1 pass: Lightning does not check these flags, and configs written for it use them.
        if not (isinstance(value, bool) or (_is_int(value) and value in (0, 1)) or (optional and value is None)):
            raise MisconfigurationTypeError(f"{name}={value!r} must be {allowed}.")

    return rule


def check_batch_limit(name: str, value: Any) -> None:
    """``limit_*_batches``, ``overfit_batches``, ``val_check_interval``: a fraction in [0, 1] or an int >= 0.

    (Lightning also takes a whole float above 1, ``2.0``, as an int; lit asks for the int.)
    """
    if value is None or isinstance(value, bool):
        return
    if (_is_int(value) and value >= 0) or (isinstance(value, float) and 0.0 <= value <= 1.0):
        return
    raise MisconfigurationException(
        f"{name}={value!r}: use an int (number of batches) or a float between 0.0 and 1.0 (a fraction)."
    )


def _plugin_choice(base: type, example: str) -> Callable[[str, Any], None]:
    """A rule for ``accelerator=`` / ``strategy=``: a name, a ``base`` subclass or an instance of one (or ``None``)."""

    def rule(name: str, value: Any) -> None:
        if value is None or _names_plugin(value, base):
            return
        raise MisconfigurationTypeError(
            f"{name}={value!r}: give a name such as {example}, {_a(base.__name__)} subclass or an instance of one."
        )

    return rule


def _precision(name: str, value: Any) -> None:
    if _is_int(value) or _names_plugin(value, Precision):
        return
    raise MisconfigurationValueError(
        f"{name}={value!r}: give a name such as '32-true', '16-mixed' or 'bf16-mixed', one of the ints 16, 32 or 64, "
        "or a Precision plugin."
    )


def _one_or_list(base: type, extra: str, bools: bool = False) -> Callable[[str, Any], None]:
    """A rule for ``logger=`` / ``callbacks=``: a name, a ``base`` subclass or instance, or a list of them."""

    def rule(name: str, value: Any) -> None:
        if value is None or (bools and isinstance(value, bool)) or _names_plugin(value, base):
            return
        if isinstance(value, (list, tuple)) and all(_names_plugin(item, base) for item in value):
            return
        raise MisconfigurationTypeError(
            f"{name}={value!r}: give a name, {_a(base.__name__)} subclass or instance, or a list of them{extra}."
        )

    return rule


def _plugins(name: str, value: Any) -> None:
    items = value if isinstance(value, (list, tuple)) else [value]
    bad = [item for item in items if item is None or isinstance(item, (bool, numbers.Number, bytes))]
    if value is not None and bad:
        raise MisconfigurationTypeError(
            f"{name}={value!r}: each item must be a plugin name (a string), a plugin class or a plugin instance; "
            f"{bad[0]!r} is none of these."
        )


def _disable_plugins(name: str, value: Any) -> None:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable) or not all(isinstance(v, str) for v in value):
        raise MisconfigurationTypeError(f"{name}={value!r}: give a list of plugin names, e.g. disable_plugins=['tqdm'].")


def _fast_dev_run(name: str, value: Any) -> None:
    if isinstance(value, bool) or (_is_int(value) and value >= 0):
        return
    raise MisconfigurationException(f"{name}={value!r} must be a bool or an int >= 0 (the number of batches of each loop).")


def parse_max_time(max_time: Any) -> float | None:
    """``max_time`` as seconds: ``"DD:HH:MM:SS"``, a ``timedelta``, a dict of timedelta args."""
    if max_time is None:
        return None
    if isinstance(max_time, timedelta):
        return max_time.total_seconds()
    if isinstance(max_time, dict):
        try:
            return timedelta(**max_time).total_seconds()
        except (TypeError, ValueError, OverflowError):
            pass
    elif isinstance(max_time, str) and re.fullmatch(r"\d+:\d+:\d+:\d+", max_time):
        days, hours, minutes, seconds = map(int, max_time.split(":"))
        return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds).total_seconds()
    raise MisconfigurationException(
        f"max_time={max_time!r}: use 'DD:HH:MM:SS', a datetime.timedelta, or a dict of timedelta arguments "
        "like {'hours': 2}."
    )


def _devices(name: str, value: Any) -> None:
    """``devices`` / ``gpus``: ``"auto"``, -1 (all), n > 0, a list of indices or a string of them."""
    if value is None or value == "auto":
        return
    if (_is_int(value) and value == 0) or (isinstance(value, str) and value.strip() == "0") or (isinstance(value, (list, tuple)) and not value):
        # Lightning: MisconfigurationException ("not a valid input"); below -1: its CPU parser's TypeError
        raise MisconfigurationException(f"{name}={value!r} is not valid: it selects no device. Use a positive number, a list of "
                                        "indices, -1 or 'auto'.")
    if (_is_int(value) and value >= -1) or (isinstance(value, str) and re.fullmatch(r"\s*(-1|\d+|\d+(\s*,\s*\d*)+)\s*", value)) \
            or (isinstance(value, (list, tuple)) and all(_is_int(v) and v >= 0 for v in value)):
        return
    raise MisconfigurationTypeError(
        f"{name}={value!r}: give the number of devices (an int > 0), -1 for all of them, a list of device indices "
        "such as [0, 1], a string of them ('0,1'), or 'auto'."
    )


def _gpus(name: str, value: Any) -> None:
    """Lightning 1.x's ``gpus``: as ``devices``, and 0 / ``"0"`` / ``[]`` mean the CPU."""
    if value not in (0, "0", []):
        _devices(name, value)


def _tpu_cores(name: str, value: Any) -> None:
    if value is None or (_is_int(value) and value >= 1) or (isinstance(value, str) and value.strip().isdigit()) \
            or (isinstance(value, (list, tuple)) and all(_is_int(v) and v >= 0 for v in value)):
        return
    raise MisconfigurationException(f"{name}={value!r}: give the number of TPU cores (an int > 0) or a list of core indices.")


def _num_nodes(name: str, value: Any) -> None:
    if not _is_int(value) or value < 1:
        raise MisconfigurationValueError(f"{name}={value!r} must be a positive int (the number of machines).")


def _gradient_clip_val(name: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise MisconfigurationTypeError(f"{name}={value!r} must be an int or a float (>= 0; 0 or None: no clipping).")
    if value < 0:
        raise MisconfigurationException(f"{name}={value!r} must be >= 0 (0 or None: no clipping).")


def _one_of(*allowed: Any) -> Callable[[str, Any], None]:
    """A rule: one of ``allowed`` (``None``, bools and strings; a ``str`` enum member equal to one too)."""
    named = [repr(a) for a in allowed if a is not None]
    words = f"{', '.join(named[:-1])} or {named[-1]}" + (" (or None)" if None in allowed else "")

    def rule(name: str, value: Any) -> None:
        if not any(value is a or (isinstance(a, str) and isinstance(value, str) and value == a) for a in allowed):
            raise MisconfigurationException(f"{name}={value!r}: use {words}.")

    return rule


def _path(name: str, value: Any) -> None:
    if value is not None and not isinstance(value, (str, os.PathLike)):
        raise MisconfigurationTypeError(f"{name}={value!r} must be a path (a str or an os.PathLike) or None.")


def _legacy_kwargs(name: str, value: Any) -> None:
    """Keywords that are not flags: checked by the Lightning 1.x translation (``lit_core.lightning_1x``)."""


#: flag -> its rule, ``rule(flag, value)`` raising when the value is not allowed. One per ``Trainer.__init__`` parameter.
RULES: dict[str, Callable[[str, Any], None]] = {
    "accelerator": _plugin_choice(Accelerator, "'cpu', 'cuda' or 'auto'"),
    "strategy": _plugin_choice(Strategy, "'auto', 'ddp' or 'single_device'"),
    "devices": _devices,
    "num_nodes": _num_nodes,
    "precision": _precision,
    "logger": _one_or_list(Logger, ", True (the default logger) or False (none)", bools=True),
    "callbacks": _one_or_list(Callback, ""),
    "plugins": _plugins,
    "disable_plugins": _disable_plugins,
    "fast_dev_run": _fast_dev_run,
    "max_epochs": _int_at_least(-1, "-1: no limit", optional=True),
    "min_epochs": _int_at_least(0, optional=True),
    "max_steps": _int_at_least(-1, "-1: no limit", optional=True),
    "min_steps": _int_at_least(0, optional=True),
    "max_time": lambda name, value: parse_max_time(value),
    "limit_train_batches": check_batch_limit,
    "limit_val_batches": check_batch_limit,
    "limit_test_batches": check_batch_limit,
    "limit_predict_batches": check_batch_limit,
    "overfit_batches": check_batch_limit,
    "val_check_interval": check_batch_limit,
    "check_val_every_n_epoch": _int_at_least(1, "None: count validation batches across epochs", optional=True),
    "num_sanity_val_steps": _int_at_least(-1, "-1: all batches", optional=True),
    "log_every_n_steps": _int_at_least(0, "0: only at epoch ends", optional=True),
    "enable_checkpointing": _flag(optional=True),
    "enable_progress_bar": _flag(optional=True),
    "enable_model_summary": _flag(optional=True),
    "accumulate_grad_batches": _int_at_least(1),
    "gradient_clip_val": _gradient_clip_val,
    "gradient_clip_algorithm": _one_of(None, "norm", "value"),
    "deterministic": _one_of(None, True, False, "warn"),
    "benchmark": _flag(optional=True),
    "inference_mode": _flag(optional=False),
    "use_distributed_sampler": _flag(optional=False),
    "profiler": _profiler,
    "detect_anomaly": _flag(optional=False),
    "barebones": _flag(optional=False),
    "sync_batchnorm": _flag(optional=False),
    "reload_dataloaders_every_n_epochs": _int_at_least(0),
    "default_root_dir": _path,
    "prepare_data_per_node": _flag(optional=True),
    "gpus": _gpus,
    "tpu_cores": _tpu_cores,
    "legacy_kwargs": _legacy_kwargs,
}


def check_trainer_flags(flags: Mapping[str, Any]) -> None:
    """Check every ``Trainer.__init__`` argument in ``flags`` (its ``locals()``), then the combinations."""
    for name, value in flags.items():
        if name != "self":
            RULES[name](name, value)
    if flags.get("check_val_every_n_epoch", 1) is None and isinstance(flags.get("val_check_interval"), float):
        raise MisconfigurationException(
            f"val_check_interval={flags['val_check_interval']!r} is a fraction of an epoch, but check_val_every_n_epoch=None "
            "counts batches across epochs: give val_check_interval as an int number of batches."
        )


def check_strategy_devices(strategy: Any, num_devices: int, num_nodes: int) -> None:
    """A strategy that runs one process cannot use more devices than one process drives.

    ``Strategy.multi_process`` and ``Strategy.devices_per_process`` are the strategy's own
    declaration. Without this check ``Trainer(strategy="single_device", devices=2)``, or a
    third party's one-process strategy, trained in one process while ``trainer.world_size`` said 2.
    """
    per_process = getattr(strategy, "devices_per_process", 1)
    wanted = num_devices * num_nodes
    if getattr(strategy, "multi_process", False) or per_process is None or wanted <= per_process:
        return
    name = getattr(strategy, "name", None) or type(strategy).__name__
    runs = "on one device" if per_process == 1 else f"on at most {per_process} devices"
    raise MisconfigurationException(
        f"strategy={name!r} ({type(strategy).__name__}) runs one process {runs}, but devices={num_devices}, "
        f"num_nodes={num_nodes} asks for {wanted}: use devices=1 and num_nodes=1, or a multi-process strategy such "
        "as strategy='ddp'. (A strategy of your own that starts a process per device sets multi_process = True; "
        "one that drives several devices from one process sets devices_per_process.)"
    )
