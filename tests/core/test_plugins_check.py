"""``lit plugins --check``: each problem it reports, found in a real installed (bad) distribution.

Every test installs a distribution with one mistake (``install_distribution``: a ``.dist-info``
that ``importlib.metadata`` finds as it finds a pip-installed one) and runs the command: exit
status 1, the problem under the distribution's and the plugin's heading, with the fix. The
first-party plugins installed in the development environment pass the check.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lit_core import commands, plugin_check

#: The ``lit`` console script of this environment (``sys.executable -m lit_core.commands`` if absent).
LIT = [str(Path(sys.executable).with_name("lit"))] if Path(sys.executable).with_name("lit").exists() else [
    sys.executable, "-m", "lit_core.commands"]


def run_check(capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str]:
    status = commands.main(["plugins", "--check", *flags])
    return status, capsys.readouterr().out


def problems_of(out: str, heading: str) -> str:
    """The problems listed under ``heading`` (``<dist> <version>: <kind> '<name>' (<module:object>)``), joined into one line."""
    lines = out.splitlines()
    start = lines.index(heading) + 1
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith(" ")), len(lines))
    return " ".join(line.strip() for line in lines[start:end])


def test_the_installed_first_party_plugins_pass(capsys):
    status, out = run_check(capsys)
    assert status == 0, out
    assert out.splitlines()[-1].startswith("lit plugins --check: ") and out.rstrip().endswith("plugins, no problems.")


def test_a_lit_method_without_hookimpl_is_reported(install_distribution, capsys):
    install_distribution("lit-nomark", {"lit_nomark": """
        import lit_core as lit

        class Quiet(lit.Callback):
            def lit_train_start(self, trainer):
                pass
        """}, {"lit.callbacks": {"quiet": "lit_nomark:Quiet"}})
    status, out = run_check(capsys)
    assert status == 1
    found = problems_of(out, "lit-nomark 1.0: callback 'quiet' (lit_nomark:Quiet)")
    assert "- Quiet.lit_train_start has no @lit.hookimpl marker, so lit never calls it." in found
    assert "Fix: decorate it with @lit.hookimpl (import lit_core as lit)" in found
    assert out.splitlines()[-1] == f"lit plugins --check: 1 problem in 1 of {len(commands.describe_plugins())} plugins."


def test_another_projects_hookimpl_marker_is_reported(install_distribution, capsys):
    install_distribution("lit-foreign", {"lit_foreign": """
        import pluggy
        import lit_core as lit

        hookimpl = pluggy.HookimplMarker("pytest")

        class Borrowed(lit.Callback):
            @hookimpl
            def lit_train_start(self, trainer):
                pass
        """}, {"lit.callbacks": {"borrowed": "lit_foreign:Borrowed"}})
    status, out = run_check(capsys)
    assert status == 1
    found = problems_of(out, "lit-foreign 1.0: callback 'borrowed' (lit_foreign:Borrowed)")
    assert "Borrowed.lit_train_start is marked with the 'pytest' project's hookimpl marker, so lit never calls it." in found
    assert "Fix: use lit's marker, @lit.hookimpl" in found


def test_a_specname_that_names_no_hook_is_reported(install_distribution, capsys):
    install_distribution("lit-specname", {"lit_specname": """
        import lit_core as lit

        class Renamed(lit.Callback):
            @lit.hookimpl(specname="lit_train_starts")
            def begin(self, trainer):
                pass
        """}, {"lit.callbacks": {"renamed": "lit_specname:Renamed"}})
    status, out = run_check(capsys)
    assert status == 1
    found = problems_of(out, "lit-specname 1.0: callback 'renamed' (lit_specname:Renamed)")
    assert "Renamed.begin names the hook 'lit_train_starts' in specname=, and lit has no such hook" in found
    assert "Did you mean 'lit_train_start'?" in found and "Fix: name one of lit_core.hookspecs in specname=" in found


def test_a_hook_name_typo_is_reported(install_distribution, capsys):
    install_distribution("lit-hooktypo", {"lit_hooktypo": """
        import lit_core as lit

        class Typo(lit.Callback):
            @lit.hookimpl
            def lit_train_epoch_ends(self, trainer):
                pass
        """}, {"lit.callbacks": {"hooktypo": "lit_hooktypo:Typo"}})
    status, out = run_check(capsys)
    assert status == 1
    found = problems_of(out, "lit-hooktypo 1.0: callback 'hooktypo' (lit_hooktypo:Typo)")
    assert "Typo.lit_train_epoch_ends implements 'lit_train_epoch_ends', and lit has no such hook" in found
    assert "Did you mean 'lit_train_epoch_end'?" in found


def test_an_optionalhook_for_a_hook_lit_does_not_have_yet_is_fine(install_distribution, capsys):
    install_distribution("lit-optional", {"lit_optional": """
        import lit_core as lit

        class Ahead(lit.Callback):
            @lit.hookimpl(optionalhook=True)
            def lit_hook_from_a_later_release(self, trainer):
                pass
        """}, {"lit.callbacks": {"ahead": "lit_optional:Ahead"}})
    status, out = run_check(capsys)
    assert status == 0 and "lit-optional" not in out, out


def test_trylast_on_a_firstresult_hook_the_kernel_answers_is_reported(install_distribution, capsys):
    install_distribution("lit-late", {"lit_late": """
        import torch
        import lit_core as lit
        from lit_core.plugin_api import Accelerator

        class Late(Accelerator):
            name = "late"

            def get_device(self, index):
                return torch.device("cpu")

            @lit.hookimpl(trylast=True)
            def lit_batch_to_device(self, batch):
                return batch

            @lit.hookimpl(wrapper=True, trylast=True)
            def lit_optimizer_step(self):
                return (yield)
        """}, {"lit.accelerators": {"late": "lit_late:Late"}})
    status, out = run_check(capsys)
    assert status == 1
    found = problems_of(out, "lit-late 1.0: accelerator 'late' (lit_late:Late)")
    assert "Late.lit_batch_to_device is trylast on lit_batch_to_device, a firstresult hook that the kernel's default" in found
    assert "pluggy never gets to it. Fix: drop trylast" in found
    assert "lit_optimizer_step" not in found, "a trylast wrapper is still called"


def test_an_implementation_of_a_deprecated_hook_is_reported(install_distribution, capsys):
    install_distribution("lit-oldlaunch", {"lit_oldlaunch": """
        import lit_core as lit

        class OldLauncher(lit.Callback):
            @lit.hookimpl
            def lit_launch(self, trainer, function):
                return function()
        """}, {"lit.callbacks": {"oldlaunch": "lit_oldlaunch:OldLauncher"}})
    status, out = run_check(capsys)
    assert status == 1
    found = problems_of(out, "lit-oldlaunch 1.0: callback 'oldlaunch' (lit_oldlaunch:OldLauncher)")
    assert "- OldLauncher.lit_launch implements a deprecated hook, which a later lit-core removes: the lit_launch hook is " \
           "deprecated (plugin API 1.x; removed in 2.0)" in found
    assert "override launch(function)" in found, "the hook's own deprecation message names the replacement"


def test_trylast_where_the_kernel_may_not_answer_is_fine():
    answered = plugin_check.kernel_answers()
    assert {"lit_batch_to_device", "lit_backward", "lit_optimizer_step", "lit_setup_module"} <= answered
    assert "lit_print_model_summary" not in answered, "its default returns None without a summary callback"
    assert "lit_print_results" not in answered, "its default is a wrapper: a trylast progress bar still answers"


def test_a_callback_method_that_is_no_callback_hook_is_reported(install_distribution, capsys):
    install_distribution("lit-ontypo", {"lit_ontypo": """
        import lit_core as lit

        class Typo(lit.Callback):
            def on_train_epoch_ends(self, trainer, pl_module):
                pass

            def on_train_epoch_end(self, trainer, pl_module):
                pass
        """}, {"lit.callbacks": {"ontypo": "lit_ontypo:Typo"}})
    status, out = run_check(capsys)
    assert status == 1
    found = problems_of(out, "lit-ontypo 1.0: callback 'ontypo' (lit_ontypo:Typo)")
    assert "Typo.on_train_epoch_ends is not a Callback hook, so lit never calls it: did you mean 'on_train_epoch_end'?" in found
    assert found.count("is not a Callback hook") == 1


def test_an_entry_point_that_cannot_be_imported_is_reported(install_distribution, capsys):
    install_distribution("lit-broken", {"lit_broken": """
        import lit_core as lit

        class Fine(lit.Callback):
            pass
        """}, {"lit.callbacks": {"gone": "lit_broken:Gone", "nomodule": "lit_broken_missing:Fine"}})
    status, out = run_check(capsys)
    assert status == 1
    gone = problems_of(out, "lit-broken 1.0: callback 'gone' (lit_broken:Gone)")
    assert "The callback plugin 'gone' (lit_broken:Gone) from distribution lit-broken 1.0 failed to import: AttributeError" in gone
    assert "Reinstall or upgrade lit-broken" in gone
    missing = problems_of(out, "lit-broken 1.0: callback 'nomodule' (lit_broken_missing:Fine)")
    assert "failed to import: ModuleNotFoundError: No module named 'lit_broken_missing'" in missing


def test_a_class_that_cannot_be_built_by_name_is_reported(install_distribution, capsys):
    install_distribution("lit-needsargs", {"lit_needsargs": """
        import lit_core as lit

        class Needy(lit.Callback):
            def __init__(self, threshold):
                self.threshold = threshold

        class Exploding(lit.Logger):
            def __init__(self, save_dir="."):
                raise RuntimeError("no credentials configured")
        """}, {"lit.callbacks": {"needy": "lit_needsargs:Needy"}, "lit.loggers": {"exploding": "lit_needsargs:Exploding"}})
    status, out = run_check(capsys)
    assert status == 1
    needy = problems_of(out, "lit-needsargs 1.0: callback 'needy' (lit_needsargs:Needy)")
    assert "callback='needy' cannot build Needy: PluginError: callback='needy' got the class Needy, which needs arguments (threshold)" in needy
    assert "Fix: give every argument of Needy.__init__ a default" in needy
    exploding = problems_of(out, "lit-needsargs 1.0: logger 'exploding' (lit_needsargs:Exploding)")
    assert "logger='exploding' cannot build Exploding: RuntimeError: no credentials configured" in exploding


def test_an_object_of_another_kind_is_reported(install_distribution, capsys):
    install_distribution("lit-wrongkind", {"lit_wrongkind": """
        import lit_core as lit

        class NotALogger(lit.Callback):
            pass
        """}, {"lit.loggers": {"wrongkind": "lit_wrongkind:NotALogger"}})
    status, out = run_check(capsys)
    assert status == 1
    found = problems_of(out, "lit-wrongkind 1.0: logger 'wrongkind' (lit_wrongkind:NotALogger)")
    assert "logger='wrongkind' gives a NotALogger, which is not a Logger: a Trainer refuses it." in found
    assert "Fix: subclass lit_core.plugin_api.Logger" in found


def test_a_name_two_distributions_register_is_reported(install_distribution, capsys):
    source = {"lit_twin_{}": """
        import lit_core as lit

        class Twin(lit.Callback):
            pass
        """}
    for side in ("a", "b"):
        install_distribution(f"lit-twin-{side}", {k.format(side): v for k, v in source.items()},
                             {"lit.callbacks": {"twin": f"lit_twin_{side}:Twin"}})
    status, out = run_check(capsys)
    assert status == 1
    found = problems_of(out, "lit-twin-a and lit-twin-b: callback 'twin' (lit_twin_a:Twin, lit_twin_b:Twin)")
    assert "The callback name 'twin' is registered by 2 distributions: lit-twin-a 1.0 (lit_twin_a:Twin) and" in found
    assert "Uninstall all but one of them" in found


def test_two_callbacks_that_save_state_under_one_key_are_reported(install_distribution, capsys):
    for side in ("a", "b"):
        install_distribution(f"lit-keyed-{side}", {f"lit_keyed_{side}": """
            import lit_core as lit

            class Stopper(lit.Callback):
                def state_dict(self):
                    return {"wait": 0}
            """}, {"lit.callbacks": {f"stopper_{side}": f"lit_keyed_{side}:Stopper"}})
    status, out = run_check(capsys)
    assert status == 1
    found = problems_of(out, "lit-keyed-b 1.0: callback 'stopper_b' (lit_keyed_b:Stopper)")
    assert "callback='stopper_b' and callback='stopper_a' (lit-keyed-a) cannot be used together:" in found
    assert "Found more than one stateful callback of type `Stopper` with state_key 'Stopper'" in found
    assert "override `Stopper.state_key` to make each unique" in found


def test_unavailable_reason_that_is_an_instance_method_is_reported(install_distribution, capsys):
    install_distribution("lit-instreason", {"lit_instreason": """
        import lit_core as lit

        class Cloudy(lit.Logger):
            def unavailable_reason(self):
                return None

        class Raising(lit.Logger):
            @classmethod
            def unavailable_reason(cls):
                raise OSError("driver query failed")
        """}, {"lit.loggers": {"cloudy": "lit_instreason:Cloudy", "raising": "lit_instreason:Raising"}})
    status, out = run_check(capsys)
    assert status == 1
    cloudy = problems_of(out, "lit-instreason 1.0: logger 'cloudy' (lit_instreason:Cloudy)")
    assert "Cloudy.unavailable_reason is an instance method, but lit asks the class" in cloudy
    assert "Fix: decorate it with @classmethod." in cloudy
    raising = problems_of(out, "lit-instreason 1.0: logger 'raising' (lit_instreason:Raising)")
    assert "Raising.unavailable_reason() raised OSError: driver query failed." in raising


def test_hook_arguments_that_do_not_fit_are_the_registrys_error(install_distribution, capsys):
    install_distribution("lit-badargs", {"lit_badargs": """
        import lit_core as lit

        class BadArgs(lit.Callback):
            @lit.hookimpl
            def lit_train_start(self, trainer, modul):
                pass
        """}, {"lit.callbacks": {"badargs": "lit_badargs:BadArgs"}})
    status, out = run_check(capsys)
    assert status == 1
    found = problems_of(out, "lit-badargs 1.0: callback 'badargs' (lit_badargs:BadArgs)")
    assert "does not fit lit's hooks" in found and "modul" in found
    assert "Fix: rename the arguments after the hookspec's." in found


def test_json_is_one_object_with_plugins_and_problems(install_distribution, capsys):
    install_distribution("lit-jsoncheck", {"lit_jsoncheck": """
        import lit_core as lit

        class Quiet(lit.Callback):
            def lit_train_start(self, trainer):
                pass
        """}, {"lit.callbacks": {"jsoncheck": "lit_jsoncheck:Quiet"}})
    status, out = run_check(capsys, "--json")
    assert status == 1
    report = json.loads(out)
    assert set(report) == {"plugins", "problems"}
    assert any(row["name"] == "jsoncheck" and row["distribution"] == "lit-jsoncheck" for row in report["plugins"])
    (problem,) = report["problems"]
    assert problem["distribution"] == "lit-jsoncheck" and problem["version"] == "1.0"
    assert (problem["kind"], problem["name"], problem["plugin"]) == ("callback", "jsoncheck", "lit_jsoncheck:Quiet")
    assert problem["message"].startswith("Quiet.lit_train_start has no @lit.hookimpl marker")


def test_every_line_fits_100_columns(install_distribution, capsys):
    install_distribution("lit-a-distribution-with-a-rather-long-name", {"lit_longname": """
        import lit_core as lit

        class AnUnusuallyLongCallbackClassName(lit.Callback):
            def lit_train_start(self, trainer):
                pass

            def on_validation_batch_ends(self, trainer, pl_module, outputs, batch, batch_idx):
                pass
        """}, {"lit.callbacks": {"long_callback_name": "lit_longname:AnUnusuallyLongCallbackClassName"}})
    for argv in (["plugins"], ["plugins", "--check"]):
        commands.main(argv)
        out = capsys.readouterr().out
        assert max(len(line) for line in out.splitlines()) <= commands.WIDTH, out


def _env(*paths: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([*map(str, paths), os.environ.get("PYTHONPATH", "")])}


def test_lit_plugins_piped_into_head_has_no_broken_pipe_error(install_distribution):
    # More output than a pipe holds (64 KiB), so that `head` closes it while lit is still writing.
    names = {f"bulk_{i:04d}": "lit_bulk:Quiet" for i in range(1500)}
    site = install_distribution("lit-bulk", {"lit_bulk": """
        import lit_core as lit

        class Quiet(lit.Callback):
            pass
        """}, {"lit.callbacks": names})
    lit_command = " ".join(LIT)
    for flags in ("", " --json"):
        done = subprocess.run(f"{lit_command} plugins{flags} | head -1", shell=True, capture_output=True, text=True,
                              env=_env(site), timeout=300)
        assert done.stdout.split() in (["kind", "name", "distribution", "version", "available"], ["["])
        assert "BrokenPipeError" not in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_lit_plugins_finds_no_plugin_unavailable_for_an_error():
    """No installed plugin is listed unavailable because asking it raised (lit-mlflow's instance-method TypeError)."""
    rows = json.loads(subprocess.run([*LIT, "plugins", "--json"], capture_output=True, text=True, check=True,
                                     timeout=300).stdout)
    assert any(row["distribution"] == "lit-mlflow" for row in rows), "lit-mlflow is installed in the development venv"
    broken = [(row["name"], row["reason"]) for row in rows if not row["available"] and (
        "Error" in row["reason"] or "required positional argument" in row["reason"])]
    assert broken == []


def test_the_documented_listing_is_what_lit_core_alone_prints():
    """docs/plugins.rst shows ``lit plugins`` with lit-core alone: the same lines as lit-core's rows here."""
    docs = (Path(__file__).parents[2] / "docs" / "plugins.rst").read_text()
    block = docs.split("        $ lit plugins\n", 1)[1].split("\n\n", 1)[0]
    shown = [line[8:] for line in block.splitlines()]
    rows = [row for row in commands.describe_plugins() if row["distribution"] == "lit-core"]
    for row in rows:
        row["version"] = "0.1.0"  # the docs show lit-core 0.1.0 whatever the version installed
    assert shown == commands._table(rows).splitlines()


def test_the_lit_command_exits_with_status_1_on_a_problem(install_distribution):
    site = install_distribution("lit-cliproblem", {"lit_cliproblem": """
        import lit_core as lit

        class Quiet(lit.Callback):
            def on_fit_starts(self, trainer, pl_module):
                pass
        """}, {"lit.callbacks": {"cliproblem": "lit_cliproblem:Quiet"}})
    done = subprocess.run([*LIT, "plugins", "--check"], capture_output=True, text=True, env=_env(site), timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "lit-cliproblem 1.0: callback 'cliproblem' (lit_cliproblem:Quiet)" in done.stdout
    assert "did you mean 'on_fit_start'?" in done.stdout and done.stderr == ""
