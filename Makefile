# Two commands for a newcomer: `make demo` and `make test`. Each sets up what it needs.
VENV   := .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
PYSTAMP   := $(VENV)/.installed
NODESTAMP := node_modules/.installed

.PHONY: demo test lint typecheck venv node clean

demo: $(PYSTAMP)
	$(BIN)/fieldproof demo

test: $(PYSTAMP) $(NODESTAMP) lint typecheck
	$(BIN)/pytest

lint: $(PYSTAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(PYSTAMP)
	$(BIN)/mypy

venv: $(PYSTAMP)

node: $(NODESTAMP)

$(PYSTAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[cpu,dev]'
	touch $@

$(NODESTAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

clean:
	rm -rf $(VENV) node_modules .mypy_cache .pytest_cache .ruff_cache
