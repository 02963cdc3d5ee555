"""``bf16-mixed`` and ``16-mixed``: every step under ``torch.autocast``, parameters kept in float32.

float16's narrow range makes small gradients underflow to zero, so ``16-mixed`` also runs a
``torch.amp.GradScaler``: the loss is multiplied by the scale before backward
(``lit_scale_loss``), the gradients are divided back before anyone reads or clips them
(``lit_before_optimizer_step``, ``lit_clip_gradients``), and the optimizer steps through
``scaler.step`` (``lit_optimizer_step``), which skips a step whose gradients hold inf or NaN.
``scaler.update`` (which lowers the scale after such a step, and raises it after
``growth_interval`` clean ones) runs once all optimizers stepped, just before the next loss is
scaled, as torch's recipe for several optimizers says. bfloat16 has float32's range:
``bf16-mixed`` needs autocast only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import torch

import lit_core as lit
from lit_core.plugin_api import MisconfigurationException, Precision

from .lightning_classes import class_for

if TYPE_CHECKING:
    from torch.optim import Optimizer


class MixedPrecision(Precision):
    """Runs every ``*_step`` (training and evaluation) under ``torch.autocast`` in ``dtype``.

    Lightning's constructor: ``Trainer(plugins=[MixedPrecision("bf16-mixed", "cpu")])`` is the
    same plugin as ``precision="bf16-mixed"``; ``MixedPrecision("16-mixed", "cuda", scaler)``
    the same as ``precision="16-mixed"`` with that ``GradScaler``. ``MixedPrecision(...)`` builds
    a ``BF16MixedPrecision`` or an ``FP16MixedPrecision`` (both are ``MixedPrecision``s).

    :param precision: ``"16-mixed"`` or ``"bf16-mixed"``.
    :param device: the device type autocast runs on (``"cuda"``, ``"cpu"``); it must be the
        trainer's. ``None``: the trainer's, whatever it is.
    :param scaler: ``16-mixed`` only: the ``torch.amp.GradScaler`` to use.
    """

    #: The dtype autocast computes eligible operations in.
    dtype: ClassVar[torch.dtype]

    def __new__(cls, precision: str | None = None, device: str | None = None, scaler: Any = None) -> MixedPrecision:
        kinds = {"16-mixed": FP16MixedPrecision, "bf16-mixed": BF16MixedPrecision}
        return super().__new__(class_for(cls, MixedPrecision, kinds, precision))

    def __init__(self, precision: str | None = None, device: str | None = None, scaler: Any = None) -> None:
        if precision is not None and precision != self.name:
            raise ValueError(f"{type(self).__name__}(precision={precision!r}): this class is precision={self.name!r}.")
        if scaler is not None:
            raise MisconfigurationException(f"precision={self.name!r} does not use a scaler, found {scaler!r}.")
        #: The device type given to the constructor (``None``: the trainer's).
        self.device = device

    @lit.hookimpl
    def lit_init_end(self, trainer: lit.Trainer) -> None:
        self.setup_device(trainer.device)

    def setup_device(self, device: torch.device) -> None:
        """Check that this precision can run on ``device`` (raises ``MisconfigurationException``)."""
        if self.device is not None and torch.device(self.device).type != device.type:
            raise MisconfigurationException(
                f"{type(self).__name__}(device={self.device!r}) but the Trainer runs on {device.type}: autocast would "
                f"not apply. Pass device={device.type!r}, or choose the accelerator that matches."
            )
        if not torch.amp.is_autocast_available(device.type):
            raise MisconfigurationException(
                f"precision={self.name!r} needs torch.autocast, which torch does not provide for {device.type} "
                "devices: use precision='32-true', or a 16-bit '-true' precision ('bf16-true', '16-true')."
            )

    @lit.hookimpl
    def lit_autocast(self, trainer: lit.Trainer) -> torch.autocast:
        return torch.autocast(trainer.device.type, dtype=self.dtype)


class BF16MixedPrecision(MixedPrecision):
    """bfloat16 autocast (``precision="bf16-mixed"``, alias ``"bf16"``); no loss scaling needed."""

    name = "bf16-mixed"
    dtype = torch.bfloat16

    def setup_device(self, device: torch.device) -> None:
        super().setup_device(device)
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise MisconfigurationException(
                f"precision='bf16-mixed': the GPU {torch.cuda.get_device_name(device)} does not support bfloat16. "
                "Use precision='16-mixed' (float16 with loss scaling) instead."
            )


class FP16MixedPrecision(MixedPrecision):
    """float16 autocast with a ``torch.amp.GradScaler`` (``precision="16-mixed"``, alias ``16``).

    :param precision: ``"16-mixed"`` (Lightning's ``MixedPrecision`` signature; may be omitted).
    :param device: the device type; a device other than CUDA gets a ``GradScaler`` for it, as in Lightning.
    :param scaler: the scaler to use; by default ``torch.amp.GradScaler("cuda")`` is made when
        the trainer is built. float16 autocast is meant for CUDA, so ``"16-mixed"`` by name is
        an error on any other device; passing a scaler for that device (for instance
        ``torch.amp.GradScaler("cpu")``) is the explicit way to run it there anyway.

    The scaler's state is saved in checkpoints (under ``"precision"``) and restored on resume.
    """

    name = "16-mixed"
    dtype = torch.float16

    def __init__(self, precision: str | None = None, device: str | None = None,
                 scaler: torch.amp.GradScaler | None = None) -> None:
        super().__init__(precision, device)
        if scaler is None and device is not None and torch.device(device).type != "cuda":
            # Lightning's MixedPrecision("16-mixed", device) makes its scaler for that device.
            scaler = torch.amp.GradScaler(torch.device(device).type)
        self.scaler = scaler
        #: ids of the optimizers whose gradients are unscaled since the last ``scaler.update()``.
        self._unscaled: set[int] = set()
        #: Whether an optimizer stepped since the last ``scaler.update()``.
        self._stepped = False

    def setup_device(self, device: torch.device) -> None:
        if self.scaler is None:
            if device.type != "cuda":
                raise MisconfigurationException(
                    f"precision='16-mixed' needs a CUDA GPU, and this Trainer runs on {device.type}. On CPU use "
                    "precision='bf16-mixed'. With a GPU, pass accelerator='cuda' (from lit-cuda)."
                )
            self.scaler = torch.amp.GradScaler(device.type)
        super().setup_device(device)

    @lit.hookimpl(wrapper=True)
    def lit_setup_optimizers(self, trainer: lit.Trainer) -> Any:
        optimizers = yield
        module = trainer.lightning_module
        if module.automatic_optimization and type(module).optimizer_step is not lit.LightningModule.optimizer_step:
            raise MisconfigurationException(
                f"precision='16-mixed' steps the optimizers through its GradScaler, so {type(module).__name__}."
                "optimizer_step (overridden) would bypass it. Move what it does to a learning-rate scheduler or to "
                "on_before_optimizer_step, or use precision='bf16-mixed', which needs no scaler."
            )
        for optimizer in optimizers:
            if isinstance(optimizer, torch.optim.LBFGS):
                raise MisconfigurationException(
                    "precision='16-mixed' cannot step LBFGS: GradScaler does not support optimizers that re-evaluate "
                    "the closure. Use precision='32-true' or 'bf16-mixed' with LBFGS."
                )
        return optimizers

    @lit.hookimpl
    def lit_scale_loss(self, loss: torch.Tensor) -> torch.Tensor:
        self.update_scale()
        return self.scaler.scale(loss)

    @lit.hookimpl(tryfirst=True)
    def lit_before_optimizer_step(self, optimizer: Optimizer) -> None:
        # First, so that callbacks (gradient norms, ...) and clipping see the true gradients.
        self.unscale_gradients(optimizer)

    @lit.hookimpl(wrapper=True)
    def lit_clip_gradients(self, optimizer: Optimizer) -> Any:
        # Clipping in manual optimization (self.clip_gradients) happens before opt.step().
        self.unscale_gradients(optimizer)
        return (yield)

    @lit.hookimpl
    def lit_optimizer_step(self, module: lit.LightningModule, optimizer: Optimizer, closure: Callable[[], Any]) -> bool:
        loss = closure()
        if loss is None and module.automatic_optimization:
            return True  # training_step returned None: nothing was back-propagated, nothing to step
        self.scaler.step(optimizer)  # skips the step when the gradients hold inf / NaN
        self._stepped = True
        return True

    @lit.hookimpl
    def lit_train_end(self) -> None:
        self.update_scale()  # the scaler a user inspects after fit is up to date

    def update_scale(self) -> None:
        """``scaler.update()`` when optimizers stepped since the last one (the next backward needs it)."""
        if self._stepped:
            self.scaler.update()
            self._stepped = False
            self._unscaled.clear()

    def unscale_gradients(self, optimizer: Optimizer) -> None:
        """Divide ``optimizer``'s gradients by the loss scale, once between two optimizer steps."""
        if id(optimizer) not in self._unscaled:
            self.scaler.unscale_(optimizer)
            self._unscaled.add(id(optimizer))

    def state_dict(self) -> dict[str, Any]:
        """The scaler's state (scale, growth tracker ...), saved in checkpoints under ``"precision"``.

        The update that the last step is owed is applied first, so the saved scale is the one
        the next backward pass uses.
        """
        if self.scaler is None:
            return {}
        self.update_scale()
        return self.scaler.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the scaler's state when training resumes from a checkpoint."""
        self.scaler.load_state_dict(state_dict)
