# storemind: the two commands are `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --quiet --constraint requirements.lock

.PHONY: demo test install install-test lint bench clean

## demo: set up .venv, build a simulated store, train every capability, serve API + dashboard
demo: $(VENV)/.installed
	$(BIN)/storemind demo

## test: set up .venv with the test extras and system packages, run the whole suite
test: $(VENV)/.installed-test
	./scripts/system-deps.sh
	$(BIN)/ruff check src tests benchmarks
	if [ -f ../shared/tools/archcheck.py ]; then python3 ../shared/tools/archcheck.py; fi
	$(BIN)/python -m pytest

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==26.3"
	touch $@

# torch is named first so the CPU build pinned in pyproject is the one resolved
$(VENV)/.installed: $(VENV)/.created pyproject.toml requirements.lock
	$(PIP) "torch==2.13.0"
	$(PIP) -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) -e ".[test,spark]"
	touch $@

lint: $(VENV)/.installed-test
	$(BIN)/ruff check src tests benchmarks

## bench: reference libraries for benchmarks/ (kept out of the runtime)
bench: $(VENV)/.installed-test
	$(PIP) -e ".[bench]"

clean:
	rm -rf $(VENV) storemind-home
