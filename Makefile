# fitstore: `make demo` runs the app with demo data on SQLite; `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
APP_STAMP := $(VENV)/.installed-app
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: install install-app demo run test lint format translations vendor clean bench multinode fuzz backup-verify

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The app alone (what `make demo` needs) ...
$(APP_STAMP): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $(APP_STAMP)

# ... and the test tooling on top (pytest, playwright, schemathesis, ruff, psycopg).
$(DEV_STAMP): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(APP_STAMP) $(DEV_STAMP)

install-app: $(APP_STAMP)
install: $(DEV_STAMP)

# Migrate the SQLite database in instance/, load reference + demo data, serve on :5000.
demo: install-app
	$(BIN)/fitstore db upgrade
	$(BIN)/fitstore demo
	FITSTORE_ENV=development $(BIN)/fitstore run --host 127.0.0.1 --port 5000

run: install-app
	$(BIN)/fitstore run --host 127.0.0.1 --port 5000

test: install
	scripts/test.sh

# Load benchmark: gunicorn (2 workers) on PostgreSQL with the national data set, driven
# by wrk at 16 connections per scenario, against a trivial Flask baseline (bench/run.py).
bench: install
	$(BIN)/pip install --quiet -e ".[dev,bench]"
	$(BIN)/python bench/run.py

# Two app nodes on one PostgreSQL and one Redis: shared sessions, logout, rate limits,
# concurrent countersigning, the audit chain, and a PostgreSQL restart under load.
multinode: install
	$(BIN)/python bench/multinode.py

# A longer schemathesis run than the bounded one in `make test`.
fuzz: install
	FITSTORE_FUZZ_EXAMPLES=300 $(BIN)/pytest -q -p no:cacheprovider tests/functional/test_api_fuzz.py

# pg_dump a populated database, pg_restore it into a fresh one, run `audit verify` there.
backup-verify: install
	scripts/backup-verify.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Re-extract UI strings, merge them into the English catalogue and compile it.
translations: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --ignore-dirs='.*' -o fitstore/translations/messages.pot .
	$(BIN)/pybabel update -i fitstore/translations/messages.pot -d fitstore/translations --ignore-obsolete
	$(BIN)/pybabel compile -d fitstore/translations

# Refresh the vendored KERN UX and Swagger UI assets from the npm registry.
vendor:
	scripts/vendor-assets.sh

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache *.egg-info
