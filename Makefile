# Chorus: two commands on a fresh machine.
#   make run   install, migrate, collect static files, create the first user, start web (gunicorn),
#              both workers and beat under scripts/supervise.py (restarts a process that dies)
#   make test  install (incl. system services on Debian as root), start services, run the suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PORT ?= 8000
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
TEST_DATABASE_URL ?= postgres://chorus:chorus@127.0.0.1:5432/chorus
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0
PYTEST_ARGS ?=

.PHONY: run test install services lint format bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $(STAMP)

install: $(STAMP)

run: install
	@mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py bootstrap --url http://127.0.0.1:$(PORT)
	@echo "Starting web, worker, executions worker and beat (one that dies is restarted; Ctrl-C stops them all)…"
	PORT=$(PORT) PATH=$(abspath $(VENV))/bin:$$PATH $(PY) scripts/supervise.py Procfile

services:
	bash scripts/services.sh install
	bash scripts/services.sh start

test: install services
	@mkdir -p var/e2e
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) CHORUS_REQUIRE_SERVICES=1 \
	PATH=$(abspath $(VENV))/bin:$$PATH \
	$(VENV)/bin/pytest --screenshot only-on-failure --output var/e2e $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install services
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) tests/bench/fire_lag.py
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) tests/bench/dashboard.py
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(PY) tests/bench/http_load.py --reuse

clean:
	rm -rf var/broker var/e2e
