"""The per-step path: what ``Trainer`` decides once per stage and the calls the loops make each step.

``bind(trainer)`` makes the per-stage decisions and writes them to ``trainer.state`` (public loop
state: the loops and plugins read them there). ``HotPath`` is a base class of ``Trainer``: its
methods are the Trainer's (``trainer.backward``, ``trainer.zero_grad``), kept here so that
``trainer.py`` reads as wiring.

Decided once per stage (``bind``): each event hook's caller, or ``None`` when nobody implements
it, so the loops skip it (``PluginManager.fast_caller``); the per-step service callers; how to
call the module's overridden ``backward`` / ``optimizer_step`` in the Lightning signature it
declares (2.x, 1.x, the seed's); the batch transfer.

The special cases kept for speed, and why (issue 15). Removing all of them cost little on the
null model (``benchmarks/loop_cost.py``: +5.1 / +4.7 to +7.1 / +7.6 us/step default, +2.6 / +3.0
to +5.4 / +4.7 barebones) but about +20 us/step on the seed MLP (``benchmarks/overhead.py
--cases seed``, paired: +17 to +24 before, +38 to +46 without them, 5 rounds each), which broke
its <= 1.03x wall-ratio goal (1.04-1.05x). Put back, the same runs measure +19 to +28 (1.021x to
1.037x, lit-core default 1.022x):

- ``step_optimizer``, the kernel's default optimizer step: ``closure()`` then ``optimizer.step()``
  for torch's own first-order optimizers instead of ``optimizer.step(closure)`` (5-8 us/step on
  the seed MLP);
- the loops' ``direct_step`` (``FitLoop._direct``): with one such optimizer stepped by the
  kernel's default and nothing around it (no ``optimizer_step`` override, no zero-grad hook, no
  per-step scheduler), closure, step and ``zero_grad`` are called in the loop;
- the closure's inline loss check and ``plain_backward`` (the module's backward called directly
  when only the kernel's default implements ``lit_backward`` and no hook surrounds it);
- the CPU batch transfer (``_make_transfer``): when only the kernel's default implements
  ``lit_batch_to_device`` and no transfer hook is overridden, ``move_data_to_cpu`` directly.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import torch
from torch.optim import Optimizer
from torch.optim import optimizer as torch_optimizer

from . import hookspecs
from .apply import move_data_to_cpu
from .builtins.adapters import data_hook, overrides, positional_arity
from .module import LightningModule

if TYPE_CHECKING:
    from .registry import PluginManager
    from .trainer import Trainer
    from .trainer_state import TrainerState


#: The event hooks (called only when someone implements them).
EVENT_HOOKS = tuple(
    name for name, spec in vars(hookspecs).items()
    if name.startswith("lit_") and callable(spec) and not getattr(spec, "lit_spec", {}).get("firstresult")
    and name not in ("lit_log_metrics", "lit_log_hyperparams", "lit_setup_environment")
)


def bind(trainer: Trainer) -> None:
    """Decide once per stage what the per-step path calls, and write it to ``trainer.state``.

    ``state.events``: one attribute per event hook, its caller when someone implements it, else
    ``None``. ``state.services``: the per-step service hooks. Then how to call the module's
    overrides, and the batch transfer (``state.to_device``). The Trainer
    calls it when a stage starts; call it again after registering or unregistering plugins in a
    running stage (``lit_core.trial`` does).
    """
    pm = trainer.plugin_manager
    state = trainer.state
    state.events = SimpleNamespace(**{name[4:]: pm.fast_caller(name) for name in EVENT_HOOKS})
    state.log_metrics = pm.fast_caller("lit_log_metrics")
    state.services = SimpleNamespace(**{name[4:]: pm.fast_caller(name) for name in (
        "lit_batch_to_device", "lit_scale_loss", "lit_backward", "lit_optimizer_step", "lit_clip_gradients")})
    module = trainer.lightning_module
    state.module_optimizer_step = _make_optimizer_step_call(trainer, module)
    state.zero_grad_overridden = overrides(module, LightningModule, "optimizer_zero_grad")
    state.backward_call = _make_backward_call(module)
    state.to_device = _make_transfer(trainer, module)


def _make_transfer(trainer: Trainer, module: LightningModule) -> Callable[[Any, int], Any]:
    """What the loops call per batch: the module's transfer hooks around ``lit_batch_to_device``."""
    state, device = trainer.state, trainer.device
    # A hook set to None on the instance is absent, as in Lightning (``overrides``).
    before, after = (data_hook(module, trainer.datamodule, name) or _unchanged
                     for name in ("on_before_batch_transfer", "on_after_batch_transfer"))
    kernel_only = getattr(state.services.batch_to_device, "__self__", None) is trainer.plugin_manager.get_plugin("lit.defaults")
    if kernel_only and before is _unchanged and after is _unchanged and device.type == "cpu":
        # What the kernel's default does on the CPU, called directly (an (x, y) batch of CPU tensors is returned as it is).
        return lambda batch, dataloader_idx: move_data_to_cpu(batch)

    def transfer(batch: Any, dataloader_idx: int) -> Any:
        batch = state.services.batch_to_device(trainer=trainer, batch=before(batch, dataloader_idx), device=device,
                                               dataloader_idx=dataloader_idx)
        return after(batch, dataloader_idx)

    return transfer


