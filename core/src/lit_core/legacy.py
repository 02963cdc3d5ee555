"""Lightning 1.x ``Trainer`` flags: translated to today's flags, each with a deprecation warning.

``Trainer(**flags)`` sends the keywords it does not declare here (``init_with_legacy_flags``).
Each 1.x flag either maps onto its Lightning 2.x equivalent (``weights_summary=None`` ->
``enable_model_summary=False``), takes effect after the Trainer is built (``progress_bar_refresh_rate``
sets the default bar's refresh rate), is accepted and ignored when it has no effect to keep
(``flush_logs_every_n_steps``), or is rejected with an error that names the fix when lit cannot
do what it asked (``amp_backend="apex"``). An unknown keyword is a ``TypeError`` that suggests the
closest flag, as Python would say for a misspelt argument.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import first_party, registry, roles, tuning
from .callback import Callback
from .exceptions import MisconfigurationException
from .markers import hookimpl
from .progress import ProgressBar
from .rank_zero import rank_zero_deprecation, rank_zero_warn
from .utilities.grads import grad_norm

if TYPE_CHECKING:
    from .module import LightningModule
    from .trainer import Trainer

# ------------------------------------------------------------------------------------------
# Lightning 1.x's device flags (gpus=, tpu_cores=, accelerator=<strategy>): read by every Trainer()
# ------------------------------------------------------------------------------------------

#: Lightning 1.x ``accelerator=`` values for multi-process modes lit has no strategy of that name for:
#: they select the ``multi_device_strategy`` role (``lit_core.roles``).
SEED_MULTI_DEVICE = frozenset({"ddp_cpu", "dp", "ddp2"})


def _names_a_strategy(accelerator: Any) -> bool:
    """Lightning 1.x's ``accelerator=<strategy>``: a strategy name (installed or first-party) that no accelerator has."""
    if not isinstance(accelerator, str) or accelerator in registry.installed("accelerator"):
        return False
    if accelerator in SEED_MULTI_DEVICE or accelerator in registry.installed("strategy"):
        return True
    # A first-party strategy that is not installed: translated all the same, so that the error names its distribution.
    return first_party.provider(registry.GROUPS["strategy"], accelerator) is not None and \
        first_party.provider(registry.GROUPS["accelerator"], accelerator) is None


def translate_seed_flags(accelerator: Any, strategy: Any, devices: Any, gpus: Any, tpu_cores: Any) -> tuple[Any, Any, Any]:
    """Lightning 1.x's ``gpus=``, ``tpu_cores=`` and ``accelerator=<strategy>`` as today's flags.

    ``gpus=`` / ``tpu_cores=`` select the accelerator an installed distribution declares for the
    ``gpus_accelerator`` / ``tpu_cores_accelerator`` role (``lit_core.roles``).
    """
    if gpus is not None:
        target = roles.fill("gpus_accelerator")
        shown = repr(target) if target else "..."  # none declared: the error below says what to install
        rank_zero_deprecation(f"Trainer(gpus={gpus!r}) is deprecated: use Trainer(accelerator={shown}, devices={gpus!r}).")
        if gpus not in (0, "0", []) and (accelerator in ("auto", None) or _names_a_strategy(accelerator)):
            accelerator = roles.require("gpus_accelerator", f"Trainer(gpus={gpus!r})")
        if gpus not in (0, "0", []):
            devices = gpus
    if tpu_cores is not None:
        target = roles.fill("tpu_cores_accelerator")
        shown = repr(target) if target else "..."
        rank_zero_deprecation(f"Trainer(tpu_cores={tpu_cores!r}) is deprecated: use Trainer(accelerator={shown}, devices={tpu_cores!r}).")
        accelerator, devices = roles.require("tpu_cores_accelerator", f"Trainer(tpu_cores={tpu_cores!r})"), tpu_cores
    if _names_a_strategy(accelerator):
        rank_zero_deprecation(
            f"Trainer(accelerator={accelerator!r}) is deprecated: use Trainer(strategy={accelerator!r}) "
            "and accelerator= for the device kind."
        )
        multi = accelerator in SEED_MULTI_DEVICE
        strategy = roles.require("multi_device_strategy", f"Trainer(accelerator={accelerator!r})") if multi else accelerator
        accelerator = "auto"  # with gpus= the accelerator was chosen above
    return accelerator, strategy, devices


#: What a translator may do once the Trainer is built.
After = Callable[["Trainer"], None]


