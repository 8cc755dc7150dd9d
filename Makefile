# cnbext: the two commands of the README are `make demo` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
# The local engine runs without a bridge network: builds that run commands need the host's.
export CNBEXT_NETWORK ?= host
REGISTRY := localhost:5000

.PHONY: help engine engine-down install stack demo test unit lint bench clean

help:
	@echo "make demo         engine if needed, install, extend the example run image and publish it"
	@echo "make test         lint, type-check and run every test (unit and engine)"
	@echo "make unit         unit tests only (no engine, seconds)"
	@echo "make engine       start Docker + buildx, registries :5000/:5001 and the fixture image"
	@echo "make engine-down  stop what 'make engine' started"
	@echo "make bench        time cnbext against hand-written docker buildx commands (-> bench-results.txt)"

engine:
	@bash scripts/engine.sh up

engine-down:
	@bash scripts/engine.sh down

$(BIN)/cnbext: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

install: $(BIN)/cnbext

stack: engine
	@bash scripts/example-stack.sh

demo: engine install stack
	@echo "== cnbext extend: add jq and tree to the example run image, publish under two names"
	$(BIN)/cnbext extend $(REGISTRY)/demo/run:extended $(REGISTRY)/demo-mirror/run:extended \
	  --config builder-examples/extend/extend.toml --publish
	@echo "== the published image runs jq as its non-root user"
	docker run --rm --pull always $(REGISTRY)/demo-mirror/run:extended \
	  sh -c 'echo "user: $$(id -u):$$(id -g)"; jq --version'
	@echo "== its io.buildpacks.extend.metadata label"
	@docker image inspect $(REGISTRY)/demo-mirror/run:extended \
	  --format '{{ index .Config.Labels "io.buildpacks.extend.metadata" }}'
	@echo "== apply the run-motd image extension (builder-examples/extensions) ahead of time"
	$(BIN)/cnbext extend $(REGISTRY)/demo/run:motd --config builder-examples/extend/extend.toml \
	  --extension builder-examples/extensions/run-motd --env MOTD_GREETING="hello from make demo"
	docker run --rm $(REGISTRY)/demo/run:motd cat /etc/motd

lint: install
	$(BIN)/ruff check cnbext tests scripts
	$(BIN)/ruff format --check cnbext tests scripts
	$(BIN)/mypy --strict cnbext tests

# Unit tests share nothing, so they run on every core; engine tests compare the daemon's
# image list and run one at a time.
unit: install
	$(BIN)/pytest -m "not engine" -q -n auto

test: engine install lint
	$(BIN)/pytest -m "not engine" -q -n auto
	$(BIN)/pytest -m engine -q

bench: engine install stack
	$(BIN)/python scripts/bench.py --out bench-results.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
