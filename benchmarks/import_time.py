"""What ``import lit_core`` costs on top of ``import torch``, in fresh interpreters.

Three kinds of fresh ``python -c`` processes, interleaved (``--runs`` of each, median):

* ``torch``: times ``import torch``;
* ``lit_core``: times ``import lit_core`` alone (torch comes with it);
* ``lit_core after torch``: imports torch, then times ``import lit_core``: lit's own cost,
  without the variance of torch's import in it. The goal is judged on this figure.

Then ``python -X importtime`` runs (``--profile-runs``) list the modules that lit_core pulls
in beyond torch, by cumulative import time (median over the runs), to find regressions.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from dataclasses import dataclass, field

#: Goal for ``import lit_core`` above ``import torch``, seconds.
GOAL_S = 0.15
TOP = 5

_TIMED = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
KINDS = {
    "torch": _TIMED.format(module="torch"),
    "lit_core": _TIMED.format(module="lit_core"),
    "lit_core after torch": "import torch; " + _TIMED.format(module="lit_core"),
}
#: ``-X importtime`` lines: ``import time: <self us> | <cumulative us> | <indented name>``.
_IMPORTTIME = re.compile(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S+)")


def python(*args: str) -> subprocess.CompletedProcess[str]:
    """Run this interpreter in a fresh process; fail loudly when it fails.

    Bytecode caching is left on (as for a user): with ``PYTHONDONTWRITEBYTECODE`` set, every
    run would recompile the modules edited since their last ``.pyc``.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPROFILEIMPORTTIME", "PYTHONDONTWRITEBYTECODE")}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, check=True, env=env)


def time_imports(runs: int) -> dict[str, list[float]]:
    """``runs`` timings (seconds) of each kind, the kinds interleaved run by run.

    One untimed run first writes stale ``.pyc`` files and warms the file cache.
    """
    python("-c", KINDS["lit_core"])
    times: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for _ in range(runs):
        for kind, code in KINDS.items():
            times[kind].append(float(python("-c", code).stdout.strip().splitlines()[-1]))
    return times


@dataclass
class ModuleImport:
    """One module in ``-X importtime``'s tree: its times over the runs and who imported it."""

    parent: str
    cumulative: list[float] = field(default_factory=list)
    own: list[float] = field(default_factory=list)


def importtime_profile(runs: int) -> tuple[float, list[tuple[str, float, float, str]]]:
    """lit_core's cumulative time and the modules it pulls in beyond torch (median over ``runs``).

    Torch is imported first, so every line after it belongs to ``import lit_core``. Returns
    ``(lit_core cumulative s, [(module, cumulative s, self s, imported by), ...])``, largest
    first, ``torch.*`` left out.
    """
    modules: dict[str, ModuleImport] = {}
    for _ in range(runs):
        lines = python("-X", "importtime", "-c", "import torch; import lit_core").stderr.splitlines()
        start = next(i for i, line in enumerate(lines) if _IMPORTTIME.match(line) and line.rstrip().endswith("| torch"))
        # Children are printed before their parent, one indentation level deeper.
        pending: list[tuple[int, str]] = []
        parents: dict[str, str] = {}
        for match in filter(None, map(_IMPORTTIME.match, lines[start + 1:])):
            depth, name = len(match[3]), match[4]
            while pending and pending[-1][0] > depth:
                parents[pending.pop()[1]] = name
            pending.append((depth, name))
            entry = modules.setdefault(name, ModuleImport(parent=""))
            entry.cumulative.append(int(match[2]) / 1e6)
            entry.own.append(int(match[1]) / 1e6)
        for name, parent in parents.items():
            modules[name].parent = parent
    top = modules.pop("lit_core", ModuleImport(parent="", cumulative=[0.0]))
    rows = [(name, statistics.median(m.cumulative), statistics.median(m.own), m.parent)
            for name, m in modules.items() if not name.startswith("torch")]
    rows.sort(key=lambda row: row[1], reverse=True)
    return statistics.median(top.cumulative), rows


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="fresh processes per kind (default 9)")
    parser.add_argument("--profile-runs", type=int, default=3, help="-X importtime runs (default 3)")
    parser.add_argument("--quick", action="store_true", help="smoke test: 1 run per kind, 1 -X importtime run")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.profile_runs = 1, 1
    if args.runs < 1 or args.profile_runs < 1:
        parser.error("--runs and --profile-runs must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"lit import-time benchmark: {sys.executable} (python {sys.version.split()[0]}); "
          f"{args.runs} fresh process(es) per kind, interleaved, median")
    times = time_imports(args.runs)
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    for kind, values in times.items():
        print(f"{'import ' + kind:<28}median {medians[kind]:.3f} s  (min {min(values):.3f}, max {max(values):.3f})")
    print(f"{'difference':<28}{medians['lit_core'] - medians['torch']:+.3f} s  (import lit_core - import torch)")
    total, rows = importtime_profile(args.profile_runs)
    print(f"\n-X importtime, median of {args.profile_runs} run(s): lit_core cumulative {total:.3f} s above torch; "
          f"top {TOP} modules it pulls in (torch.* left out):")
    print(f"  {'cumulative s':>12}  {'self s':>8}  {'module':<28}imported by")
    for name, cum, own, parent in rows[:TOP]:
        print(f"  {cum:>12.4f}  {own:>8.4f}  {name:<28}{parent}")
    value = medians["lit_core after torch"]
    verdict = "PASS" if value <= GOAL_S else "FAIL"
    print(f"\nGOAL import lit_core above import torch: {value:.3f}s <= {GOAL_S:g}s -> {verdict}")
    if args.quick:
        print("(--quick: a smoke test; too few runs to judge the goal)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
