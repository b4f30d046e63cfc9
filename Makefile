# The two commands a newcomer needs are `make up` and `make test`; everything else supports them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PULUMI_BIN_FILE := .work/pulumi-bin
EMULATOR_PORT ?= 8470
EMULATOR_PID := .work/emulator.pid
EMULATOR_LOG := .work/emulator.log
WORKFLOWS ?= .github/workflows/*.yml
# Local, per-checkout state; the passphrase only protects the dev stack's state and is not a secret.
export PULUMI_BACKEND_URL := file://$(CURDIR)/.work/state
export PULUMI_CONFIG_PASSPHRASE ?= dev-stack-passphrase-not-a-secret
export PULUMI_SKIP_UPDATE_CHECK := true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION := true
export PULUMI_HOME ?= $(CURDIR)/.work/pulumi-home
# The engine's default for --parallel: a create holds its engine slot for its whole sync task, so
# at the engine's own default (four per CPU) resources beyond it start only after the first tasks
# end, in tasks of their own. 64 covers every stack of this repository and bench's largest (50);
# above 64 the provider's thread limit follows it. README, "Parallelism".
export PULUMI_PARALLEL ?= 64
PULUMI = PATH="$$(cat $(PULUMI_BIN_FILE)):$$PATH" pulumi

.PHONY: help install pulumi emulator-start emulator-stop up down test lint lint-workflows bench clean

help:
	@echo "make up     deploy the dev stack to the local MRS emulator (starts it)"
	@echo "make down   destroy the dev stack and stop the emulator"
	@echo "make test   lint, then every test: unit, emulator, provider, end to end"
	@echo "make lint   ruff, mypy --strict, actionlint on .github/workflows"
	@echo "make bench  benchmarks (bench/RESULTS.md)"

$(STAMP): pyproject.toml
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(VPY) -m pip install --quiet --disable-pip-version-check -e '.[dev,emulator,policy]'
	@touch $@

install: $(STAMP)

$(PULUMI_BIN_FILE): toolchain/get-pulumi.sh toolchain/lib.sh toolchain/pulumi_language_python.py
	@mkdir -p .work
	bash toolchain/get-pulumi.sh > $@.tmp && mv $@.tmp $@

pulumi: $(PULUMI_BIN_FILE)

emulator-start: $(STAMP)
	@mkdir -p .work
	@if [ -f $(EMULATOR_PID) ] && kill -0 "$$(cat $(EMULATOR_PID))" 2>/dev/null; then \
	  echo "mrs-emulator already running (pid $$(cat $(EMULATOR_PID)))"; \
	else \
	  $(VENV)/bin/mrs-emulator --port $(EMULATOR_PORT) --state .work/emulator-state.json > $(EMULATOR_LOG) 2>&1 & echo $$! > $(EMULATOR_PID); \
	  for i in $$(seq 1 50); do grep -q listening $(EMULATOR_LOG) && break; sleep 0.1; done; \
	  head -n1 $(EMULATOR_LOG); \
	  grep -q listening $(EMULATOR_LOG) || { echo "mrs-emulator did not start; see $(EMULATOR_LOG)"; exit 1; }; \
	fi

emulator-stop:
	@if [ -f $(EMULATOR_PID) ]; then \
	  pid="$$(cat $(EMULATOR_PID))"; kill "$$pid" 2>/dev/null || true; \
	  for i in $$(seq 1 50); do kill -0 "$$pid" 2>/dev/null || break; sleep 0.1; done; \
	  rm -f $(EMULATOR_PID); echo "mrs-emulator stopped"; \
	fi

up: $(STAMP) $(PULUMI_BIN_FILE) emulator-start
	@mkdir -p .work/state
	@$(PULUMI) stack select --create dev --non-interactive >/dev/null
	$(PULUMI) up --yes --skip-preview --stack dev --non-interactive --policy-pack policy --policy-pack-config stacks/policy.dev.json
	@echo; PATH="$$(cat $(PULUMI_BIN_FILE)):$$PATH" $(VENV)/bin/mrs-iam-sync show --stack dev

down: $(STAMP) $(PULUMI_BIN_FILE)
	@if [ -d .work/state/.pulumi ]; then $(MAKE) --no-print-directory emulator-start && $(PULUMI) destroy --yes --skip-preview --stack dev --non-interactive; fi
	@$(MAKE) --no-print-directory emulator-stop

test: lint $(PULUMI_BIN_FILE)
	PULUMI_BIN_DIR="$$(cat $(PULUMI_BIN_FILE))" $(VENV)/bin/pytest -n 2 --dist loadgroup tests

lint: $(STAMP) lint-workflows
	bash toolchain/check-tracked.sh
	$(VENV)/bin/ruff check provider tests bench toolchain policy __main__.py
	$(VENV)/bin/mypy provider/mrs_iam_sync provider/mrs_emulator provider/mrs_guardrails policy

# actionlint: installed, or built once from the Go module proxy (toolchain/get-actionlint.sh).
lint-workflows:
	"$$(bash toolchain/get-actionlint.sh)" $(WORKFLOWS)

bench: $(STAMP) $(PULUMI_BIN_FILE)
	$(VPY) -m pip install --quiet --disable-pip-version-check -e '.[dev,emulator,policy,bench]'
	PULUMI_BIN_DIR="$$(cat $(PULUMI_BIN_FILE))" $(VPY) bench/run.py

clean: emulator-stop
	rm -rf .work $(VENV)
