"""``CallbackConformance``: what every lit callback must do, checked by training a tiny model with it.

Checks: the class is a ``Callback`` selectable by name; its ``state_dict`` reaches the checkpoint
under its ``state_key`` and loads back into a new instance; fitting N steps, checkpointing and
resuming ends exactly where an uninterrupted run ends (weights and the callback's state); and an
idle instance (``make_idle``) adds no implementation to any per-step hook.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from .. import hookspecs
from ..callback import Callback
from ..checkpoint import load as load_checkpoint
from .models import TinyModel, quiet_trainer
from .suite import Conformance, run_whole_and_resumed, same_state

#: The hooks the loops call for every batch or optimizer step (events and services).
PER_STEP_HOOKS = tuple(sorted(
    name for name in vars(hookspecs) if name.startswith("lit_")
    and any(part in name for part in ("_batch_", "backward", "optimizer_step", "zero_grad", "clip_gradients", "autocast"))
))


class CallbackConformance(Conformance):
    """The callback conformance suite. Set ``plugin``; override ``make`` when the class needs arguments.

    - ``make()``: an instance as users configure it for the resume checks;
    - ``make_idle()``: an instance configured to do nothing per step (default: ``make()``), which
      must add no implementation to any per-step hook (``PER_STEP_HOOKS``);
    - ``trainer_flags()``: other flags the callback needs; ``comparable(state)``: the part of
      its state that must be equal between runs;
    - ``steps`` / ``resume_at``: the run length and where the interrupted run stops (4 batches an
      epoch; a resume mid-epoch restarts that epoch's data, as in Lightning, so keep it at an
      epoch's end).
    """

    kind = "callback"
    steps: ClassVar[int] = 8
    resume_at: ClassVar[int] = 4

    def make(self) -> Callback:
        """The callback under test (default: ``plugin()``)."""
        return type(self).plugin()

    def make_idle(self) -> Callback:
        """An instance with nothing to do per step (default: ``make()``)."""
        return self.make()

    def trainer_flags(self) -> dict[str, Any]:
        """Other ``Trainer`` flags the callback needs (``{"logger": "csv"}`` for one that logs); default none."""
        return {}

    def comparable(self, state: dict[str, Any]) -> Any:
        """The part of a ``state_dict()`` that must be equal between runs (default: all; a timer's elapsed time is not)."""
        return state

    def test_is_a_callback_selected_by_name(self, tmp_path: Path) -> None:
        """A ``lit_core.plugin_api.Callback`` subclass; ``Trainer(callbacks=[name])`` builds one."""
        assert issubclass(type(self).plugin, Callback), f"{type(self).plugin!r} must subclass lit_core.plugin_api.Callback"
        try:
            trainer = quiet_trainer(tmp_path, callbacks=[self.name], **self.trainer_flags())
        except Exception as exc:
            if "needs arguments" not in str(exc):
                raise
            pytest.skip(f"{type(self).plugin.__qualname__} needs arguments: not usable by name alone")
        assert any(type(cb) is type(self).plugin for cb in trainer.callbacks), f"callbacks=[{self.name!r}] gave {trainer.callbacks}"

    def test_state_dict_round_trip(self, tmp_path: Path) -> None:
        """The state after a fit is in the checkpoint under ``state_key``; a new instance resumed from it has that state."""
        callback = self.make()
        trainer = quiet_trainer(tmp_path, callbacks=[callback], max_steps=self.resume_at, max_epochs=-1, **self.trainer_flags())
        trainer.fit(TinyModel())
        state = callback.state_dict()
        path = tmp_path / "round-trip.ckpt"
        trainer.save_checkpoint(path)
        saved = load_checkpoint(str(path)).get("callbacks", {})
        if state:
            assert callback.state_key in saved, f"state_key {callback.state_key!r} missing from the checkpoint's callbacks {list(saved)}"
            assert same_state(self.comparable(saved[callback.state_key]), self.comparable(state))
        fresh = self.make()  # restored by the Trainer, as users resume: fit from the checkpoint with nothing left to train
        quiet_trainer(tmp_path, callbacks=[fresh], max_steps=self.resume_at, max_epochs=-1,
                      **self.trainer_flags()).fit(TinyModel(), ckpt_path=str(path))
        assert fresh.state_key == callback.state_key, "state_key must depend on configuration only"
        assert same_state(self.comparable(fresh.state_dict()), self.comparable(state)), (
            f"restored from the checkpoint, the callback's state is {fresh.state_dict()}, not the saved {state}")

    def test_exact_resume(self, tmp_path: Path) -> None:
        """Fit ``resume_at`` steps, checkpoint, resume to ``steps``: the weights and the callback's state match an uninterrupted run."""
        made: list[Callback] = []

        def flags() -> dict[str, Any]:
            made.append(self.make())
            return {"callbacks": [made[-1]], **self.trainer_flags()}

        run_whole_and_resumed(tmp_path, flags, self.steps, self.resume_at)
        whole_cb, resumed_cb = made[0], made[-1]
        expected_state = whole_cb.state_dict()
        assert same_state(self.comparable(resumed_cb.state_dict()), self.comparable(expected_state)), (
            f"the resumed callback's state {resumed_cb.state_dict()} differs from the uninterrupted run's {expected_state}")

    def test_no_per_step_hook_when_idle(self, tmp_path: Path) -> None:
        """``make_idle()`` adds no implementation to any per-step hook (nothing is called per batch for it)."""
        callback = self.make_idle()
        trainer = quiet_trainer(tmp_path, callbacks=[callback], **self.trainer_flags())
        manager = trainer.plugin_manager
        # lit registers each callback itself (its lit_* hookimpls) and an adapter for its Lightning on_* methods.
        own = {manager.get_name(callback), f"lit.callback-adapter:{id(callback)}"} - {None}
        found = sorted(hook for hook in PER_STEP_HOOKS
                       if any(impl.plugin_name in own for impl in getattr(manager.hook, hook).get_hookimpls()))
        assert found == [], (
            f"an idle {type(callback).__name__} implements per-step hooks {found}: decide once (in __init__ or setup) and "
            "set the per-step method on the instance only when it has work (see docs/testing_plugins.rst)")

