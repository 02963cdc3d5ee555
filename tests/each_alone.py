"""Each plugin distribution alone: its wheel, lit-core's and its declared dependencies only, its own tests.

    .venv/bin/python tests/each_alone.py                 # every plugin, two at a time
    .venv/bin/python tests/each_alone.py wandb mlflow    # some (the folder names under plugins/ or contrib/)
    .venv/bin/python tests/each_alone.py --json out.json --jobs 1

For each distribution under ``plugins/`` and ``contrib/``, a fresh venv gets the wheels of lit-core, the
plugin (with its ``test`` extra when it declares one) and the first-party distributions these declare,
from the wheels built here (never from an index: PyPI's unrelated "lit-core" 0.0.x must not be picked),
then the third-party requirements they declare, from the package index. Then the plugin's own tests
(``tests/plugins/<name>`` or ``tests/contrib/<name>``) run there. A test importing a first-party
distribution the plugin does not declare fails, as it would for a user who installed the plugin alone.

torch (~700 MB) is not copied into each venv: one base venv with torch and pytest is built once per
machine, in a cache keyed by its requirements and the interpreter (``~/.cache/lit/venv-alone-<key>``, as
the Makefile's XLA cache), and each venv sees its site-packages through a ``.pth`` file.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from zipfile import ZipFile

import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


@dataclass
class Plugin:
    """A plugin distribution of this repository and the tests that are its own."""

    name: str  # the distribution, e.g. lit-wandb
    source: Path  # plugins/wandb
    tests: Path  # tests/plugins/wandb


@dataclass
class Result:
    """What happened to one plugin alone."""

    name: str
    folder: str  # plugins/wandb
    ok: bool
    stage: str  # "install", "check" or "test": where it stopped (the last one when ok)
    installed: list[str] = field(default_factory=list)  # pip freeze of the venv (its own site-packages)
    seconds: float = 0.0
    summary: str = ""  # pytest's last line, or the failing command's last lines
    log: str = ""


def plugins() -> list[Plugin]:
    """Every distribution under plugins/ and contrib/, with its tests folder (which may be missing)."""
    found = []
    for pyproject in sorted([*REPO.glob("plugins/*/pyproject.toml"), *REPO.glob("contrib/*/pyproject.toml")]):
        name = tomllib.loads(pyproject.read_text())["project"]["name"]
        source = pyproject.parent
        found.append(Plugin(name, source, REPO / "tests" / source.parent.name / source.name))
    return found


def build_wheels(folder: Path) -> dict[str, Path]:
    """A wheel of lit-core and of every plugin, into ``folder``; ``{canonical name: wheel}``."""
    sources = [REPO / "core", *(p.source for p in plugins())]
    # Without build isolation when hatchling is installed here (faster, no index needed); else pip fetches it.
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("hatchling") else []
    subprocess.run([PYTHON, "-m", "pip", "wheel", "--quiet", "--no-deps", *isolation, "-w", str(folder), *map(str, sources)],
                   check=True)
    wheels = {canonicalize_name(w.name.split("-")[0]): w for w in folder.glob("*.whl")}
    assert len(wheels) == len(sources), f"built {sorted(wheels)} for {len(sources)} distributions"
    return wheels


def requires(wheel: Path, extras: set[str]) -> list[Requirement]:
    """The wheel's Requires-Dist that apply here with ``extras`` requested."""
    with ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        text = zf.read(name).decode()
    found = []
    for line in text.splitlines():
        if not line.startswith("Requires-Dist:"):
            continue
        req = Requirement(line.partition(":")[2].strip())
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in extras or {""}):
            found.append(req)
    return found


def has_extra(wheel: Path, extra: str) -> bool:
    with ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        return f"Provides-Extra: {extra}" in zf.read(name).decode().splitlines()


def declared(plugin: str, wheels: dict[str, Path]) -> tuple[list[Path], list[str]]:
    """The first-party wheels ``plugin`` needs (itself and lit-core included) and its third-party requirements.

    Its ``test`` extra counts (test-only dependencies are declared there); the extras of the
    first-party distributions it names are followed as written.
    """
    first: dict[str, Path] = {}
    third: list[str] = []
    todo: list[tuple[str, set[str]]] = [(canonicalize_name(plugin), {"test"} if has_extra(wheels[canonicalize_name(plugin)], "test") else set()),
                                        ("lit-core", set())]
    while todo:
        name, extras = todo.pop()
        if name in first:
            continue
        first[name] = wheels[name]
        for req in requires(wheels[name], extras):
            key = canonicalize_name(req.name)
            if key in wheels:
                todo.append((key, set(req.extras)))
            else:
                req.marker = None  # evaluated above
                third.append(str(req))
    return list(first.values()), third