def step_optimizer(optimizer: Optimizer, closure: Callable[[], Any]) -> None:
    """``optimizer.step(closure=closure)``, the kernel's default step; for torch's own first-order
    optimizers, ``closure()`` then ``optimizer.step()``.

    Those optimizers (exactly these classes: a subclass may change ``step``) evaluate the closure
    once, under ``torch.enable_grad()``, before updating: the same work, measured 5-8 us per step
    cheaper on the seed MLP (see the module docstring). LBFGS re-evaluates the closure and others
    (SAM and the like) may need it; step pre-hooks must run before the closure, so an optimizer
    with any keeps the closure call.
    """
    if closure_once_first(optimizer):
        closure()
        optimizer.step()
    else:
        optimizer.step(closure=closure)


def closure_once_first(optimizer: Optimizer) -> bool:
    """Whether ``optimizer.step(closure)`` is ``closure()`` then ``optimizer.step()`` (see ``step_optimizer``)."""
    return (type(optimizer) in _CLOSURE_ONCE_FIRST and not optimizer._optimizer_step_pre_hooks
            and not getattr(torch_optimizer, "_global_optimizer_pre_hooks", None))


_CLOSURE_ONCE_FIRST = frozenset(
    getattr(torch.optim, name) for name in (
        "SGD", "Adam", "AdamW", "Adagrad", "Adadelta", "Adamax", "ASGD", "NAdam", "RAdam", "RMSprop", "Rprop",
    ) if hasattr(torch.optim, name)
)


def _unchanged(batch: Any, dataloader_idx: int) -> Any:
    return batch


