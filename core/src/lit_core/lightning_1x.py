"""Lightning 1.x in the kernel: the seed-era device flags, and the way to everything else 1.x.

``Trainer(gpus=, tpu_cores=, accelerator=<strategy>)`` is translated here, because it is role
lookup (the ``gpus_accelerator``, ``tpu_cores_accelerator`` and ``multi_device_strategy`` roles
of ``lit_core.roles``), which only the kernel may do. Every other 1.x flag (``Trainer(**legacy_kwargs)``:
``weights_summary=``, ``progress_bar_refresh_rate=``, ...) and the argparse helpers
(``Trainer.add_argparse_args`` & co., Lightning's ``lit_core.utilities.argparse``) belong to the
distribution that fills the ``lightning_1x_flags`` service role: its object has
``init_with_legacy_flags(trainer, legacy, flags, init)`` and the argparse helpers, each taking
the class first. Without one, those calls raise ``Lightning1xUnavailableError`` saying what to
install and how the call is written today.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import first_party, registry, roles
from .exceptions import PluginError
from .rank_zero import rank_zero_deprecation

if TYPE_CHECKING:
    from .trainer import Trainer

#: The service role whose object translates Lightning 1.x flags and provides the argparse helpers.
ROLE = "lightning_1x_flags"

#: Lightning 1.x ``Trainer`` flags -> how Lightning 2.x writes them: for the error without a translator.
TODAY: dict[str, str] = {
    "auto_lr_find": "Tuner(trainer).lr_find(model)",
    "auto_scale_batch_size": "Tuner(trainer).scale_batch_size(model)",
    "progress_bar_refresh_rate": "callbacks=[TQDMProgressBar(refresh_rate=N)], or enable_progress_bar=False",
    "process_position": "callbacks=[TQDMProgressBar(process_position=N)]",
    "weights_summary": "callbacks=[ModelSummary(max_depth=N)], or enable_model_summary=False",
    "checkpoint_callback": "enable_checkpointing=, or callbacks=[ModelCheckpoint(...)]",
    "resume_from_checkpoint": "trainer.fit(model, ckpt_path=...)",
    "flush_logs_every_n_steps": "the logger's own flush setting",
    "terminate_on_nan": "detect_anomaly=True",
    "track_grad_norm": "self.log_dict(grad_norm(self, norm_type=2)) in on_before_optimizer_step",
    "amp_backend": "precision='16-mixed'",
    "amp_level": "precision='16-mixed'",
    "auto_select_gpus": "devices=N",
    "replace_sampler_ddp": "use_distributed_sampler=",
    "move_metrics_to_cpu": "nothing: remove it",
    "multiple_trainloader_mode": "CombinedLoader(loaders, mode=...)",
    "stochastic_weight_avg": "callbacks=[StochasticWeightAveraging(swa_lrs=...)]",
    "log_gpu_memory": "callbacks=[DeviceStatsMonitor()]",
    "ipus": "accelerator= and devices=",
    "num_processes": "accelerator='cpu', devices=N",
    "reload_dataloaders_every_epoch": "reload_dataloaders_every_n_epochs=1",
    "distributed_backend": "strategy=",
    "weights_save_path": "callbacks=[ModelCheckpoint(dirpath=...)]",
    "truncated_bptt_steps": "manual optimization (self.automatic_optimization = False)",
}


class Lightning1xUnavailableError(PluginError, TypeError):
    """A Lightning 1.x flag or helper was used and no installed distribution translates it.

    A ``TypeError`` too: Lightning 2.x rejects those flags as unexpected keyword arguments.
    """


def _unavailable(needed_by: str, today: str) -> Lightning1xUnavailableError:
    dist = first_party.provider(roles.GROUP, ROLE)
    get = f"`pip install {dist}`" if dist else f"install a distribution that declares the {ROLE!r} role"
    return Lightning1xUnavailableError(
        f"{needed_by} is Lightning 1.x API, which lit translates only with {dist or 'such a distribution'} "
        f"installed: {get}. Or write it as Lightning 2.x does: {today}."
    )


def translator(needed_by: str, today: str) -> Any:
    """The object filling the ``lightning_1x_flags`` role, or the error naming ``needed_by``, what to install and ``today``."""
    found = roles.service(ROLE)
    if found is None:
        raise _unavailable(needed_by, today)
    return found


def init_with_legacy_flags(trainer: Trainer, legacy: dict[str, Any], flags: dict[str, Any], init: Callable[..., None]) -> None:
    """Build ``trainer`` from today's ``flags`` (``init``'s ``locals()``) and the 1.x ``legacy`` ones, by the role's object."""
    found = roles.service(ROLE)
    if found is None:
        unknown = [name for name in legacy if name not in TODAY]
        if unknown:  # a misspelt flag, said as Python says it (with a translator installed, the translator says it)
            names = [n for n, p in inspect.signature(init).parameters.items() if p.kind == p.KEYWORD_ONLY]
            close = difflib.get_close_matches(unknown[0], [*names, *TODAY], n=3)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise TypeError(f"Trainer.__init__() got an unexpected keyword argument {unknown[0]!r}.{hint}")
        name = next(iter(legacy))
        raise _unavailable(f"Trainer({name}={legacy[name]!r})", TODAY[name])
    found.init_with_legacy_flags(trainer, legacy, flags, init)


def argparse_method(name: str, today: str = "LightningCLI, or add the options to your ArgumentParser yourself") -> classmethod:
    """The classmethod ``name`` (``Trainer.add_argparse_args`` & co.): the role's object's ``name(cls, ...)``."""

    def method(cls: type, *args: Any, **kwargs: Any) -> Any:
        return getattr(translator(f"{cls.__name__}.{name}()", today), name)(cls, *args, **kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"Lightning 1.x's ``{name}`` (deprecated), from the ``{ROLE}`` role's distribution."
    return classmethod(method)


# ---- the seed-era device flags (gpus=, tpu_cores=, accelerator=<strategy>): read by every Trainer() ----

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


