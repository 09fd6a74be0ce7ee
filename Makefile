# The two commands (see README.md):
#   make run   set up, load the demo data and serve the site on the embedded default
#   make test  set up and run the whole test suite
# and, once `make run` has set up:
#   make admin create an account for the admin (/admin/)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
DEMO_DATA := data/startups_demo.jsonl
# Integration tests (Redis broker, Celery worker) run on this PostgreSQL server; the rest on
# SQLite, even when TEST_DATABASE_URL is set in the environment.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/startup_search

.PHONY: run test admin

# Development settings for every manage.py command (manage.py reads them; the environment wins).
DEV_ENV := var/dev.env

$(DEV_ENV):
	mkdir -p var
	printf '# Written by make run: development settings for manage.py. Delete to reset.\nDEBUG=1\n' > $@

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed $(DEV_ENV)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py import_companies $(DEMO_DATA)
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

admin: $(VENV)/.installed $(DEV_ENV)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py createsuperuser

test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	TEST_DATABASE_URL= $(BIN)/python -m pytest -m "not integration"
	TEST_DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python -m pytest -m integration
