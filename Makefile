# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Both bootstrap .venv idempotently: a second run only re-checks what is installed.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# The CPU build of torch lies on this machine's disk; any other version downloads gigabytes.
TORCH := torch==2.13.0
# Every distribution in the repository, installed editable.
DISTS := core $(wildcard plugins/*/pyproject.toml) $(wildcard contrib/*/pyproject.toml)
DIST_DIRS := core $(patsubst %/pyproject.toml,%,$(filter %/pyproject.toml,$(DISTS)))
DEV_TOOLS := pytest ruff scikit-learn numpy build
STAMP := $(VENV)/.bootstrap-stamp
# A distribution whose pyproject declares a `test` extra (test-only backends, e.g. the mlflow server) is installed with it.
has_test_extra = $(shell grep -qs '^test *=' $(1)/pyproject.toml && echo yes)

.PHONY: demo test bootstrap lint bench clean

demo: bootstrap
	$(PY) examples/mnist.py

test: bootstrap
	$(PY) -m pytest

lint: bootstrap
	$(VENV)/bin/ruff check .

bench: bootstrap
	$(PY) benchmarks/import_time.py
	$(PY) benchmarks/overhead.py
	$(PY) benchmarks/loop_cost.py
	$(PY) benchmarks/checkpoint.py

bootstrap: $(STAMP)

# Re-run the install only when a pyproject changes (or the venv is new).
$(STAMP): Makefile $(foreach d,$(DIST_DIRS),$(d)/pyproject.toml)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet $(foreach d,$(DIST_DIRS),-e "./$(d)$(if $(call has_test_extra,$(d)),[test])") $(DEV_TOOLS)
	touch $(STAMP)

clean:
	rm -rf $(VENV)
