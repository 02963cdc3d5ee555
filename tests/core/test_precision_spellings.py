"""Lightning's ``precision=`` spellings (16, "16", "bf16", 32, 64): the distribution whose precision
they mean declares them as roles (``precision_16`` ...); lit-core maps only its own (32, 64).

Third-party distributions here are real: a ``.dist-info`` folder with ``entry_points.txt`` and a
module on ``sys.path``, found by ``importlib.metadata`` like any installed package.
"""

from __future__ import annotations

import warnings

import pytest
import torch

import lit_core as lit
from lit_core import registry, roles
from lit_core.exceptions import PluginError

FAST_BF16 = """
import contextlib
import torch
import lit_core as lit
from lit_core.plugins.precision import Precision

AUTOCASTS = []


class FastBF16(Precision):
    name = "bf16-fast"

    @lit.hookimpl
    def lit_autocast(self, trainer):
        AUTOCASTS.append(trainer.state.stage)
        return torch.autocast("cpu", dtype=torch.bfloat16)
"""


@pytest.fixture
def fast_bf16(install_distribution, monkeypatch):
    """lit-fastbf16: a precision plugin ``bf16-fast`` that declares Lightning's ``"bf16"`` spelling."""
    install_distribution("lit-fastbf16", {"lit_fastbf16": FAST_BF16}, {
        "lit.precision": {"bf16-fast": "lit_fastbf16:FastBF16"},
        "lit.roles": {"precision_bf16": "bf16-fast"},
    })
    yield
    monkeypatch.undo()  # hide_distribution's registry.installed, before the caches are cleared
    registry.refresh()


def test_lit_amp_declares_16_and_bf16_and_lit_core_maps_its_own():
    assert roles.fill("precision_16") == "16-mixed" and roles.fill("precision_bf16") == "bf16-mixed"
    assert "precision_32" not in roles.ROLES and "precision_64" not in roles.ROLES
    assert lit.Trainer(precision="64", accelerator="cpu", logger=False).precision == "64-true"


def test_a_third_party_precision_fills_the_bf16_spelling_and_trains(fast_bf16, hide_distribution, make_trainer,
                                                                      boring_model):
    hide_distribution("lit-amp")
    trainer = make_trainer(precision="bf16", max_steps=3)
    assert trainer.precision == "bf16-fast"
    trainer.fit(boring_model())
    import lit_fastbf16

    assert trainer.global_step == 3 and lit_fastbf16.AUTOCASTS, "its autocast ran around the steps"
    assert all(p.dtype == torch.float32 for p in trainer.lightning_module.parameters())


def test_next_to_lit_amp_the_first_by_name_wins_with_a_warning_and_disable_plugins_chooses(fast_bf16, make_trainer):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert make_trainer(precision="bf16").precision == "bf16-mixed"  # lit-amp < lit-fastbf16
    (message,) = [str(w.message) for w in record if "precision_bf16" in str(w.message)]
    assert "'bf16-fast' (lit-fastbf16)" in message and "'bf16-mixed' (lit-amp)" in message
    assert make_trainer(precision="bf16", disable_plugins=["bf16-mixed"]).precision == "bf16-fast"


def test_a_blocked_only_claim_says_disable_plugins_blocks_it(make_trainer):
    with pytest.raises(PluginError, match=r"The precision 'bf16-mixed' is blocked by disable_plugins=\['bf16-mixed'\]"):
        make_trainer(precision="bf16", disable_plugins=["bf16-mixed"])


def test_a_spelling_nobody_declares_names_lit_amp_and_lists_the_spellings_there_are(hide_distribution):
    hide_distribution("lit-amp")
    with pytest.raises(PluginError, match=r"is provided by lit-amp: `pip install lit-amp`") as info:
        lit.Trainer(precision="bf16", accelerator="cpu", logger=False)
    assert "(and the aliases 32, 64)" in str(info.value), "16 and 'bf16' need a distribution that declares them"


def test_a_spelling_is_a_name_given_explicitly_so_it_works_with_autoload_off(make_trainer, monkeypatch):
    monkeypatch.setenv("LIT_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert roles.fill("default_progress_bar") is None, "defaults: lit-core's claims only"
    assert make_trainer(precision="bf16").precision == "bf16-mixed", "as precision='bf16-mixed' does"
