"""``PrecisionConformance``: what every lit precision plugin must do, checked by training a tiny model.

Checks: the class is a ``Precision`` selectable by name; each training step runs with the
parameters in ``param_dtype`` (module conversion) and ``forward`` computing in ``compute_dtype``
(autocast); the model trains (finite losses, weights move); the plugin's ``state_dict`` reaches
the checkpoint under ``"precision"`` and is restored on resume; and a run interrupted,
checkpointed and resumed ends with the weights and plugin state of an uninterrupted one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch

from ..checkpoint import load as load_checkpoint
from ..plugins.precision import Precision
from .models import TinyModel, quiet_trainer
from .suite import Conformance, run_whole_and_resumed, same_state, skip_unless_available


class PrecisionConformance(Conformance):
    """The precision conformance suite. Set ``plugin``, ``name``, ``param_dtype`` and ``compute_dtype``.

    - ``accelerator``: the accelerator the checks train on (``"cpu"``); when it cannot run here,
      the checks that train are skipped;
    - ``by_name``: whether ``Trainer(precision=name, accelerator=accelerator)`` works (``False``
      for a configuration only an instance gives, such as ``16-mixed`` with a CPU scaler);
    - ``make()``: the instance under test (default: ``plugin()``).
    """

    kind = "precision"
    param_dtype: ClassVar[torch.dtype] = torch.float32
    compute_dtype: ClassVar[torch.dtype] = torch.float32
    accelerator: ClassVar[str] = "cpu"
    by_name: ClassVar[bool] = True
    steps: ClassVar[int] = 8
    resume_at: ClassVar[int] = 4

    def make(self) -> Precision:
        """The precision plugin under test (default: ``plugin()``)."""
        return type(self).plugin()

    def fit(self, tmp_path: Path, **flags: Any) -> tuple[TinyModel, Any]:
        """Train ``TinyModel`` one epoch with ``make()`` on ``accelerator``; the model and the Trainer."""
        skip_unless_available("accelerator", self.accelerator)
        model = TinyModel()
        trainer = quiet_trainer(tmp_path, accelerator=self.accelerator, **{"precision": self.make(), **flags})
        trainer.fit(model)
        return model, trainer

    def test_is_a_precision_selected_by_name(self, tmp_path: Path) -> None:
        """A ``lit_core.plugin_api.Precision`` subclass; ``Trainer(precision=name)`` builds one."""
        assert issubclass(type(self).plugin, Precision), f"{type(self).plugin!r} must subclass lit_core.plugin_api.Precision"
        if not self.by_name:
            pytest.skip("by_name = False: this configuration needs an instance")
        skip_unless_available("accelerator", self.accelerator)
        trainer = quiet_trainer(tmp_path, accelerator=self.accelerator, precision=self.name)
        assert type(trainer.precision_plugin) is type(self).plugin, f"precision={self.name!r} gave {trainer.precision_plugin!r}"

    def test_module_conversion_and_autocast(self, tmp_path: Path) -> None:
        """In every training step the parameters are ``param_dtype`` and ``forward`` computes in ``compute_dtype``."""
        model, _ = self.fit(tmp_path)
        assert model.dtypes == {(self.param_dtype, self.compute_dtype)}, (
            f"(parameter dtype, forward's output dtype) in training_step: {model.dtypes}, expected "
            f"{{({self.param_dtype}, {self.compute_dtype})}}")

    def test_trains(self, tmp_path: Path) -> None:
        """Four steps with finite losses that move the weights."""
        skip_unless_available("accelerator", self.accelerator)
        before = TinyModel().layer.weight.detach().double()
        model, _ = self.fit(tmp_path)
        assert len(model.losses) == 4 and all(torch.isfinite(torch.tensor(loss)) for _, loss in model.losses), model.losses
        assert not torch.equal(before, model.layer.weight.detach().cpu().double()), "the weights did not move"

    def test_checkpoint_state_round_trip(self, tmp_path: Path) -> None:
        """``state_dict()`` is saved under ``"precision"`` (when not empty) and restored into a new instance on resume."""
        _, trainer = self.fit(tmp_path)
        state = trainer.precision_plugin.state_dict()
        path = tmp_path / "precision.ckpt"
        trainer.save_checkpoint(path)
        saved = load_checkpoint(str(path))
        if state:
            assert "precision" in saved and same_state(saved["precision"], state), "the checkpoint's 'precision' is not state_dict()"
        fresh = self.make()
        quiet_trainer(tmp_path, accelerator=self.accelerator, precision=fresh, max_epochs=1).fit(TinyModel(), ckpt_path=str(path))
        assert same_state(fresh.state_dict(), state), f"restored, the plugin's state is {fresh.state_dict()}, not the saved {state}"

    def test_exact_resume(self, tmp_path: Path) -> None:
        """Fit ``resume_at`` steps, checkpoint, resume to ``steps``: the weights and the plugin's state match an uninterrupted run's."""
        skip_unless_available("accelerator", self.accelerator)
        made: list[Precision] = []

        def flags() -> dict[str, Any]:
            made.append(self.make())
            return {"accelerator": self.accelerator, "precision": made[-1]}

        run_whole_and_resumed(tmp_path, flags, self.steps, self.resume_at)
        whole, resumed = made[0].state_dict(), made[-1].state_dict()
        assert same_state(resumed, whole), f"the resumed plugin's state {resumed} differs from the uninterrupted run's {whole}"
