# Two commands for a newcomer: `make demo` and `make test`. Each sets up what it needs.
#   make demo   the whole network on this machine; Python packages only (`.[demo]`)
#   make test   lint, types and the suite; also installs the services the tests start
#               (deploy/dev/install-test-services.sh, as root or through sudo)
VENV     := .venv
PY       := $(VENV)/bin/python
BIN      := $(VENV)/bin
SERVICES := deploy/dev/install-test-services.sh
# One stamp per install: `dev` includes `demo`, so installing it stamps both.
DEMOSTAMP := $(VENV)/.installed-demo
DEVSTAMP  := $(VENV)/.installed-dev
NODESTAMP := node_modules/.installed

# pvlib's source archive: its data files are part of the quality model's training set,
# and tests/models rebuilds the shipped model from them.
PVLIB_SDIST := .cache/pvlib/pvlib-0.16.1.tar.gz

.PHONY: demo test lint typecheck services venv node clean

demo: $(DEMOSTAMP)
	$(BIN)/fieldproof demo

# Prerequisites run left to right: the services (and npm) come before the installs.
test: services $(DEVSTAMP) $(NODESTAMP) $(PVLIB_SDIST) lint typecheck
	FIELDPROOF_PVLIB_SDIST=$(PVLIB_SDIST) $(BIN)/pytest

lint: $(DEVSTAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(DEVSTAMP)
	$(BIN)/mypy

services:
	@./$(SERVICES)

venv: $(DEVSTAMP)

node: $(NODESTAMP)

$(PY):
	python3 -m venv $(VENV)
	# setuptools here lets tests/test_installs.py build the project's wheel offline.
	$(PY) -m pip install --quiet --upgrade pip 'setuptools>=77'

$(DEMOSTAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[demo]'
	touch $@

$(DEVSTAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[cpu,dev]'
	touch $@ $(DEMOSTAMP)

$(PVLIB_SDIST): | $(PY)
	$(PY) -m pip download --quiet --no-deps --no-binary :all: -d $(dir $@) pvlib==0.16.1

$(NODESTAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

clean:
	rm -rf $(VENV) node_modules .cache .mypy_cache .pytest_cache .ruff_cache
