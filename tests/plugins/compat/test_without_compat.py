"""lit-core without lit-compat: Lightning 1.x flags and argparse helpers fail saying what to install
and how the call is written today; with it, the kernel reaches lit-compat only through its role."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import textwrap
from argparse import ArgumentParser
from collections.abc import Iterator

import pytest

import lit_compat
import lit_core as lit
from lit_core import lightning_1x, lightning_names, namespace, roles
from lit_core.exceptions import MisconfigurationException, PluginError
from lit_core.lightning_1x import Lightning1xUnavailableError


@pytest.fixture
def without_lit_compat(hide_distribution, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Roles and Lightning's namespaces see the entry points as if lit-compat were not installed."""
    hide_distribution("lit-compat")
    shown = namespace.claims
    namespace.refresh()
    monkeypatch.setattr(namespace, "claims", lambda group: {
        name: tuple(c for c in found if c.distribution != "lit-compat") for name, found in shown(group).items()})
    monkeypatch.setattr(lightning_names, "_installed", lambda dist: dist != "lit-compat")
    yield
    monkeypatch.undo()
    namespace.refresh()


def test_a_1x_flag_without_lit_compat_names_it_the_install_and_todays_spelling(without_lit_compat, tmp_path):
    with pytest.raises(Lightning1xUnavailableError, match=re.escape(
            "Trainer(weights_summary='top') is Lightning 1.x API, which lit translates only with lit-compat installed: "
            "`pip install lit-compat`. Or write it as Lightning 2.x does: callbacks=[ModelSummary(max_depth=N)], "
            "or enable_model_summary=False.")) as failure:
        lit.Trainer(default_root_dir=tmp_path, weights_summary="top")
    # Lightning 2.x rejects the flag with a TypeError; lit's callers may catch its own MisconfigurationException
    assert isinstance(failure.value, TypeError) and isinstance(failure.value, PluginError)
    with pytest.raises(MisconfigurationException, match=r"Trainer\(resume_from_checkpoint='x.ckpt'\).*pip install "
                                                         r"lit-compat.*trainer.fit\(model, ckpt_path=...\)"):
        lit.Trainer(default_root_dir=tmp_path, resume_from_checkpoint="x.ckpt")


def test_a_misspelt_flag_without_lit_compat_is_still_pythons_type_error(without_lit_compat, tmp_path):
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'max_epoch'. Did you mean 'max_epochs'") as failure:
        lit.Trainer(default_root_dir=tmp_path, max_epoch=3)
    assert not isinstance(failure.value, PluginError)


def test_argparse_helpers_without_lit_compat_name_the_method(without_lit_compat):
    class Data(lit.LightningDataModule):
        def __init__(self, batch_size: int = 4) -> None:
            super().__init__()

    with pytest.raises(Lightning1xUnavailableError, match=re.escape(
            "Trainer.add_argparse_args() is Lightning 1.x API, which lit translates only with lit-compat installed: "
            "`pip install lit-compat`. Or write it as Lightning 2.x does: LightningCLI, or add the options to your "
            "ArgumentParser yourself.")):
        lit.Trainer.add_argparse_args(ArgumentParser())
    for call in (lambda: lit.Trainer.from_argparse_args({}), lambda: lit.Trainer.default_attributes(),
                 lambda: Data.add_argparse_args(ArgumentParser()), lambda: Data.from_argparse_args({})):
        with pytest.raises(Lightning1xUnavailableError, match=r"(Trainer|Data)\.\w+\(\) is Lightning 1.x API.*lit-compat"):
            call()
    with pytest.raises(ImportError, match=re.escape("add_argparse_args is in lit-compat: pip install lit-compat")):
        from lit_core.utilities.argparse import add_argparse_args  # noqa: F401


def test_seed_era_device_flags_need_no_lit_compat(without_lit_compat, tmp_path):
    # gpus= / tpu_cores= are role lookups, which stay in the kernel (lit_core.lightning_1x)
    with pytest.warns(DeprecationWarning, match=r"gpus=0"):
        assert lit.Trainer(default_root_dir=tmp_path, logger=False, gpus=0).accelerator.name == "cpu"


def test_with_lit_compat_the_role_names_it_and_lightnings_path_resolves_to_it():
    assert roles.service(lightning_1x.ROLE) is lit_compat
    argparse_path = importlib.import_module("lit_core.utilities.argparse")
    for name in ("add_argparse_args", "from_argparse_args", "parse_argparser", "get_init_arguments_and_types",
                 "str_to_bool", "str_to_bool_or_str", "str_to_bool_or_int"):
        assert getattr(argparse_path, name) is getattr(lit_compat.argparse, name)
    assert argparse_path.str_to_bool("yes") is True


def test_the_kernels_list_of_1x_flags_is_lit_compats():
    """The kernel keeps only the names (for the error without lit-compat); lit-compat translates each one."""
    assert set(lightning_1x.TODAY) == set(lit_compat.LEGACY_TRAINER_FLAGS)


def test_lit_core_imports_no_lit_compat_until_a_1x_flag_is_used():
    script = textwrap.dedent("""
        import sys, warnings
        import lit_core as lit
        import lit_core.utilities.argparse
        lit.Trainer(logger=False, enable_progress_bar=False, enable_checkpointing=False)
        print("lit_compat" in sys.modules)
        warnings.simplefilter("ignore")
        lit.Trainer(logger=False, weights_summary=None)
        print("lit_compat" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True"]