def _deprecate(message: str) -> None:
    rank_zero_deprecation(message)


# ------------------------------------------------------------------------------------------
# One translator per 1.x flag: (value, the modern keyword arguments to edit, after-init actions)
# ------------------------------------------------------------------------------------------


def _progress_bar_refresh_rate(value: Any, flags: dict[str, Any], after: list[After]) -> None:
    if value is None:
        return
    if value == 0:
        _deprecate("Trainer(progress_bar_refresh_rate=0) is deprecated since Lightning 1.5: use Trainer(enable_progress_bar=False).")
        flags["enable_progress_bar"] = False
        return
    if not isinstance(value, int) or value < 0:
        raise MisconfigurationException(f"Trainer(progress_bar_refresh_rate={value!r}): give an int >= 0 (0 turns the bar off).")
    _deprecate(
        f"Trainer(progress_bar_refresh_rate={value}) is deprecated since Lightning 1.5: pass the progress bar with its "
        f"rate instead, e.g. Trainer(callbacks=[TQDMProgressBar(refresh_rate={value})])."
    )
    given = flags.get("callbacks")
    given = list(given) if isinstance(given, (list, tuple)) else ([] if given is None else [given])

    def set_rate(trainer: Trainer) -> None:
        # As in Lightning 1.x, the rate applies to the bar the Trainer chose, not to one the user passed.
        bar = trainer.progress_bar_callback
        if isinstance(bar, ProgressBar) and not any(bar is cb for cb in given):
            bar._refresh_rate = value  # ProgressBar's documented storage for ``refresh_rate``

    after.append(set_rate)


def _process_position(value: Any, flags: dict[str, Any], after: list[After]) -> None:
    _deprecate(
        f"Trainer(process_position={value!r}) is deprecated since Lightning 1.5 and ignored: pass "
        f"callbacks=[TQDMProgressBar(process_position={value!r})] instead."
    )


#: ``weights_summary`` values -> the summary's depth (Lightning 1.x: "top" = children, "full" = all).
SUMMARY_DEPTHS = {"top": 1, "full": -1}


def _weights_summary(value: Any, flags: dict[str, Any], after: list[After]) -> None:
    if value is None:
        _deprecate("Trainer(weights_summary=None) is deprecated since Lightning 1.5: use Trainer(enable_model_summary=False).")
        flags["enable_model_summary"] = False
        return
    if value not in SUMMARY_DEPTHS:
        raise MisconfigurationException(
            f"Trainer(weights_summary={value!r}): use None, 'top' or 'full' (or, today, enable_model_summary= and "
            "callbacks=[ModelSummary(max_depth=...)])."
        )
    depth = SUMMARY_DEPTHS[value]
    _deprecate(
        f"Trainer(weights_summary={value!r}) is deprecated since Lightning 1.5: use "
        f"Trainer(callbacks=[ModelSummary(max_depth={depth})])."
    )
    # As Lightning 1.x, which added a ModelSummary(max_depth=...) callback for the flag.
    given = flags.get("callbacks")
    given = list(given) if isinstance(given, (list, tuple)) else ([] if given is None else [given])
    flags["callbacks"] = [*given, WeightsSummary(depth)]


def _checkpoint_callback(value: Any, flags: dict[str, Any], after: list[After]) -> None:
    if isinstance(value, bool):
        _deprecate(
            f"Trainer(checkpoint_callback={value}) is deprecated since Lightning 1.5: use Trainer(enable_checkpointing={value})."
        )
        if flags.get("enable_checkpointing") not in (None, value):
            raise MisconfigurationException(
                f"Trainer(checkpoint_callback={value}, enable_checkpointing={flags['enable_checkpointing']}) disagree: "
                "keep enable_checkpointing= alone."
            )
        flags["enable_checkpointing"] = value
        return
    if isinstance(value, Callback):
        _deprecate(
            f"Trainer(checkpoint_callback={type(value).__name__}(...)) is deprecated since Lightning 1.3: pass it in "
            "Trainer(callbacks=[...])."
        )
        given = flags.get("callbacks")
        given = list(given) if isinstance(given, (list, tuple)) else ([] if given is None else [given])
        flags["callbacks"] = [*given, value]
        return
    raise MisconfigurationException(
        f"Trainer(checkpoint_callback={value!r}): give a bool (today: enable_checkpointing=) or a ModelCheckpoint "
        "(today: callbacks=[ModelCheckpoint(...)])."
    )


