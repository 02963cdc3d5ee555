"""Issue 14, cases 17-19: one misbehaving third-party plugin must not break the rest.

Third-party distributions are real: a ``.dist-info`` folder with ``entry_points.txt`` and a
module, on ``sys.path``, found by ``importlib.metadata`` like any ``pip install``-ed package.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

import lit_core as lit
from lit_core import commands, registry
from lit_core.exceptions import PluginError

MakeDist = Callable[..., Path]


@pytest.fixture
def make_dist(install_distribution: MakeDist) -> MakeDist:
    """``make_dist(name, modules, entry_points, version=..., site=...)``: tests/conftest.py's ``install_distribution``."""
    return install_distribution


BROKEN_ACCELERATOR = """
raise ImportError("libfancy.so.2: cannot open shared object file")
"""

CALLBACK = """
import lit_core as lit


class Dup(lit.Callback):
    origin = {origin!r}
"""

ACCELERATOR = """
from lit_core.accelerators import Accelerator


class ChannelsLast(Accelerator):
    name = "cpu_channels_last"
    priority = -10
"""


MULTI_DEVICE = """
    multi_device_strategy = "channels_ddp"

    @classmethod
    def device_count(cls):
        return 2
"""


RAISING_CHECK = """
    @classmethod
    def unavailable_reason(cls):
        raise RuntimeError("driver query failed")
"""


def _plugin_warnings(record: list[warnings.WarningMessage], text: str) -> list[str]:
    return [str(w.message) for w in record if text in str(w.message)]


# ---------------------------------------------------------------------------------- case 17


def test_case_17_broken_accelerator_plugin_is_skipped_by_auto_with_one_warning(make_dist, tmp_path, boring_model,
                                                                               random_loader):
    make_dist("lit-fancy", {"lit_fancy": BROKEN_ACCELERATOR}, {"lit.accelerators": {"fancy": "lit_fancy:Fancy"}})
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        trainer = lit.Trainer(logger="csv", default_root_dir=tmp_path, max_steps=2, enable_progress_bar=False,
                              enable_model_summary=False)
        trainer.fit(boring_model(), random_loader())
        again = lit.Trainer(logger="csv", default_root_dir=tmp_path)
    assert trainer.accelerator.name == "cpu" and again.accelerator.name == "cpu"
    assert trainer.global_step == 2
    (message,) = _plugin_warnings(record, "lit-fancy")  # one warning, not one per Trainer
    assert "'fancy'" in message and "libfancy.so.2: cannot open shared object file" in message
    assert "ImportError" in message


def test_case_17_broken_accelerator_plugin_selected_by_name_raises_its_import_error(make_dist):
    make_dist("lit-fancy", {"lit_fancy": BROKEN_ACCELERATOR}, {"lit.accelerators": {"fancy": "lit_fancy:Fancy"}})
    with pytest.raises(PluginError, match=r"lit-fancy 1\.0 failed to import: ImportError: libfancy\.so\.2") as info:
        lit.Trainer(accelerator="fancy")
    assert isinstance(info.value.__cause__, ImportError)


def test_case_17_accelerator_whose_availability_check_raises_is_skipped_by_auto(make_dist, tmp_path):
    source = ACCELERATOR.replace("priority = -10", "priority = 10") + RAISING_CHECK
    make_dist("lit-channels", {"lit_channels": source}, {"lit.accelerators": {"cpu_channels_last": "lit_channels:ChannelsLast"}})
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert lit.Trainer(default_root_dir=tmp_path).accelerator.name == "cpu"
    (message,) = _plugin_warnings(record, "lit-channels")
    assert "unavailable_reason() raised RuntimeError: driver query failed" in message


def test_case_17_an_auto_selection_that_skips_lit_core_cpu_says_why(make_dist, tmp_path):
    make_dist("lit-fakecpu", {"lit_fakecpu": BROKEN_ACCELERATOR}, {"lit.accelerators": {"cpu": "lit_fakecpu:Cpu"}})
    with pytest.warns(UserWarning, match="'cpu' is registered by 2 distributions"), \
            pytest.raises(PluginError, match=r"'cpu' is registered by 2 distributions: lit-core .* and lit-fakecpu 1\.0"):
        lit.Trainer(default_root_dir=tmp_path)


# ---------------------------------------------------------------------------------- case 18


def _two_dups(make_dist: MakeDist) -> None:
    make_dist("lit-dup-a", {"lit_dup_a": CALLBACK.format(origin="a")}, {"lit.callbacks": {"dup": "lit_dup_a:Dup"}})
    make_dist("lit-dup-b", {"lit_dup_b": CALLBACK.format(origin="b")}, {"lit.callbacks": {"dup": "lit_dup_b:Dup"}},
              version="2.0")


def test_case_18_name_registered_by_two_distributions_is_an_error_naming_both(make_dist, tmp_path):
    _two_dups(make_dist)
    for flags in ({"callbacks": ["dup"]}, {"plugins": ["dup"]}):
        with pytest.raises(PluginError) as info:
            lit.Trainer(default_root_dir=tmp_path, **flags)
        message = str(info.value)
        assert "'dup'" in message and "lit-dup-a 1.0" in message and "lit-dup-b 2.0" in message, message
    # passing the class chooses one: the way out the error offers
    import lit_dup_b

    assert any(cb.origin == "b" for cb in lit.Trainer(default_root_dir=tmp_path, callbacks=[lit_dup_b.Dup]).callbacks)


