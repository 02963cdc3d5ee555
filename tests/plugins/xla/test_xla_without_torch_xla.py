"""lit-xla where torch_xla cannot load (the main ``.venv``: torch 2.13, no torch_xla).

lit-xla installs and imports there, ``lit plugins`` says why it cannot run, and choosing it is an
error naming the versions found and the pair to install. The version logic is tested on its
own; the real torch_xla runs are in ``tests/xla`` (``.venv-xla``).
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from lit_core import registry
from lit_core.commands import describe_plugins
from lit_core.exceptions import MisconfigurationException, PluginError
from lit_xla import XLAAccelerator, XLASPMDStrategy, XLAStrategy, runtime

pytestmark = pytest.mark.skipif(runtime.installation_problem() is None, reason="torch_xla loads here: tests/xla covers it")


def test_matching_pair_is_fine():
    assert runtime.version_problem("2.9.0+cu128", "2.9.0") is None
    assert runtime.version_problem("2.9.1", "2.9.0") is None


def test_missing_torch_xla_names_torch_and_the_release_to_install():
    message = runtime.version_problem("2.13.0+cpu", None)
    assert "torch_xla is not installed (torch is 2.13.0+cpu)" in message
    # No torch_xla 2.13 exists: the hint says how to find the matching one and names a pair that exists.
    assert "torch-xla matching your torch version (see https://github.com/pytorch/xla#installation)" in message
    assert "`pip install torch==2.9.* torch-xla==2.9.*`" in message and "2.13.*" not in message


@pytest.mark.parametrize("torch_version", ["2.1.2", "2.5.1+cu121", "2.8.0", "2.9.0+cpu"])
def test_a_torch_with_its_own_torch_xla_release_gets_that_release(torch_version):
    pair = "{}.{}".format(*runtime.release(torch_version))
    message = runtime.version_problem(torch_version, None)
    assert f"`pip install torch-xla=={pair}.*`" in message and "github.com/pytorch/xla" not in message


@pytest.mark.parametrize("torch_version", ["2.0.1", "2.10.0", "2.13.0+cpu", "3.0.0"])
def test_every_install_hint_names_a_torch_xla_release_that_exists(torch_version):
    for xla_version in (None, "2.9.0", "2.5.1"):
        message = runtime.version_problem(torch_version, xla_version) or ""
        for major, minor in re.findall(r"torch-xla==(\d+)\.(\d+)", message):
            assert (int(major), int(minor)) in runtime.RELEASES, (torch_version, xla_version, message)


def test_mismatch_names_both_versions_and_the_matching_pair():
    message = runtime.version_problem("2.13.0+cpu", "2.9.0")
    assert "torch_xla 2.9.0 is built for torch 2.9.*, but torch 2.13.0+cpu is installed" in message
    assert "pip install torch==2.9.* torch-xla==2.9.0" in message and "2.13.*" not in message


def test_release_reads_local_versions():
    assert runtime.release("2.13.0+cpu") == (2, 13) and runtime.release("2.9.0rc1") == (2, 9)
    with pytest.raises(ValueError, match="Not a version"):
        runtime.release("nightly")


def test_entry_points_and_lit_plugins_row():
    for kind, name, cls in (("accelerator", "xla", XLAAccelerator), ("accelerator", "tpu", XLAAccelerator),
                            ("strategy", "xla", XLAStrategy), ("strategy", "xla_spmd", XLASPMDStrategy)):
        entry = registry.installed(kind)[name]
        assert entry.distribution == "lit-xla" and entry.load() is cls
    rows = {(row["kind"], row["name"]): row for row in describe_plugins()}
    row = rows[("accelerator", "xla")]
    assert row["available"] is False and "torch_xla" in row["reason"]


@pytest.mark.parametrize("flags", [{"accelerator": "xla"}, {"accelerator": "tpu"}, {"accelerator": "xla", "strategy": "xla_spmd"}])
def test_choosing_xla_says_what_to_install(make_trainer, flags):
    with pytest.raises(MisconfigurationException, match=r"cannot run on this machine: torch_xla is not installed \(torch is .*torch-xla=="):
        make_trainer(**flags)


def test_seed_tpu_cores_flag_says_what_to_install(make_trainer):
    with pytest.warns(DeprecationWarning, match=r"tpu_cores=8\) is deprecated"), \
            pytest.raises(MisconfigurationException, match="torch_xla is not installed"):
        make_trainer(tpu_cores=8)


def test_auto_still_picks_the_cpu(make_trainer):
    assert make_trainer().accelerator.name == "cpu"


def test_several_devices_ask_for_the_xla_strategy(make_trainer, monkeypatch):
    """``strategy="auto"`` with several XLA devices is ``xla`` (``Accelerator.multi_device_strategy``), not ddp."""
    monkeypatch.setattr(XLAAccelerator, "unavailable_reason", classmethod(lambda cls: None))
    monkeypatch.setattr(XLAAccelerator, "device_count", classmethod(lambda cls: 8))
    with pytest.raises(MisconfigurationException, match=r"strategy='xla' cannot run on this machine: torch_xla is not installed"):
        make_trainer(accelerator="xla", devices=8)


def test_without_lit_xla_the_error_names_the_distribution(make_trainer, hide_distribution):
    hide_distribution("lit-xla")
    with pytest.raises(PluginError, match=r"needs the lit-xla plugin, which is not installed: `pip install lit-xla`"):
        make_trainer(accelerator="tpu")


def test_importing_lit_core_and_lit_xla_does_not_import_torch_xla():
    code = ("import sys, lit_core, lit_xla, lit_core.registry as r; r.load('accelerator', 'xla'); "
            "lit_xla.XLAAccelerator.unavailable_reason(); print('torch_xla' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "False"