def _resume_from_checkpoint(value: Any, flags: dict[str, Any], after: list[After]) -> None:
    if value is None:
        return
    _deprecate(
        f"Trainer(resume_from_checkpoint={value!r}) is deprecated since Lightning 1.5: pass the path to fit, "
        f"trainer.fit(model, ckpt_path={value!r})."
    )

    def remember(trainer: Trainer) -> None:
        trainer.resume_from_checkpoint = value  # the next fit() without ckpt_path= takes it (once)

    after.append(remember)


def _flush_logs_every_n_steps(value: Any, flags: dict[str, Any], after: list[After]) -> None:
    _deprecate(
        f"Trainer(flush_logs_every_n_steps={value!r}) is deprecated since Lightning 1.5 and ignored: loggers flush on "
        "their own schedule (e.g. CSVLogger(flush_logs_every_n_steps=...), TensorBoardLogger(flush_secs=...))."
    )


def _terminate_on_nan(value: Any, flags: dict[str, Any], after: list[After]) -> None:
    _deprecate(
        f"Trainer(terminate_on_nan={value!r}) is deprecated since Lightning 1.5: lit checks the loss for NaN on its own "
        "(with the logging and at each epoch's end); Trainer(detect_anomaly=True) checks every step."
    )
    if value:
        def every_step(trainer: Trainer) -> None:
            trainer.terminate_on_nan = True  # the fit loop reads every loss, without anomaly mode

        after.append(every_step)


def _track_grad_norm(value: Any, flags: dict[str, Any], after: list[After]) -> None:
    if value in (-1, None, "-1"):
        _deprecate("Trainer(track_grad_norm=-1) is deprecated since Lightning 1.9 (-1 is the default: remove it).")
        return
    norm_type = float(value)
    if norm_type <= 0:
        raise MisconfigurationException(f"Trainer(track_grad_norm={value!r}): give a positive norm order, 'inf', or -1 (off).")
    _deprecate(
        f"Trainer(track_grad_norm={value!r}) is deprecated since Lightning 1.9: log the norms yourself in "
        "LightningModule.on_before_optimizer_step, e.g. self.log_dict(grad_norm(self, norm_type=2))."
    )
    given = flags.get("callbacks")
    given = list(given) if isinstance(given, (list, tuple)) else ([] if given is None else [given])
    flags["callbacks"] = [*given, GradNormLogger(norm_type)]


def _amp_backend(value: Any, flags: dict[str, Any], after: list[After]) -> None:
    if value == "apex":
        raise MisconfigurationException(
            "Trainer(amp_backend='apex'): NVIDIA Apex is not supported (Lightning 2.x dropped it too). Use torch's "
            "native mixed precision: Trainer(precision='16-mixed'), without amp_backend / amp_level."
        )
    if value not in ("native", None):
        raise MisconfigurationException(f"Trainer(amp_backend={value!r}): the only backend is 'native'; remove the flag.")
    _deprecate("Trainer(amp_backend='native') is deprecated since Lightning 1.9: remove it (precision= alone chooses).")


def _amp_level(value: Any, flags: dict[str, Any], after: list[After]) -> None:
    if value is None:
        _deprecate("Trainer(amp_level=None) is deprecated since Lightning 1.9: remove it.")
        return
    raise MisconfigurationException(
        f"Trainer(amp_level={value!r}) is an NVIDIA Apex optimization level; Apex is not supported. Remove amp_level and "
        "use Trainer(precision='16-mixed') (torch's native mixed precision)."
    )


def _auto_select_gpus(value: Any, flags: dict[str, Any], after: list[After]) -> None:
    _deprecate(
        f"Trainer(auto_select_gpus={value!r}) is deprecated since Lightning 1.9 and ignored: lit uses the devices given. "
        "To pick free GPUs, pass devices=find_usable_cuda_devices(n) (Lightning 2.x)."
    )


def _replace_sampler_ddp(value: Any, flags: dict[str, Any], after: list[After]) -> None:
    _deprecate(f"Trainer(replace_sampler_ddp={value!r}) is deprecated since Lightning 1.9: use Trainer(use_distributed_sampler={value!r}).")
    flags["use_distributed_sampler"] = bool(value)


def _move_metrics_to_cpu(value: Any, flags: dict[str, Any], after: list[After]) -> None:
    _deprecate(
        f"Trainer(move_metrics_to_cpu={value!r}) is deprecated since Lightning 1.9 (removed in 2.0) and ignored: logged "
        "values are kept as they are and read when they are sent to the loggers."
    )


