#!/usr/bin/env bash
# Build a wheel of every distribution in the repository (core, plugins/*, contrib/*) into .whl/,
# for machines that have torch but no hatchling and no package index (tests/device_check.sh
# installs them from there). The wheels are pure Python: build them here, copy the tree there.
#
#   tests/build_device_wheels.sh            # with .venv/bin/python (hatchling installed there)
#   PY=python3 tests/build_device_wheels.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}

dists=(./core)
for pyproject in plugins/*/pyproject.toml contrib/*/pyproject.toml; do
    [ -f "$pyproject" ] && dists+=("./$(dirname "$pyproject")")
done

rm -rf .whl
mkdir .whl
failed=()
for dist in "${dists[@]}"; do
    # No build isolation: the builder (hatchling) comes from $PY's environment, so no index is needed.
    "$PY" -m pip wheel --quiet --no-deps --no-build-isolation -w .whl "$dist" || failed+=("$dist")
done
echo "built $(ls .whl | wc -l) wheels for ${#dists[@]} distributions in .whl/:"
ls .whl
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED to build: ${failed[*]}" >&2
    exit 1
fi
