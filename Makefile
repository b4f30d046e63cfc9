# The two commands a newcomer needs are `make up` and `make test`; everything else supports them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The exact versions the repository tests with; pyproject.toml has the ranges a stack installs.
CONSTRAINTS := constraints.txt
PIP_INSTALL = -m pip install --quiet --disable-pip-version-check
# The consumer-repository suite runs a project outside the tree on a plain install of the built wheel,
# once at the pinned versions and once at the lowest ones pyproject.toml declares.
DIST := .work/dist
WHEEL_STAMP := $(DIST)/.built
PINNED_VENV := .work/venv-pinned
LOWEST_VENV := .work/venv-lowest
PACKAGE_FILES := pyproject.toml LICENSE docs/PYPI.md $(shell find provider -name '*.py' -o -name '*.yaml' -o -name py.typed)
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

.PHONY: help install pulumi emulator-start emulator-stop up down test lint lint-workflows bench clean \
	wheel consumer-venvs constraints

help:
	@echo "make up     deploy the dev stack to the local MRS emulator (starts it)"
	@echo "make down   destroy the dev stack and stop the emulator"
	@echo "make test   lint, then every test: unit, emulator, provider, end to end"
	@echo "make lint   ruff, mypy --strict, actionlint on .github/workflows"
	@echo "make bench  benchmarks (bench/RESULTS.md)"

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) $(PIP_INSTALL) --upgrade pip
	$(VPY) $(PIP_INSTALL) -c $(CONSTRAINTS) -e '.[dev,emulator,policy]'
	@touch $@

install: $(STAMP)

$(PULUMI_BIN_FILE): toolchain/get-pulumi.sh toolchain/lib.sh toolchain/pulumi_language_python.py $(CONSTRAINTS)
	@mkdir -p .work
	bash toolchain/get-pulumi.sh > $@.tmp && mv $@.tmp $@

pulumi: $(PULUMI_BIN_FILE)

# Built from a copy of what the wheel holds, so that no build/ or egg-info lands in the checkout.
$(WHEEL_STAMP): $(STAMP) $(PACKAGE_FILES)
	rm -rf $(DIST) .work/wheel-src && mkdir -p $(DIST) .work/wheel-src/docs
	cp -r pyproject.toml LICENSE provider .work/wheel-src/ && cp docs/PYPI.md .work/wheel-src/docs/
	$(VPY) -m pip wheel --quiet --disable-pip-version-check --no-deps -w $(DIST) .work/wheel-src
	rm -rf .work/wheel-src
	@touch $@

wheel: $(WHEEL_STAMP)

$(PINNED_VENV)/.installed: $(WHEEL_STAMP) $(CONSTRAINTS)
	rm -rf $(PINNED_VENV) && $(PYTHON) -m venv $(PINNED_VENV)
	$(PINNED_VENV)/bin/python $(PIP_INSTALL) -c $(CONSTRAINTS) $(DIST)/*.whl
	@touch $@

$(LOWEST_VENV)/.installed: $(WHEEL_STAMP)
	rm -rf $(LOWEST_VENV) && $(PYTHON) -m venv $(LOWEST_VENV)
	$(LOWEST_VENV)/bin/python $(PIP_INSTALL) $$($(VPY) toolchain/lowest_requirements.py) $(DIST)/*.whl
	@touch $@

consumer-venvs: $(PINNED_VENV)/.installed $(LOWEST_VENV)/.installed

# Re-resolves every range to its newest release and writes the result as the new constraints.
constraints:
	rm -rf .work/venv-constraints && $(PYTHON) -m venv .work/venv-constraints
	.work/venv-constraints/bin/python $(PIP_INSTALL) '.[dev,emulator,policy,bench]'
	{ grep '^#' $(CONSTRAINTS); .work/venv-constraints/bin/python -m pip freeze --exclude-editable \
	  --disable-pip-version-check | grep -v '^pulumi-mrs-iam-sync'; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS) && rm -rf .work/venv-constraints

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

test: lint $(PULUMI_BIN_FILE) consumer-venvs
	PULUMI_BIN_DIR="$$(cat $(PULUMI_BIN_FILE))" MRS_IAM_SYNC_PINNED_VENV="$(CURDIR)/$(PINNED_VENV)" \
	  MRS_IAM_SYNC_LOWEST_VENV="$(CURDIR)/$(LOWEST_VENV)" $(VENV)/bin/pytest -n 2 --dist loadgroup tests

lint: $(STAMP) lint-workflows
	bash toolchain/check-tracked.sh
	$(VENV)/bin/ruff check provider tests bench toolchain policy __main__.py
	$(VENV)/bin/mypy provider/mrs_iam_sync provider/mrs_emulator provider/mrs_guardrails policy toolchain tests bench

# actionlint: installed, or built once from the Go module proxy (toolchain/get-actionlint.sh).
lint-workflows:
	"$$(bash toolchain/get-actionlint.sh)" $(WORKFLOWS)

bench: $(STAMP) $(PULUMI_BIN_FILE)
	$(VPY) $(PIP_INSTALL) -c $(CONSTRAINTS) -e '.[dev,emulator,policy,bench]'
	PULUMI_BIN_DIR="$$(cat $(PULUMI_BIN_FILE))" $(VPY) bench/run.py

clean: emulator-stop
	rm -rf .work $(VENV)