def _multiple_trainloader_mode(value: Any, flags: dict[str, Any], after: list[After]) -> None:
    if value != "max_size_cycle":
        raise MisconfigurationException(
            f"Trainer(multiple_trainloader_mode={value!r}) is gone (Lightning 2.x): combine the training dataloaders "
            f"yourself, trainer.fit(model, CombinedLoader(loaders, mode={value!r}))."
        )
    _deprecate(
        "Trainer(multiple_trainloader_mode='max_size_cycle') is deprecated since Lightning 1.9: it is the default of "
        "CombinedLoader; remove the flag."
    )


def _stochastic_weight_avg(value: Any, flags: dict[str, Any], after: list[After]) -> None:
    if value:
        raise MisconfigurationException(
            "Trainer(stochastic_weight_avg=True) was removed in Lightning 1.7: pass the callback, "
            "Trainer(callbacks=[StochasticWeightAveraging(swa_lrs=1e-2)])."
        )
    _deprecate("Trainer(stochastic_weight_avg=False) is deprecated since Lightning 1.5: remove it.")


def _log_gpu_memory(value: Any, flags: dict[str, Any], after: list[After]) -> None:
    _deprecate(
        f"Trainer(log_gpu_memory={value!r}) is deprecated since Lightning 1.5 and ignored: use "
        "Trainer(callbacks=[DeviceStatsMonitor()]) to log device memory."
    )


def _ipus(value: Any, flags: dict[str, Any], after: list[After]) -> None:
    if not value:
        _deprecate(f"Trainer(ipus={value!r}) is deprecated since Lightning 1.7: remove it.")
        return
    raise MisconfigurationException(
        f"Trainer(ipus={value!r}): Graphcore IPUs are not supported (Lightning 2.x moved them out too). Train on "
        "accelerator='cpu' / 'cuda' / 'xla' with devices=."
    )


def _num_processes(value: Any, flags: dict[str, Any], after: list[After]) -> None:
    _deprecate(
        f"Trainer(num_processes={value!r}) is deprecated since Lightning 1.7: use Trainer(accelerator='cpu', "
        f"devices={value!r})."
    )
    if value not in (None, 1) and flags.get("devices") in ("auto", None):
        flags["devices"] = value
        if flags.get("accelerator") in ("auto", None):
            flags["accelerator"] = "cpu"


def _reload_dataloaders_every_epoch(value: Any, flags: dict[str, Any], after: list[After]) -> None:
    n = 1 if value else 0
    _deprecate(
        f"Trainer(reload_dataloaders_every_epoch={value!r}) is deprecated since Lightning 1.4: use "
        f"Trainer(reload_dataloaders_every_n_epochs={n})."
    )
    flags["reload_dataloaders_every_n_epochs"] = n


def _distributed_backend(value: Any, flags: dict[str, Any], after: list[After]) -> None:
    _deprecate(f"Trainer(distributed_backend={value!r}) is deprecated since Lightning 1.3: use Trainer(strategy={value!r}).")
    if value is not None:
        flags["strategy"] = value


def _weights_save_path(value: Any, flags: dict[str, Any], after: list[After]) -> None:
    raise MisconfigurationException(
        f"Trainer(weights_save_path={value!r}) was removed in Lightning 1.8: give the folder to the checkpoint callback, "
        f"Trainer(callbacks=[ModelCheckpoint(dirpath={value!r})])."
    )


def _truncated_bptt_steps(value: Any, flags: dict[str, Any], after: list[After]) -> None:
    raise MisconfigurationException(
        f"Trainer(truncated_bptt_steps={value!r}) was removed in Lightning 1.7 and lit has no truncated BPTT: split the "
        "sequence in training_step with manual optimization (self.automatic_optimization = False)."
    )


def _tuning_flag(name: str) -> Callable[[Any, dict[str, Any], list[After]], None]:
    """``auto_lr_find`` / ``auto_scale_batch_size``: checked and warned about by ``lit_core.tuning``, run by ``trainer.tune()``."""

    def translate(value: Any, flags: dict[str, Any], after: list[After]) -> None:
        tuning.check_flags(**{name: value})
        after.append(lambda trainer: setattr(trainer, name, value))

    return translate


