#!/usr/bin/env bash
# The GPU checks, as one script for a machine with a CUDA GPU, a python3 with a CUDA build of
# torch, pytest and pluggy, but no hatchling and no package index.
#
# Before: tests/build_device_wheels.sh here (the wheels of every distribution, into .whl/),
# then copy the repository with .whl/ to the GPU machine. There, from the repository root:
#
#   OUT=/some/folder tests/device_check.sh
#
# It installs the wheels into a fresh folder put on PYTHONPATH (nothing else is touched), then
# runs tests/plugins/cuda whole and the tests marked `gpu` (pyproject.toml's marker) in the other GPU suites
# (tests/plugins/amp, tests/plugins/ddp, tests/plugins/fsdp, tests/plugins/callbacks). Each suite writes $OUT/<suite>.xml (junit) and
# $OUT/<suite>.log; $OUT/environment.txt has the GPU and versions; $OUT/summary.txt one line
# per suite. Exit status: 0 when every suite passed (skips included), 1 otherwise.
#
# Variables: PY (the interpreter, default python3), OUT (default ./device-check-out), SITE
# (where the wheels go, default a new folder under /tmp), SUITE_TIMEOUT (seconds per suite,
# default 240). Without a GPU it still runs end to end, and the GPU tests report as skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
OUT=${OUT:-$PWD/device-check-out}
SITE=${SITE:-$(mktemp -d /tmp/lit-site.XXXXXX)}
SUITE_TIMEOUT=${SUITE_TIMEOUT:-240}
mkdir -p "$OUT"

shopt -s nullglob
wheels=(.whl/*.whl)
if [ ${#wheels[@]} -eq 0 ]; then
    echo "no wheels in .whl/: run tests/build_device_wheels.sh on a machine with hatchling first" | tee "$OUT/summary.txt" >&2
    exit 2
fi
if ! "$PY" -m pip install -q --no-index --no-deps --no-compile --target "$SITE" "${wheels[@]}" > "$OUT/install.log" 2>&1; then
    # Pure-Python wheels: unpacking one is installing it (entry points live in its .dist-info).
    echo "pip install failed (see install.log); unpacking the wheels instead" >> "$OUT/install.log"
    "$PY" -c 'import sys, zipfile; [zipfile.ZipFile(w).extractall(sys.argv[1]) for w in sys.argv[2:]]' "$SITE" "${wheels[@]}" \
        >> "$OUT/install.log" 2>&1 || { echo "could not install the wheels: see $OUT/install.log" | tee "$OUT/summary.txt" >&2; exit 2; }
fi
export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"

{
    nvidia-smi 2>&1 || echo "(no nvidia-smi)"
    "$PY" - <<'PY'
import sys
import torch
import lit_core
from lit_core import registry
print("python", sys.version.split()[0], "| torch", torch.__version__, "| CUDA", torch.version.cuda,
      "| GPUs", torch.cuda.device_count(), "| lit_core", lit_core.__version__, "from", lit_core.__file__)
for kind in registry.GROUPS:
    print(kind, sorted(registry.installed(kind)))
PY
} > "$OUT/environment.txt" 2>&1

status=0
: > "$OUT/summary.txt"
run_suite() {  # run_suite NAME PYTEST-ARGS...
    local name=$1
    shift
    timeout -k 10 "$SUITE_TIMEOUT" "$PY" -m pytest -v -rA --junitxml="$OUT/$name.xml" "$@" > "$OUT/$name.log" 2>&1
    local rc=$?
    # pytest: 0 passed, 5 nothing collected (no GPU test in that suite yet); 124: timed out.
    local tally
    tally=$(grep -E '^=+ .* in [0-9.]+s' "$OUT/$name.log" | tail -n 1)
    echo "$name: rc=$rc $tally" | tee -a "$OUT/summary.txt"
    [ $rc -eq 0 ] || [ $rc -eq 5 ] || status=1
}

run_suite cuda tests/plugins/cuda
for suite in amp ddp fsdp callbacks; do
    if [ -d "tests/plugins/$suite" ]; then
        run_suite "$suite" "tests/plugins/$suite" -m gpu
    fi
done
# The per-step sync counts (a report, not a test: the test is tests/plugins/cuda/test_cuda_no_host_sync.py).
timeout -k 10 "$SUITE_TIMEOUT" "$PY" benchmarks/host_syncs.py > "$OUT/host_syncs.txt" 2>&1
echo "host_syncs: rc=$? (see host_syncs.txt)" | tee -a "$OUT/summary.txt"
exit $status
