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
DEV_TOOLS := pytest ruff scikit-learn numpy build hatchling torchmetrics jsonargparse
STAMP := $(VENV)/.bootstrap-stamp
# A distribution whose pyproject declares a `test` extra (test-only backends, e.g. the mlflow server) or a `docs`
# extra (lit-core's: Sphinx, for `make docs`) is installed with it.
comma := ,
empty :=
space := $(empty) $(empty)
has_extra = $(shell grep -qs '^$(2) *=' $(1)/pyproject.toml && echo $(2))
extras_of = $(subst $(space),$(comma),$(strip $(call has_extra,$(1),test) $(call has_extra,$(1),docs)))

# lit-xla's tests need real torch_xla, which loads only with its own torch (2.9.0), not the CPU torch above.
# The heavy part (torch + torch_xla, ~7 GB) is built once per machine in a cache keyed by its requirements
# and the interpreter; .venv-xla is a small venv of this clone that sees the cache through a .pth file and
# holds this clone's distributions, editable. Deleting the cache only costs a rebuild.
XLA_REQS := torch==2.9.0 torch-xla==2.9.0 pytest
XLA_KEY := $(shell printf '%s|%s' '$(XLA_REQS)' "$$($(PYTHON) -c 'import sys; print(sys.version)')" | sha256sum | cut -c1-16)
XLA_CACHE ?= $(HOME)/.cache/lit/venv-xla-$(XLA_KEY)
XLA_VENV := .venv-xla
XLA_PY := $(XLA_VENV)/bin/python
XLA_DISTS := core plugins/ddp plugins/xla plugins/checkpoint plugins/amp plugins/demos
XLA_STAMP := $(XLA_VENV)/.bootstrap-stamp
purelib = $$($(1) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')

.PHONY: demo test docs bootstrap bootstrap-xla lint bench clean

demo: bootstrap
	$(PY) examples/mnist.py

# The docs build first: it takes about 10 s and fails fast on a broken docstring or reference.
test: bootstrap bootstrap-xla docs
	$(PY) -m pytest
	PJRT_DEVICE=CPU $(XLA_PY) -m pytest tests/xla

# The documentation as a site, docs/_build/html. -W: a warning is an error; -n (nitpicky): every
# cross-reference must resolve (docs/conf.py lists the third-party names it cannot); -E: a fresh
# environment, so that the warnings of pages that did not change are reported again.
docs: bootstrap
	$(VENV)/bin/sphinx-build -W -n -E --keep-going -q -b html docs docs/_build/html

lint: bootstrap
	$(VENV)/bin/ruff check .

bench: bootstrap
	$(PY) benchmarks/import_time.py
	$(PY) benchmarks/overhead.py
	$(PY) benchmarks/profiler.py
	$(PY) benchmarks/loop_cost.py
	$(PY) benchmarks/checkpoint.py
	$(PY) benchmarks/ddp.py
	$(PY) benchmarks/fsdp.py
	$(PY) benchmarks/kernel_size.py --goals

bootstrap: $(STAMP)

# Re-run the install only when a pyproject changes (or the venv is new).
$(STAMP): Makefile $(foreach d,$(DIST_DIRS),$(d)/pyproject.toml)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet $(foreach d,$(DIST_DIRS),-e "./$(d)$(if $(call extras_of,$(d)),[$(call extras_of,$(d))])") $(DEV_TOOLS)
	touch $(STAMP)

bootstrap-xla: $(XLA_STAMP)

# Built beside its final name and renamed when complete, so an interrupted build is never mistaken for a
# cache; flock keeps two clones on one machine from building it at once.
$(XLA_CACHE)/.complete:
	mkdir -p $(dir $(XLA_CACHE))
	flock $(XLA_CACHE).lock sh -c 'test -e $@ || { rm -rf $(XLA_CACHE).partial && \
	  $(PYTHON) -m venv $(XLA_CACHE).partial && \
	  $(XLA_CACHE).partial/bin/python -m pip install --quiet $(XLA_REQS) && \
	  touch $(XLA_CACHE).partial/.complete && rm -rf $(XLA_CACHE) && mv $(XLA_CACHE).partial $(XLA_CACHE); }'

$(XLA_STAMP): $(XLA_CACHE)/.complete Makefile $(foreach d,$(XLA_DISTS),$(d)/pyproject.toml)
	test -x $(XLA_PY) || $(PYTHON) -m venv $(XLA_VENV)
	echo "import site; site.addsitedir('$(call purelib,$(XLA_CACHE)/bin/python)')" > "$(call purelib,$(XLA_PY))/lit-xla-cache.pth"
	$(XLA_PY) -m pip install --quiet $(foreach d,$(XLA_DISTS),-e "./$(d)") scikit-learn
	touch $(XLA_STAMP)

clean:
	rm -rf $(VENV) $(XLA_VENV)
