"""Train/eval mode around the evaluation loops, model construction hooks, and ``Trainer.init_module``.

As in Lightning 2.6, the validation, test and predict loops record the ``training`` flag of every
submodule, call the module's ``on_<stage>_model_eval`` hook (by default ``trainer.model.eval()``),
and afterwards call ``on_<stage>_model_train`` when the user overrides it, else put every
submodule back in the mode it had: a backbone frozen in eval mode stays in eval mode. Training
does not call ``.train()`` on its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode


class ModuleMode:
    """The ``training`` flag of every submodule of a module, captured and put back."""

    __slots__ = ("modes",)

    def __init__(self, module: nn.Module) -> None:
        self.modes = {name: m.training for name, m in module.named_modules()}

    def restore(self, module: nn.Module) -> None:
        """Set each submodule's flag back (submodules added since are left as they are)."""
        for name, m in module.named_modules():
            if name in self.modes:
                m.training = self.modes[name]


class ModelModeHooks:
    """The ``LightningModule`` hooks that switch the model to eval mode and back around a loop."""

    trainer: Any

    def _model_for_mode(self) -> nn.Module:
        trainer = self.__dict__.get("_trainer")
        model = getattr(trainer, "model", None)
        return model if model is not None else self  # type: ignore[return-value]

    def on_validation_model_eval(self) -> None:
        """Put the model in eval mode before the loop: validation (the sanity check included), test, predict."""
        self._model_for_mode().eval()

    def on_validation_model_train(self) -> None:
        """Called after validation (testing) only when overridden; otherwise each submodule's mode is restored."""
        self._model_for_mode().train()

    # The same rule for every evaluation loop (predict has no ``_model_train`` hook: modes are always restored).
    on_test_model_eval = on_predict_model_eval = on_validation_model_eval
    on_test_model_train = on_validation_model_train

    def configure_model(self) -> None:
        """Create layers here instead of in ``__init__`` to build them under the Trainer's init context.

        Called in the setup of every stage (fit, validate, test, predict), after ``setup`` and
        before the optimizers are configured, with the precision's default dtype and the
        device's context; it runs again on a later stage, so make it idempotent (return early
        when the layers exist).
        """


class EmptyInit(TorchFunctionMode):
    """Skip ``torch.nn.init`` functions: parameters keep their uninitialized memory (``empty_init=True``).

    Useful when the weights are loaded from a checkpoint right after, so initializing them is
    wasted time.
    """

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None) -> Any:
        kwargs = kwargs or {}
        if getattr(func, "__module__", None) == "torch.nn.init":
            return kwargs["tensor"] if "tensor" in kwargs else args[0]
        return func(*args, **kwargs)


@contextlib.contextmanager
def init_context(device: torch.device | None, dtype_context: contextlib.AbstractContextManager, empty_init: bool | None) -> Iterator[None]:
    """Tensors created inside go to ``device`` with the precision's dtype; ``empty_init`` skips ``nn.init``."""
    with contextlib.ExitStack() as stack:
        if empty_init:
            stack.enter_context(EmptyInit())
        if device is not None and device.type != "cpu":
            stack.enter_context(device)
        stack.enter_context(dtype_context)
        yield