#: The Lightning 1.x Trainer flags lit accepts (with a warning) or rejects with the fix, by name.
LEGACY_TRAINER_FLAGS: dict[str, Callable[[Any, dict[str, Any], list[After]], None]] = {
    "auto_lr_find": _tuning_flag("auto_lr_find"),
    "auto_scale_batch_size": _tuning_flag("auto_scale_batch_size"),
    "progress_bar_refresh_rate": _progress_bar_refresh_rate,
    "process_position": _process_position,
    "weights_summary": _weights_summary,
    "checkpoint_callback": _checkpoint_callback,
    "resume_from_checkpoint": _resume_from_checkpoint,
    "flush_logs_every_n_steps": _flush_logs_every_n_steps,
    "terminate_on_nan": _terminate_on_nan,
    "track_grad_norm": _track_grad_norm,
    "amp_backend": _amp_backend,
    "amp_level": _amp_level,
    "auto_select_gpus": _auto_select_gpus,
    "replace_sampler_ddp": _replace_sampler_ddp,
    "move_metrics_to_cpu": _move_metrics_to_cpu,
    "multiple_trainloader_mode": _multiple_trainloader_mode,
    "stochastic_weight_avg": _stochastic_weight_avg,
    "log_gpu_memory": _log_gpu_memory,
    "ipus": _ipus,
    "num_processes": _num_processes,
    "reload_dataloaders_every_epoch": _reload_dataloaders_every_epoch,
    "distributed_backend": _distributed_backend,
    "weights_save_path": _weights_save_path,
    "truncated_bptt_steps": _truncated_bptt_steps,
}


def init_with_legacy_flags(trainer: Trainer, legacy: dict[str, Any], flags: dict[str, Any],
                           init: Callable[..., None]) -> None:
    """Build ``trainer`` with ``init`` (``Trainer.__init__``) from today's ``flags`` after translating the 1.x ``legacy`` ones."""
    names = [n for n, p in inspect.signature(init).parameters.items() if n != "self" and p.kind == p.KEYWORD_ONLY]
    flags = {name: flags[name] for name in names if name in flags}
    unknown = [name for name in legacy if name not in LEGACY_TRAINER_FLAGS]
    if unknown:
        name = unknown[0]
        close = difflib.get_close_matches(name, [*names, *LEGACY_TRAINER_FLAGS], n=3)
        hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise TypeError(f"Trainer.__init__() got an unexpected keyword argument {name!r}.{hint}")
    after: list[After] = []
    for name, value in legacy.items():
        LEGACY_TRAINER_FLAGS[name](value, flags, after)
    init(trainer, **flags)
    for action in after:
        action(trainer)


class WeightsSummary(Callback):
    """``Trainer(weights_summary="top" | "full")`` of Lightning 1.x: the default model summary, to ``max_depth``.

    It answers ``lit_print_model_summary`` instead of the kernel's default (``trylast``), with the
    callback of the ``default_model_summary`` role made with its depth. Being the last of
    ``trainer.callbacks``, it answers after the callbacks given, so a ``ModelSummary`` callback
    given too still wins, as in Lightning 1.x; ``enable_model_summary=False`` still turns the
    summary off. With no distribution filling the role it warns and prints nothing.
    """

    def __init__(self, max_depth: int) -> None:
        self.max_depth = max_depth

    @hookimpl
    def lit_print_model_summary(self, trainer: Trainer, module: LightningModule) -> bool | None:
        summary = roles.model_summary(max_depth=self.max_depth)
        if summary is None:
            dist = first_party.provider(roles.GROUP, "default_model_summary") or "a distribution that declares it"
            rank_zero_warn(
                f"Trainer(weights_summary=...) prints no summary: no installed distribution fills the "
                f"default_model_summary role. Install one ({dist}) or drop the flag."
            )
            return None
        summary.on_fit_start(trainer, module)
        return True


class GradNormLogger(Callback):
    """``Trainer(track_grad_norm=p)`` of Lightning 1.x: logs ``grad_{p}_norm/<parameter>`` and
    ``grad_{p}_norm_total`` before the optimizer steps, on the steps whose metrics go to the loggers."""

    def __init__(self, norm_type: float) -> None:
        self.norm_type = norm_type

    def on_before_optimizer_step(self, trainer: Trainer, pl_module: LightningModule, optimizer: Any) -> None:
        every = trainer.log_every_n_steps
        # Like Lightning 1.x, only when this step's metrics are sent (the norms cost a host read each).
        if every <= 0 or (trainer.state.batches_that_stepped + 1) % every != 0:
            return
        norms = grad_norm(pl_module, self.norm_type)
        if norms:
            pl_module.log_dict(norms, on_step=True, on_epoch=False, prog_bar=False, logger=True)
