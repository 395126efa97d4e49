# steadyml developer tasks. Needs only python3 (3.11+) with venv and pip.
#   make venv | install | demo | test | bench      (make test PYTEST_ARGS="-k audit -x")

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
DEMO_HOME := $(CURDIR)/.steady-demo
PYTEST_ARGS ?=

export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help venv install demo test bench lint clean

help:
	@echo "make venv     create $(VENV) (python3 -m venv) and upgrade pip"
	@echo "make install  install steadyml with scikit-learn support into $(VENV)"
	@echo "make demo     run 'steady demo' in a fresh STEADY_HOME ($(DEMO_HOME))"
	@echo "make test     install the test extras and run every test (PYTEST_ARGS=...)"
	@echo "make bench    run the benchmarks"
	@echo "make lint     run ruff over src, tests and benchmarks"

# Stamps live inside the venv, so deleting .venv forgets them; an edited pyproject.toml
# reinstalls.
venv: $(VENV)/.venv-ready

$(VENV)/.venv-ready:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	touch $@

install: $(VENV)/.installed-sklearn

$(VENV)/.installed-sklearn: pyproject.toml $(VENV)/.venv-ready
	$(PIP) install -e '.[sklearn]'
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.venv-ready
	$(PIP) install -e '.[test]'
	touch $@

demo: install
	rm -rf $(DEMO_HOME)
	STEADY_HOME=$(DEMO_HOME) $(BIN)/steady demo

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/bench_tracking.py

lint: $(VENV)/.venv-ready
	$(PIP) install --quiet ruff
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(DEMO_HOME) .pytest_cache .hypothesis build dist