def _make_backward_call(module: LightningModule) -> Callable[..., None]:
    """How to call the module's ``backward``: ``(loss, optimizer, optimizer_idx, args, kwargs)`` in the
    signature it declares (2.x, 1.x with ``optimizer``, or the seed's ``use_amp`` form)."""
    if not overrides(module, LightningModule, "backward"):
        return lambda loss, optimizer, optimizer_idx, args, kwargs: loss.backward(*args, **kwargs)
    backward = module.backward
    names = [p.name for p in inspect.signature(backward).parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    arity = positional_arity(backward)
    if names[:1] == ["use_amp"]:
        return lambda loss, optimizer, optimizer_idx, args, kwargs: backward(*(False, loss, optimizer, optimizer_idx)[:arity])
    if names[1:2] == ["optimizer"]:
        return lambda loss, optimizer, optimizer_idx, args, kwargs: backward(*(loss, optimizer, optimizer_idx, *args)[:arity], **kwargs)
    return lambda loss, optimizer, optimizer_idx, args, kwargs: backward(loss, *args, **kwargs)


#: The argument names of Lightning's ``optimizer_step`` signatures (2.x and 1.x).
OPTIMIZER_STEP_ARGS = frozenset({"epoch", "batch_idx", "optimizer", "optimizer_idx", "optimizer_closure", "closure",
                                 "on_tpu", "using_native_amp", "using_lbfgs"})


def _make_optimizer_step_call(trainer: Trainer, module: LightningModule) -> Callable[..., None] | None:
    """How to call the module's overridden ``optimizer_step``: ``(optimizer, optimizer_idx, closure, batch_idx)``
    in the signature it declares; ``None``: not overridden.

    Lightning 2.x's positional ``(epoch, batch_idx, optimizer, optimizer_closure)``, also for
    ``*args`` forms without ``optimizer_idx``; the seed's and 1.x's long forms by keyword; a 1.x
    form with ``*args``: 1.x's positional order, then the keyword flags it names (all of them with
    ``**kwargs``). Manual optimization never goes through it: ``opt.step()`` steps the optimizer
    itself (Lightning's semantics), so an override there is not called.
    """
    if not (module.automatic_optimization and overrides(module, LightningModule, "optimizer_step")):
        return None
    params = inspect.signature(module.optimizer_step).parameters.values()
    names = tuple(p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
    var_args = any(p.kind is p.VAR_POSITIONAL for p in params)
    if (var_args and "optimizer_idx" not in names) or (not var_args and not set(names) <= OPTIMIZER_STEP_ARGS):
        return lambda optimizer, optimizer_idx, closure, batch_idx: module.optimizer_step(
            trainer.current_epoch, batch_idx, optimizer, closure)
    flags = ("on_tpu", "using_native_amp", "using_lbfgs")
    if not any(p.kind is p.VAR_KEYWORD for p in params):
        flags = tuple(name for name in flags if name in names)

    def call(optimizer: Optimizer, optimizer_idx: int, closure: Callable[[], Any], batch_idx: int) -> None:
        known = {"epoch": trainer.current_epoch, "batch_idx": batch_idx, "optimizer": optimizer, "optimizer_idx": optimizer_idx,
                 "optimizer_closure": closure, "closure": closure, "on_tpu": False, "using_native_amp": False,
                 "using_lbfgs": isinstance(optimizer, torch.optim.LBFGS)}
        if var_args:
            module.optimizer_step(trainer.current_epoch, batch_idx, optimizer, optimizer_idx, closure, **{n: known[n] for n in flags})
        else:
            module.optimizer_step(**{name: known[name] for name in names})

    return call


class HotPath:
    """The Trainer's per-step methods (a base class of ``Trainer``)."""

    # Set by Trainer.__init__ / the stage; declared here for readers of this module.
    state: TrainerState
    plugin_manager: PluginManager
    lightning_module: LightningModule | None
    device: torch.device

    def backward(self, loss: torch.Tensor, optimizer: Optimizer | None, optimizer_idx: int | None, *args: Any, **kwargs: Any) -> None:
        """Back-propagate ``loss`` through the plugins and hooks: ``lit_scale_loss``, ``lit_before_backward``,
        ``lit_backward``, ``lit_after_backward`` (what the loops and ``manual_backward`` call)."""
        events = self.state.events
        module = self.lightning_module
        if self.state.services.scale_loss is not None:
            scaled = self.state.services.scale_loss(trainer=self, loss=loss, optimizer=optimizer)
            loss = loss if scaled is None else scaled
        if events.before_backward is not None:
            events.before_backward(trainer=self, module=module, loss=loss)
        self.state.services.backward(trainer=self, module=module, loss=loss, optimizer=optimizer,
                                              optimizer_idx=optimizer_idx, args=args, kwargs=kwargs)
        if events.after_backward is not None:
            events.after_backward(trainer=self, module=module)

    def zero_grad(self, optimizer: Optimizer, batch_idx: int = 0, set_to_none: bool = True) -> None:
        """Zero ``optimizer``'s gradients: ``lit_before_zero_grad``, then the module's ``optimizer_zero_grad`` if overridden."""
        module = self.lightning_module
        if self.state.events.before_zero_grad is not None:
            self.state.events.before_zero_grad(trainer=self, module=module, optimizer=optimizer)
        if self.state.zero_grad_overridden:
            module.optimizer_zero_grad(self.current_epoch, batch_idx, optimizer)
        else:
            optimizer.zero_grad(set_to_none=set_to_none)