def base_venv() -> Path:
    """The cached venv with torch (this environment's release) and pytest; built once per machine."""
    reqs = [f"torch=={metadata.version('torch').split('+')[0]}", f"pytest=={metadata.version('pytest')}"]
    key = hashlib.sha256(f"{' '.join(reqs)}|{sys.version}".encode()).hexdigest()[:16]
    cache = Path(os.environ.get("LIT_ALONE_CACHE", Path.home() / ".cache" / "lit" / f"venv-alone-{key}"))
    if (cache / ".complete").exists():
        return cache
    cache.parent.mkdir(parents=True, exist_ok=True)
    # Built beside its final name and renamed when complete; the lock keeps two runs from building it at once.
    with open(f"{cache}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (cache / ".complete").exists():
            partial = Path(f"{cache}.partial")
            shutil.rmtree(partial, ignore_errors=True)
            subprocess.run([PYTHON, "-m", "venv", "--without-pip", str(partial)], check=True)
            pip(partial, "install", "-qq", *reqs)  # -qq: not the index warnings of every file
            (partial / ".complete").touch()
            shutil.rmtree(cache, ignore_errors=True)
            partial.rename(cache)
    return cache


def pip(venv: Path, *args: str, log: Path | None = None) -> subprocess.CompletedProcess:
    """This environment's pip acting on ``venv`` (which needs no pip of its own); output appended to ``log``."""
    command = [PYTHON, "-m", "pip", "--python", str(venv / "bin" / "python"), *args]
    if log is None:
        return subprocess.run(command, check=True)
    with open(log, "a") as out:
        return subprocess.run(command, stdout=out, stderr=subprocess.STDOUT)


def purelib(venv: Path) -> str:
    return subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()


def tail(path: Path, lines: int = 25) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def run_alone(plugin: Plugin, wheels: dict[str, Path], base: Path, work: Path, pytest_args: list[str]) -> Result:
    """Install ``plugin`` alone into a fresh venv under ``work`` and run its tests there."""
    start = time.monotonic()
    venv = work / plugin.source.name
    log = work / f"{plugin.source.name}.log"
    work.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(venv, ignore_errors=True)
    log.write_text("")
    result = Result(plugin.name, str(plugin.source.relative_to(REPO)), False, "install", log=str(log))

    def done(stage: str, ok: bool, summary: str) -> Result:
        result.stage, result.ok, result.summary = stage, ok, summary
        result.seconds = round(time.monotonic() - start, 1)
        return result

    if not plugin.tests.is_dir():
        return done("test", False, f"no tests of its own: {plugin.tests} does not exist")
    subprocess.run([PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True)
    Path(purelib(venv), "lit-alone-base.pth").write_text(f"import site; site.addsitedir({purelib(base)!r})\n")

    first, third = declared(plugin.name, wheels)
    # First-party distributions from the wheels built here only; then what they declare, from the index
    # (torch and pytest are already there, through the base).
    steps = [["install", "--no-deps", *map(str, first)]]
    if third:
        steps.append(["install", *third])
    for args in steps:
        with open(log, "a") as f:
            f.write(f"$ pip {' '.join(args)}\n")
        if pip(venv, *args, log=log).returncode:
            return done("install", False, tail(log))
    with open(log, "a") as f:
        f.write("$ pip check\n")
    if pip(venv, "check", log=log).returncode:
        return done("check", False, tail(log))
    freeze = subprocess.run([PYTHON, "-m", "pip", "--python", str(venv / "bin" / "python"), "freeze", "--local"],
                            capture_output=True, text=True, check=True).stdout
    result.installed = sorted(line for line in freeze.splitlines() if line and not line.startswith("#"))

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    with open(log, "a") as f:
        f.write(f"$ python -m pytest {plugin.tests}\n")
        f.flush()
        # From the repository's root: its pyproject.toml configures pytest, tests/conftest.py gives the fixtures.
        tested = subprocess.run([str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                 str(plugin.tests), *pytest_args],
                                cwd=REPO, env=env, stdout=f, stderr=subprocess.STDOUT)
    last = tail(log, 1)
    if tested.returncode:
        return done("test", False, tail(log, 40))
    return done("test", True, last)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="plugin folder names (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="plugins tested at once (default 2)")
    parser.add_argument("--work", type=Path, help="where the wheels, venvs and logs go (default: a temporary folder)")
    parser.add_argument("--json", type=Path, help="write the results there")
    parser.add_argument("--pytest-args", default="", help="extra arguments for each plugin's pytest")
    args = parser.parse_args(argv)

    every = plugins()
    chosen = [p for p in every if not args.names or p.source.name in args.names]
    unknown = set(args.names) - {p.source.name for p in every}
    if unknown:
        parser.error(f"no plugin folder named {sorted(unknown)}; there are {[p.source.name for p in every]}")
    work = args.work or Path(tempfile.mkdtemp(prefix="lit-alone-"))
    work.mkdir(parents=True, exist_ok=True)

    start = time.monotonic()
    wheel_dir = work / "wheels"
    shutil.rmtree(wheel_dir, ignore_errors=True)
    wheels = build_wheels(wheel_dir)
    built = time.monotonic()
    base = base_venv()
    based = time.monotonic()
    print(f"wheels {built - start:.0f} s, base venv {based - built:.0f} s ({base})", flush=True)

    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        results = list(pool.map(lambda p: run_alone(p, wheels, base, work, args.pytest_args.split()), chosen))
    for r in results:
        print(f"{'ok  ' if r.ok else 'FAIL'} {r.name:16} {r.seconds:6.1f} s  {r.stage}: {r.summary.splitlines()[-1] if r.summary else ''}")
    print(f"total {time.monotonic() - start:.0f} s; logs in {work}")
    if args.json:
        args.json.write_text(json.dumps({"results": [asdict(r) for r in results], "wheels_s": round(built - start, 1),
                                         "base_s": round(based - built, 1), "total_s": round(time.monotonic() - start, 1)},
                                        indent=1))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