def test_case_18_accelerator_auto_skips_a_conflicting_name_with_a_warning(make_dist, tmp_path):
    for dist in ("lit-channels-a", "lit-channels-b"):
        module = dist.replace("-", "_")
        make_dist(dist, {module: ACCELERATOR.replace("priority = -10", "priority = 10")},
                  {"lit.accelerators": {"cpu_channels_last": f"{module}:ChannelsLast"}})
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert lit.Trainer(default_root_dir=tmp_path).accelerator.name == "cpu", "neither is picked silently"
    (message,) = _plugin_warnings(record, "cpu_channels_last")
    assert "lit-channels-a 1.0" in message and "lit-channels-b 1.0" in message
    with pytest.raises(PluginError, match=r"registered by 2 distributions: lit-channels-a 1\.0 .* and lit-channels-b 1\.0"):
        lit.Trainer(default_root_dir=tmp_path, accelerator="cpu_channels_last")


def test_case_18_lit_plugins_shows_both_marked_as_a_conflict(make_dist, capsys):
    _two_dups(make_dist)
    assert commands.main(["plugins", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    dups = sorted((r["distribution"], r["conflict"]) for r in rows if r["kind"] == "callback" and r["name"] == "dup")
    assert dups == [("lit-dup-a", ["lit-dup-b"]), ("lit-dup-b", ["lit-dup-a"])]
    assert commands.main(["plugins"]) == 0
    table = capsys.readouterr().out
    lines = table.splitlines()
    rows = [i for i, line in enumerate(lines) if line.split()[:2] == ["callback", "dup"]]
    assert len(rows) == 2 and all(lines[i].split()[-1] == "no" for i in rows), table
    assert all(lines[i + 1].lstrip().startswith("why not: conflict:") for i in rows), table


def test_case_18_one_distribution_seen_twice_on_sys_path_is_not_a_conflict(make_dist, tmp_path, monkeypatch):
    site = make_dist("lit-dup-a", {"lit_dup_a": CALLBACK.format(origin="a")}, {"lit.callbacks": {"dup": "lit_dup_a:Dup"}})
    monkeypatch.syspath_prepend(str(site))  # the same folder twice
    other = tmp_path / "copy"
    other.mkdir()
    make_dist("lit-dup-a", {"lit_dup_a": CALLBACK.format(origin="a")}, {"lit.callbacks": {"dup": "lit_dup_a:Dup"}},
              site=other)
    monkeypatch.syspath_prepend(str(other))  # and an identical copy elsewhere
    registry.refresh()
    trainer = lit.Trainer(default_root_dir=tmp_path, callbacks=["dup"])
    assert any(getattr(cb, "origin", None) == "a" for cb in trainer.callbacks)


# ---------------------------------------------------------------------------------- case 19


def _error(**flags) -> str:
    with pytest.raises(PluginError) as info:
        lit.Trainer(**flags)
    return str(info.value)


def test_case_19_unknown_names_get_no_invented_distribution(tmp_path):
    for flags in ({"strategy": "compiledd"}, {"plugins": ["compiledd"]}, {"logger": "neptune"},
                  {"callbacks": ["compiledd"]}, {"accelerator": "compiledd"}):
        message = _error(default_root_dir=tmp_path, **flags)
        assert "pip install" not in message, (flags, message)
        assert "lit-compiledd" not in message and "lit-neptune" not in message, (flags, message)


def test_case_19_a_logger_used_as_a_callback_is_named_for_what_it_is(tmp_path):
    message = _error(default_root_dir=tmp_path, callbacks=["tensorboard"])
    assert "'tensorboard' is a logger, not a callback" in message and "logger='tensorboard'" in message
    assert "pip install" not in message, message


def test_case_19_close_matches_among_installed_names_of_every_kind(make_dist, tmp_path):
    make_dist("lit-channels", {"lit_channels": ACCELERATOR}, {"lit.accelerators": {"cpu_channels_last": "lit_channels:ChannelsLast"}})
    message = _error(default_root_dir=tmp_path, strategy="cpu_channels_last")
    assert "'cpu_channels_last' is an accelerator, not a strategy" in message, message
    message = _error(default_root_dir=tmp_path, strategy="cpu_channel_last")
    assert "'cpu_channels_last' (an accelerator)" in message, message
    assert "'ddp' (a strategy)" in _error(default_root_dir=tmp_path, strategy="ddpp")
    assert "'tensorboard' (a logger)" in _error(default_root_dir=tmp_path, callbacks=["tensorbord"])
    assert "pip install" not in message


def test_case_19_first_party_names_still_say_what_to_install(hide_distribution, tmp_path):
    hide_distribution("lit-tensorboard")
    message = _error(default_root_dir=tmp_path, logger="tensorboard")
    assert "pip install lit-tensorboard" in message, message


def test_case_19_a_third_party_multi_device_strategy_gets_no_invented_distribution(make_dist, tmp_path):
    make_dist("lit-channels", {"lit_channels": ACCELERATOR + MULTI_DEVICE},
              {"lit.accelerators": {"cpu_channels_last": "lit_channels:ChannelsLast"}})
    message = _error(default_root_dir=tmp_path, accelerator="cpu_channels_last", devices=2)
    assert "channels_ddp" in message and "pip install" not in message, message
