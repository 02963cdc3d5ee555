"""The per-step path: what ``Trainer`` decides once per stage and the calls the loops make each step.

``bind(trainer)`` makes the per-stage decisions and writes them to ``trainer.state`` (public loop
state: the loops and plugins read them there). ``HotPath`` is a base class of ``Trainer``: its
methods are the Trainer's (``trainer.backward``, ``trainer.zero_grad``), kept here so that
``trainer.py`` reads as wiring. Calling them costs what a method defined in ``trainer.py`` did.

What is here, and why (``benchmarks/loop_cost.py``, null model, CPU time per step over a raw
PyTorch loop; goals <= 50 us/step default, <= 20 us/step barebones):

- ``bind`` (once per stage): each event hook's caller, or ``None`` when nobody
  implements it (``PluginManager.fast_caller``: the compiled trampolines live in
  ``lit_core.registry`` and ``lit_core.builtins.adapters``); the per-step service callers; and
  the shortcuts taken when only the kernel's default implements ``lit_backward`` /
  ``lit_optimizer_step`` / ``lit_batch_to_device`` (``state.plain_backward``,
  ``state.plain_optimizer_step``, ``state.to_device``).
- The Lightning-signature adapters, decided once per stage: how to call an overridden
  ``LightningModule.backward`` (2.x, 1.x, the seed's ``use_amp`` form) and ``optimizer_step``
  (2.x positional, 1.x and seed keyword forms, 1.x ``*args``): ``state.backward_call``,
  ``state.module_optimizer_step``.
- The per-step calls the loops and ``LightningModule`` methods make: ``backward``, ``zero_grad``
  and the batch transfer (the manual ``opt.step()`` is ``lit_core.optim.LightningOptimizer.step``).

Measured (issue 15): with these fast paths the default loop costs +6 us/step and barebones
+3 us/step; without any of them +18 and +12. Both are inside the goals; the paired tiny-model
benchmark (``benchmarks/overhead.py``) has the smaller margin. Moving them here from
``trainer.py`` changed nothing measurable (``loop_cost.py --steps 2000 --rounds 5``, min over
raw: +5.9 / +2.7 before, +5.5 / +2.2 after, on a shared 2-core machine where repeated runs
differ by about 0.5 us).
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
from .builtins.adapters import overrides, positional_arity
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
    ``None``. ``state.services``: the per-step service hooks. Then the module's overrides, and the
    shortcuts taken when only the kernel's default implements a per-step service. The Trainer
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
    before, after = (getattr(module, name) if overrides(module, LightningModule, name) else _unchanged
                     for name in ("on_before_batch_transfer", "on_after_batch_transfer"))

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
    if (type(optimizer) in _CLOSURE_ONCE_FIRST and not optimizer._optimizer_step_pre_hooks
            and not getattr(torch_optimizer, "_global_optimizer_pre_hooks", None)):
        closure()
        optimizer.step()
    else:
        optimizer.step(closure=closure)


_CLOSURE_ONCE_FIRST = frozenset(
    getattr(torch.optim, name) for name in (
        "SGD", "Adam", "AdamW", "Adagrad", "Adadelta", "Adamax", "ASGD", "NAdam", "RAdam", "RMSprop", "Rprop",
    ) if hasattr(torch.optim, name)
)


def _unchanged(batch: Any, dataloader_idx: int) -> Any:
    return batch


def _make_backward_call(module: LightningModule) -> Callable[..., None]:
    """How to call the module's ``backward``: modern, 1.x, or the seed's ``use_amp`` form."""
    if not overrides(module, LightningModule, "backward"):
        return lambda loss, optimizer, optimizer_idx, args, kwargs: loss.backward(*args, **kwargs)
    backward = module.backward
    names = [p.name for p in inspect.signature(backward).parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    arity = positional_arity(backward)
    if names[:1] == ["use_amp"]:
        def call(loss: Any, optimizer: Any, optimizer_idx: Any, args: Any, kwargs: Any) -> None:
            backward(*(False, loss, optimizer, optimizer_idx)[:arity])
    elif names[1:2] == ["optimizer"]:
        def call(loss: Any, optimizer: Any, optimizer_idx: Any, args: Any, kwargs: Any) -> None:
            backward(*(loss, optimizer, optimizer_idx, *args)[: (arity if arity is not None else None)], **kwargs)
    else:
        def call(loss: Any, optimizer: Any, optimizer_idx: Any, args: Any, kwargs: Any) -> None:
            backward(loss, *args, **kwargs)
    return call


def _make_optimizer_step_call(trainer: Trainer, module: LightningModule) -> Callable[..., None] | None:
    """How to call the module's overridden ``optimizer_step`` in whichever signature it declares; ``None``: not overridden.

    Manual optimization never goes through ``LightningModule.optimizer_step``: ``opt.step()``
    steps the optimizer itself (Lightning's semantics), so an override there is not called.
    """
    if not (module.automatic_optimization and overrides(module, LightningModule, "optimizer_step")):
        return None
    names = _optimizer_step_signature(module)
    if names is None:
        def call(optimizer: Optimizer, optimizer_idx: int, closure: Callable[[], Any], batch_idx: int) -> None:
            module.optimizer_step(trainer.current_epoch, batch_idx, optimizer, closure)
        return call

    def call_by_name(optimizer: Optimizer, optimizer_idx: int, closure: Callable[[], Any], batch_idx: int) -> None:
        known = {"epoch": trainer.current_epoch, "batch_idx": batch_idx, "optimizer": optimizer, "optimizer_idx": optimizer_idx,
                 "optimizer_closure": closure, "closure": closure, "on_tpu": False, "using_native_amp": False,
                 "using_lbfgs": isinstance(optimizer, torch.optim.LBFGS)}
        if names[:1] == ("*",):
            # Lightning 1.x with ``*args``: 1.x's positional order, then the keyword flags it takes.
            flags = ("on_tpu", "using_native_amp", "using_lbfgs")
            keywords = flags if names[1:] == ("**",) else [name for name in flags if name in names]
            module.optimizer_step(trainer.current_epoch, batch_idx, optimizer, optimizer_idx, closure,
                                  **{name: known[name] for name in keywords})
            return
        module.optimizer_step(**{name: known[name] for name in names})

    return call_by_name


#: The argument names of Lightning's ``optimizer_step`` signatures (2.x and 1.x).
OPTIMIZER_STEP_ARGS = frozenset({"epoch", "batch_idx", "optimizer", "optimizer_idx", "optimizer_closure", "closure",
                                 "on_tpu", "using_native_amp", "using_lbfgs"})


def _optimizer_step_signature(module: LightningModule) -> tuple[str, ...] | None:
    """How to call an overridden ``optimizer_step`` (decided once per stage).

    ``None``: Lightning 2.x's positional ``(epoch, batch_idx, optimizer, optimizer_closure)``, also
    for ``*args`` forms without ``optimizer_idx``. A tuple of names: pass those by keyword (the
    seed's and 1.x's long forms). ``("*", ...)``: a 1.x form with ``*args`` (positional 1.x order,
    then the keyword flags it names, or all of them with ``("*", "**")``).
    """
    all_params = inspect.signature(module.optimizer_step).parameters.values()
    params = [p for p in all_params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    names = tuple(p.name for p in params)
    if any(p.kind is p.VAR_POSITIONAL for p in all_params):
        if "optimizer_idx" not in names:
            return None
        if any(p.kind is p.VAR_KEYWORD for p in all_params):
            return ("*", "**")
        return ("*", *names)
    return names if set(names) <= OPTIMIZER_STEP_ARGS else None


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
