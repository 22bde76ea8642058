#!/usr/bin/env bash
# The whole test run: lint, translations, the suite on SQLite (with the browser
# tests), the suite on PostgreSQL, and migrations on an empty PostgreSQL database.
# Needs PostgreSQL (FITSTORE_PG_ADMIN_URL), Redis (FITSTORE_TEST_REDIS_URL) and
# /usr/bin/chromium; `make test` installs the Python side first.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
pg_host_url="${FITSTORE_PG_SERVER_URL:-postgresql+psycopg://postgres@127.0.0.1:5432}"
suite_db="fitstore_test_$$"
migrate_db="fitstore_migrate_$$"
work_dir="$(mktemp -d)"  # each pytest run's own temporary folder below this one
cleanup() {
  rm -rf "$work_dir"
  $bin/python scripts/pgdb.py drop "$suite_db" || true
  $bin/python scripts/pgdb.py drop "$migrate_db" || true
}
trap cleanup EXIT

echo "== lint"
$bin/ruff check .
$bin/ruff format --check .

echo "== translations"
$bin/python scripts/check-translations.py

# The suites are independent (own databases and temporary folders, single-threaded
# each): run them side by side on the machine's cores, every background job's output
# kept apart. Without arguments the SQLite suite runs in two parts, the browser tests
# (which mostly wait for Chromium) beside the rest.
echo "== suite on PostgreSQL (in the background) and on SQLite (incl. browser tests in Chromium)"
$bin/python scripts/pgdb.py create "$suite_db"
pg_log="$(mktemp)"
FITSTORE_TEST_DATABASE_URL="$pg_host_url/$suite_db" $bin/pytest -p no:cacheprovider \
  --basetemp="$work_dir/postgresql" "$@" >"$pg_log" 2>&1 &
pg_pid=$!
sqlite_status=0
browser_status=0
if [ "$#" -eq 0 ]; then
  browser_log="$(mktemp)"
  $bin/pytest -p no:cacheprovider --basetemp="$work_dir/browser" tests/browser >"$browser_log" 2>&1 &
  browser_pid=$!
  $bin/pytest -p no:cacheprovider --basetemp="$work_dir/sqlite" --ignore=tests/browser \
    || sqlite_status=$?
  wait "$browser_pid" || browser_status=$?
  echo "== browser tests on SQLite (output)"
  cat "$browser_log"
  rm -f "$browser_log"
else
  $bin/pytest -p no:cacheprovider --basetemp="$work_dir/sqlite" "$@" || sqlite_status=$?
fi
pg_status=0
wait "$pg_pid" || pg_status=$?
echo "== suite on PostgreSQL (output)"
cat "$pg_log"
rm -f "$pg_log"
if [ "$sqlite_status" -ne 0 ] || [ "$browser_status" -ne 0 ] || [ "$pg_status" -ne 0 ]; then
  echo "== FAILED: SQLite suite exit $sqlite_status, browser tests exit $browser_status," \
    "PostgreSQL suite exit $pg_status"
  exit 1
fi

echo "== migrations on an empty PostgreSQL database"
$bin/python scripts/pgdb.py create "$migrate_db"
FITSTORE_DATABASE_URL="$pg_host_url/$migrate_db" $bin/fitstore db upgrade
FITSTORE_DATABASE_URL="$pg_host_url/$migrate_db" $bin/fitstore db check
echo "== all checks passed"
