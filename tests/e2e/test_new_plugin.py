"""``lit new-plugin``: each kind's generated distribution builds, installs alone next to lit-core, and passes its own tests.

As a plugin author would: the ``lit`` command writes the folder, pip builds the wheel with the
folder's own ``pyproject.toml`` and installs it, and the folder's tests run with pytest in an
interpreter that sees lit-core (installed from its wheel too) and this plugin, and no other lit
distribution.

How the interpreter is made, and why: the plugin's wheel is installed with ``pip install
--target`` into a folder of its own, put on ``PYTHONPATH``; lit-core's wheel the same way, once
for the module. The interpreter is a venv made without pip whose one ``.pth`` file names that
lit-core folder and a *view* of the development venv's site-packages: symbolic links to every
entry but the lit distributions (their metadata and their editable-install hooks). So the
third-party requirements (torch, pluggy, pytest...) are the development venv's, nothing is
downloaded, and nothing is written into the development venv (checked after each test); a
``pip install --no-deps -e`` there would have changed it and shown every first-party plugin
to the generated tests.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: A plugin of each kind, named as an author might (a '-' in the name becomes '_' in the package).
PLUGINS = {"logger": "jsonl", "callback": "epoch-ends", "accelerator": "channels-last", "strategy": "stage-log",
           "precision": "float64"}
#: What the development venv's site-packages holds for lit distributions: metadata and editable-install hooks.
LIT_ENTRY = re.compile(r"(_editable_impl_|__editable__[._])?lit_")

pytestmark = pytest.mark.slow


def pip_install_target(source: Path, target: Path) -> None:
    """Build ``source``'s wheel with its own pyproject (this venv's hatchling, no download) and install it into ``target``."""
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--disable-pip-version-check",
                    "--target", str(target), str(source)], check=True, capture_output=True, text=True)


def dev_site_state() -> list[str]:
    """What the development venv's site-packages holds (to check a test left it as it was)."""
    return sorted(os.listdir(sysconfig.get_paths()["purelib"]))


@pytest.fixture(scope="module")
def alone_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An interpreter with lit-core's wheel and the development venv's third-party packages, no other lit distribution."""
    root = tmp_path_factory.mktemp("alone")
    dev_site = Path(sysconfig.get_paths()["purelib"])
    view = root / "view"
    view.mkdir()
    for entry in dev_site.iterdir():
        if not LIT_ENTRY.match(entry.name):
            (view / entry.name).symlink_to(entry)
    pip_install_target(REPO / "core", root / "lit-core")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True)
    python = root / "venv" / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "lit_alone.pth").write_text(f"{root / 'lit-core'}\n{view}\n")
    return python


def run_alone(python: Path, args: list[str], plugin_site: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "LIT_", "PYTEST_"))}
    env.update(PYTHONPATH=str(plugin_site), PYTHONNOUSERSITE="1")
    return subprocess.run([str(python), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("kind", list(PLUGINS))
def test_generated_plugin_installed_alone_passes_its_tests(kind: str, alone_python: Path, tmp_path: Path) -> None:
    name = PLUGINS[kind]
    distribution, package = f"lit-{name}", "lit_" + name.replace("-", "_")
    before = dev_site_state()

    folder = tmp_path / distribution
    made = subprocess.run([sys.executable, "-m", "lit_core.commands", "new-plugin", name, "--kind", kind, "--dir", str(folder)],
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    assert {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()} == {
        "pyproject.toml", "README.md", "CHANGELOG.md", f"src/{package}/__init__.py", f"src/{package}/py.typed",
        f"tests/test_{name.replace('-', '_')}.py"}

    site = tmp_path / "site"
    pip_install_target(folder, site)
    assert (site / package / "py.typed").exists(), "py.typed is not in the wheel"

    # The folder's tests, on the installed wheel (src/ is not on the path), in the folder as its author runs them.
    tests = run_alone(alone_python, ["-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"], site, folder)
    assert tests.returncode == 0, tests.stdout[-6000:] + tests.stderr[-3000:]
    summary = tests.stdout.strip().splitlines()[-1]
    assert re.search(r"\d+ passed", summary) and "failed" not in summary and "error" not in summary, summary

    # Installed alone: lit sees lit-core and this distribution only, and the plugin can run here.
    listing = run_alone(alone_python, ["-m", "lit_core.commands", "plugins", "--json"], site, tmp_path)
    assert listing.returncode == 0, listing.stderr
    rows = json.loads(listing.stdout)
    assert {row["distribution"] for row in rows} == {"lit-core", distribution}
    (row,) = [row for row in rows if row["distribution"] == distribution]
    assert (row["kind"], row["name"], row["version"], row["available"]) == (kind, name, "0.1.0", True), row

    assert dev_site_state() == before, "the test changed the development venv"
