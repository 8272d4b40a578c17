# Warren: `make run` starts the whole suite on this machine; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
# Every installable part: the shared platform and each service that has a pyproject.toml.
PACKAGES := shared $(patsubst %/pyproject.toml,%,$(wildcard services/*/pyproject.toml devtools/*/pyproject.toml cli/pyproject.toml))
PYTEST_ARGS ?=
# Tests isolate themselves (own vhost, own database, free ports), so they run in parallel workers.
PYTEST_WORKERS ?= 4

.PHONY: help install infra test unit lint format bench clean lock run demo up down ui dlq

help:
	@echo "make run | demo | test | unit | lint | contract | bench | up | down | ui | dlq | clean"

install: $(VENV)/.installed

$(VENV)/.installed: constraints.txt requirements-dev.txt $(addsuffix /pyproject.toml,$(PACKAGES))
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -r requirements-dev.txt $(addprefix -e ./,$(PACKAGES))
	touch $@

# Local RabbitMQ (with plugins), PostgreSQL and Redis up; starts whichever is down.
infra:
	scripts/ensure-infra

test: install infra
	$(BIN)/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

unit: install
	$(BIN)/pytest -m "not integration and not e2e" $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shared

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install infra
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

lock: install
	$(BIN)/pip freeze --exclude-editable | grep -vE '^(pip|setuptools|wheel)==' \
	  | sed '1i # Pinned versions for reproducible installs (CI and make run). Regenerate with `make lock`.' \
	  > constraints.txt

# ---- running and operating (ops) -------------------------------------------------------------------
# The whole suite on this machine: broker set-up, migrations, every Procfile process under honcho.
run:
	scripts/run

# Seed stock and drive checkouts through every outcome against a running `make run`.
demo: install
	$(BIN)/warren demo

# The same suite in containers (needs a Docker engine); .env with random passwords is created on first use.
up: install
	test -f .env || $(BIN)/warren compose-env
	docker compose up -d --build --wait

down:
	docker compose down

# Where the RabbitMQ management UI is, and which user to log in with.
ui: install
	@$(BIN)/python -c "from warrenctl.settings import CliSettings as S; s = S(); print(f'{s.management_url}/#/queues/{s.vhost}  (user {s.management_user}; password: WARREN_MANAGEMENT_PASSWORD in var/secrets/run.env)')"
	@command -v xdg-open >/dev/null && [ -n "$${DISPLAY:-}" ] && xdg-open http://127.0.0.1:15672 >/dev/null 2>&1 || true

# Dead letters of every queue: reason, attempts, age.
dlq: install
	$(BIN)/warren dlq list

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# ---- Contracts (docs/contracts.md): AsyncAPI, schema snapshots, consumer-driven and routing contracts ----
.PHONY: contract contract-update contract-html
ASYNCAPI_TOOLS := tools/asyncapi
CONTRACT_TOOL := PYTHONPATH=tools $(BIN)/python -m contract_tools

# npm ci from the committed lockfile; install scripts off (the parser needs none).
$(ASYNCAPI_TOOLS)/node_modules/.installed: $(ASYNCAPI_TOOLS)/package-lock.json
	cd $(ASYNCAPI_TOOLS) && npm ci --ignore-scripts --no-audit --no-fund --prefer-offline
	touch $@

# Everything contract-related, on its own: the checks, the official AsyncAPI parser, the contract tests.
# STRICT=1 also fails while a service still relies on tools/contract_tools/fallback.py.
contract: install $(ASYNCAPI_TOOLS)/node_modules/.installed
	$(CONTRACT_TOOL) check $(if $(STRICT),--strict)
	node $(ASYNCAPI_TOOLS)/validate.mjs contracts/asyncapi.json
	$(BIN)/pytest tests/contract -q $(PYTEST_ARGS)

# Regenerate contracts/asyncapi.json and contracts/schemas/ from the code; refuses breaking changes
# (ACCEPT_BREAKING="payment.captured.v1 ..." overrides, for types never released).
contract-update: install
	$(CONTRACT_TOOL) update $(foreach type,$(ACCEPT_BREAKING),--accept-breaking $(type))

# -- checkout saga (payment helper): end-to-end tests and the gateway sandbox on its own -----------------------
.PHONY: e2e gateway-sandbox
e2e: install infra
	$(BIN)/pytest -m e2e tests/e2e $(PYTEST_ARGS)

gateway-sandbox: install
	$(BIN)/python -m gateway_sandbox

# A one-page HTML view of the catalogue: var/contracts/asyncapi.html.
contract-html: install
	$(CONTRACT_TOOL) html
