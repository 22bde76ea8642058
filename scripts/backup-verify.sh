#!/usr/bin/env bash
# Backup and restore drill on a throw-away copy (`make backup-verify`):
# a populated database (migrations + demo data) is saved with `pg_dump -Fc`, restored
# with `pg_restore --no-owner` into a fresh database, and the restore is checked:
# the audit chain up to the head recorded before the dump, the schema against the
# models, and every table's row count and content plus every sequence against the
# source. Prints PASS or FAIL and exits 1 on any mismatch; drops its databases.
#
# Needs pg_dump/pg_restore/psql of at least the server's major version. The server is
# FITSTORE_PG_SERVER_URL (default postgresql+psycopg://postgres@127.0.0.1:5432) and,
# for creating and dropping databases, FITSTORE_PG_ADMIN_URL (see scripts/pgdb.py).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin
server_url="${FITSTORE_PG_SERVER_URL:-postgresql+psycopg://postgres@127.0.0.1:5432}"
libpq_url="${server_url/+psycopg/}"  # pg_dump, pg_restore and psql speak plain libpq URLs
source_db="backup_src_$$"
restore_db="backup_dst_$$"
work_dir="$(mktemp -d)"
dump_file="$work_dir/fitstore.dump"

cleanup() {
  rm -rf "$work_dir"
  $bin/python scripts/pgdb.py drop "$source_db" || true
  $bin/python scripts/pgdb.py drop "$restore_db" || true
}
trap cleanup EXIT

# The drill's own settings, whatever the calling shell exports: demo data needs a
# non-production environment, and a fixed key keeps `instance/secret_key` untouched.
export FITSTORE_ENV=development
export FITSTORE_SECRET_KEY="backup-verify-$$"
export FITSTORE_LOG_REQUESTS=false

failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

fitstore_on() {  # fitstore_on DATABASE ARGS...: run the fitstore command on that database
  local database="$1"
  shift
  FITSTORE_DATABASE_URL="$server_url/$database" $bin/fitstore "$@"
}

# One line per table: name, row count, MD5 over its rows in a fixed order; then one
# line per sequence with its last value. Identical databases give identical output.
inventory() {
  psql "$libpq_url/$1" --no-psqlrc --quiet --tuples-only --no-align --field-separator=' ' \
    --set ON_ERROR_STOP=1 <<'SQL'
SELECT c.relname,
       (xpath('/row/n/text()', query_to_xml(
           format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname),
           false, true, '')))[1]::text,
       (xpath('/row/h/text()', query_to_xml(
           format('SELECT md5(coalesce(string_agg(t::text, E''\n'' ORDER BY t::text), ''''))'
                  ' AS h FROM %I.%I AS t', n.nspname, c.relname),
           false, true, '')))[1]::text
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
 ORDER BY c.relname;
SELECT 'sequence:' || sequencename, coalesce(last_value::text, 'unused'), '-'
  FROM pg_sequences WHERE schemaname = 'public' ORDER BY sequencename;
SQL
}

echo "== source database $source_db: migrations and demo data"
$bin/python scripts/pgdb.py create "$source_db"
fitstore_on "$source_db" db upgrade 2>&1 | tail -n 1
fitstore_on "$source_db" demo | head -n 1

echo "== audit head of the source (kept with every backup)"
source_verify="$(fitstore_on "$source_db" audit verify)"
echo "$source_verify"
head_line="$(grep '^head: ' <<<"$source_verify")"
expected_head="${head_line#head: }"

echo "== pg_dump -Fc"
pg_dump --format=custom --file="$dump_file" "$libpq_url/$source_db"
echo "dump: $(du -h "$dump_file" | cut -f1)"

echo "== pg_restore --no-owner into the fresh database $restore_db"
$bin/python scripts/pgdb.py create "$restore_db"
pg_restore --no-owner --exit-on-error --single-transaction \
  --dbname="$libpq_url/$restore_db" "$dump_file"

echo "== audit verify --expect-head $expected_head on the restore"
if fitstore_on "$restore_db" audit verify --expect-head "$expected_head"; then
  :
else
  fail "the restored audit chain does not reach the recorded head"
fi

# The check above must be able to fail: a head with the right id and a wrong hash.
echo "== control: a wrong head must be refused"
wrong_head="${expected_head%%:*}:$(printf '0%.0s' {1..64})"
if fitstore_on "$restore_db" audit verify --expect-head "$wrong_head" 2>&1; then
  fail "audit verify accepted a head that was never written"
else
  echo "refused, as it should be"
fi

echo "== db check on the restore (schema matches the models)"
if ! fitstore_on "$restore_db" db check 2>&1 | tail -n 1; then
  fail "the restored schema differs from the models"
fi

echo "== tables and sequences: source vs restore"
inventory "$source_db" >"$work_dir/source.txt"
inventory "$restore_db" >"$work_dir/restore.txt"
tables=$(grep -vc '^sequence:' "$work_dir/source.txt" || true)
if [ "$tables" -eq 0 ]; then
  fail "the source database has no tables"
fi
printf '%-40s %10s %10s  %s\n' "table" "source" "restore" "rows+content"
join -a1 -a2 -e MISSING -o 0,1.2,2.2,1.3,2.3 \
  <(sort "$work_dir/source.txt") <(sort "$work_dir/restore.txt") \
  | while read -r name source_rows restore_rows source_hash restore_hash; do
      verdict=same
      if [ "$source_rows" != "$restore_rows" ] || [ "$source_hash" != "$restore_hash" ]; then
        verdict=DIFFERENT
      fi
      printf '%-40s %10s %10s  %s\n' "$name" "$source_rows" "$restore_rows" "$verdict"
    done | tee "$work_dir/comparison.txt"
different=$(grep -c ' DIFFERENT$' "$work_dir/comparison.txt" || true)
if [ "$different" -ne 0 ]; then
  fail "$different tables or sequences differ between source and restore"
fi
rows=$(grep -v '^sequence:' "$work_dir/source.txt" | awk '{ sum += $2 } END { print sum }')
echo "$tables tables with $rows rows compared"

if [ "$failures" -ne 0 ]; then
  echo "FAIL: $failures check(s) failed"
  exit 1
fi
echo "PASS: the restore holds every row of the source and the audit chain up to $expected_head"
