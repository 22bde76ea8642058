"""Load benchmark: fitstore under gunicorn on PostgreSQL with the national data set,
driven by wrk, measured against a trivial Flask app served the same way in the same run.

    .venv/bin/python bench/run.py [--database-url URL] [--skip-setup] [--duration 20]

See bench/README.md for what each scenario does and how to read the table. The table is
printed and written to bench/RESULTS.md (with date, machine, data set and settings).
The exit code is 0 whenever the measurement itself worked, also when targets are missed.
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import http.client
import json
import os
import platform
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

from harness import clean_env, fitstore_cli, free_port, say

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "bench"
BIN = Path(sys.executable).parent
LUA_SCRIPT = BENCH_DIR / "rotate.lua"
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_national"
RATELIMIT_URI = "redis://127.0.0.1:6379/3"
# The benchmark measures throughput, not the login limiter: its limits are lifted for
# the run (and only for it). Every login is still counted in Redis as in production.
RAISED_LOGIN_LIMIT = "1000000 per 15 minutes"
DEMO_PASSWORD = "fitstore-demo"  # noqa: S105  (the documented demo password)
SESSION_COOKIE = "fitstore_session"
WORKERS = 2
WORKER_CLASS = "sync"
CONNECTIONS = 16
WRK_THREADS = 2
WRK_TIMEOUT = "10s"
# Targets: no errors, at least this share of the baseline's req/s, p99 below this.
MIN_BASELINE_RATIO = 0.25
MAX_P99_MS = 250.0
# The proxy headers of a TLS-terminating reverse proxy (FITSTORE_PROXY_COUNT=1).
PROXY_HEADERS = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "192.0.2.10"}
# A search box sees real words: some from the data set's titles, some typed by people.
TYPED_TERMS = ["Aufenthaltstitel", "Wohngeld", "Hundesteuer", "Anmeldung", "Gewerbe"]
TERM_STOPWORDS = {"und", "oder", "für", "der", "die", "das", "von", "mit", "eines", "einer"}

_processes: list[subprocess.Popen] = []


# --- small helpers --------------------------------------------------------------------------


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


def libpq_url(url: str) -> str:
    """psycopg wants ``postgresql://``, SQLAlchemy ``postgresql+psycopg://``."""
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


def fitstore_env(database_url: str, **extra: str) -> dict[str, str]:
    return clean_env(
        FITSTORE_DATABASE_URL=database_url,
        FITSTORE_SECRET_KEY=secrets.token_hex(32),
        FITSTORE_LOG_FORMAT="json",
        **extra,
    )


def run_fitstore(database_url: str, *args: str) -> str:
    """Run the ``fitstore`` command (development settings: set-up only)."""
    try:
        return fitstore_cli(fitstore_env(database_url, FITSTORE_ENV="development"), *args)
    except RuntimeError as error:
        raise SystemExit(str(error)) from None


def stop_processes() -> None:
    for process in _processes:
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
    deadline = time.monotonic() + 15
    for process in _processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    _processes.clear()


def _terminate(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


# --- wrk ------------------------------------------------------------------------------------


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        say("wrk is missing: installing the Debian package wrk ...")
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True)  # noqa: S607
        found = shutil.which("wrk")
        if found:
            return found
    raise SystemExit(
        "wrk is not installed. Install it first (Debian/Ubuntu: sudo apt-get install -y wrk), "
        "then run the benchmark again."
    )


# --- the database ---------------------------------------------------------------------------


def prepare_database(url: str) -> None:
    """Create the database if needed, migrate it, generate the national data set once."""
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise SystemExit(f"Unexpected database name {name!r}.")
    with psycopg.connect(libpq_url(with_database(url, "postgres")), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            say(f"Creating database {name} ...")
            conn.execute(f'CREATE DATABASE "{name}"')
    say("Migrating (fitstore db upgrade) ...")
    run_fitstore(url, "db", "upgrade")
    if has_generated_data(url):
        say("The database already holds the generated national data set.")
        return
    say("Generating the national data set (fitstore generate --scale national --seed 1) ...")
    started = time.monotonic()
    output = run_fitstore(url, "generate", "--scale", "national", "--seed", "1")
    say(output.strip()[-2000:])
    say(f"Generated in {time.monotonic() - started:.0f} s.")


def has_generated_data(url: str) -> bool:
    """``fitstore generate`` marks the database with one audit event of its own."""
    import psycopg

    with psycopg.connect(libpq_url(url)) as conn:
        row = conn.execute(
            "SELECT 1 FROM audit_event WHERE action = 'data.generated' LIMIT 1"
        ).fetchone()
    return row is not None


ROW_COUNT_TABLES = (
    "listing",
    "reuse",
    "reuse_transition",
    "contract",
    "rollout",
    "rollout_event",
    "authority",
    "alliance_membership",
    "cost_plan_item",
    "usage_figure",
    "user_account",
    "audit_event",
)


def dataset_facts(url: str) -> dict:
    import psycopg

    facts: dict = {"rows": {}}
    with psycopg.connect(libpq_url(url)) as conn:
        for table in ROW_COUNT_TABLES:
            facts["rows"][table] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
        facts["published_listings"] = conn.execute(
            "SELECT count(*) FROM listing WHERE status = 'published'"
        ).fetchone()[0]
        facts["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
    return facts


# --- HTTP against the served app ------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]
    body: str

    def cookie(self, name: str) -> str | None:
        for header, value in self.headers:
            if header.lower() == "set-cookie" and value.startswith(name + "="):
                return value.split(";", 1)[0].split("=", 1)[1]
        return None


def send(port: int, method: str, path: str, headers=None, body: str | None = None) -> Answer:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body, headers={**PROXY_HEADERS, **(headers or {})})
        response = connection.getresponse()
        return Answer(response.status, response.getheaders(), response.read().decode())
    finally:
        connection.close()


_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_token(html: str) -> str:
    match = _CSRF.search(html)
    if not match:
        raise SystemExit("The login page carries no CSRF token: cannot log in.")
    return match.group(1) or match.group(2)


@dataclass
class LoginForm:
    """A login form as a browser holds it: the pre-login session cookie and its CSRF token."""

    cookie: str
    token: str


def fetch_login_form(port: int) -> LoginForm:
    answer = send(port, "GET", "/anmelden")
    cookie = answer.cookie(SESSION_COOKIE)
    if answer.status != 200 or cookie is None:
        raise SystemExit(f"GET /anmelden answered {answer.status} without a session cookie.")
    return LoginForm(cookie, csrf_token(answer.body))


def login_body(email: str, form: LoginForm) -> str:
    return urlencode(
        {"csrf_token": form.token, "email": email, "password": DEMO_PASSWORD, "next": ""}
    )


def login_headers(port: int, form: LoginForm) -> dict[str, str]:
    # Flask-WTF checks the Referer of HTTPS form posts (same origin), as browsers send it.
    return {
        "Cookie": f"{SESSION_COOKIE}={form.cookie}",
        "Content-Type": "application/x-www-form-urlencoded",
        "Referer": f"https://127.0.0.1:{port}/anmelden",
    }


def log_in(port: int, email: str) -> str:
    """A real login over HTTP; returns the logged-in session cookie."""
    form = fetch_login_form(port)
    answer = send(port, "POST", "/anmelden", login_headers(port, form), login_body(email, form))
    cookie = answer.cookie(SESSION_COOKIE)
    if answer.status != 302 or cookie is None:
        raise SystemExit(f"Login of {email} failed: {answer.status}.")
    return cookie


# --- serving --------------------------------------------------------------------------------


def start_gunicorn(label: str, app: str, env: dict[str, str], log_dir: Path, extra=()) -> tuple:
    port = free_port()
    log = open(log_dir / f"{label}.log", "w")  # noqa: SIM115  (kept open for the process)
    command = [
        str(BIN / "gunicorn"),
        "--workers",
        str(WORKERS),
        "--worker-class",
        WORKER_CLASS,
        "--bind",
        f"127.0.0.1:{port}",
        # Production recycles a worker every few thousand requests; at the baseline's
        # rate that would be a restart every few seconds, so neither side recycles here.
        "--max-requests",
        "0",
        *extra,
        app,
    ]
    process = subprocess.Popen(  # noqa: S603
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    _processes.append(process)
    return process, port


def wait_ready(process: subprocess.Popen, port: int, path: str, label: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{label}: gunicorn exited with {process.returncode} (see its log).")
        try:
            if send(port, "GET", path).status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{label}: not ready after 60 s.")


def wait_idle(port: int, path: str) -> None:
    """Wait until the server answers at once again: requests of the previous scenario that
    wrk gave up on (timeouts) still sit in the listen backlog and would slow the next one."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        started = time.monotonic()
        send(port, "GET", path)
        if time.monotonic() - started < 0.2:
            return
    say("  (the server did not become idle within 300 s)")


# --- scenarios ------------------------------------------------------------------------------


@dataclass
class Target:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    # How the in-process query count logs in (None: anonymous) and what it sends.
    user: str | None = None
    login_email: str | None = None  # the login scenario: this request is a login
    bearer: str | None = None


@dataclass
class Scenario:
    key: str
    title: str
    expected_status: int
    targets: list[Target]
    # Targets picked for the query count (spread over the targets' sizes).
    sql_targets: list[Target] = field(default_factory=list)
    note: str = ""
    result: dict | None = None
    sql: tuple[int, int] | None = None
    sql_detail: list[tuple[str, int]] = field(default_factory=list)


def spread(items: list, count: int) -> list:
    """``count`` items evenly spread over ``items`` (its first and last included)."""
    if len(items) <= count:
        return list(items)
    step = (len(items) - 1) / (count - 1)
    return [items[round(index * step)] for index in range(count)]


def choose_targets(url: str, rng: random.Random) -> dict:
    """Read the data set and pick realistic, varied targets for every scenario."""
    from sqlalchemy import func, select

    from fitstore import create_app
    from fitstore.extensions import db
    from fitstore.models import CostPlanItem, Land, Listing, Reuse, Rollout, User
    from fitstore.models.listing import ListingStatus
    from fitstore.services import cost_sharing

    app = create_app(
        {
            "ENV": "production",
            "SECRET_KEY": secrets.token_hex(16),
            "SQLALCHEMY_DATABASE_URI": url,
            "LOG_REQUESTS": False,
        }
    )
    chosen: dict = {}
    with app.app_context():
        published = db.session.execute(
            select(Listing.id, Listing.title, func.count(Reuse.id))
            .outerjoin(Reuse, Reuse.listing_id == Listing.id)
            .where(Listing.status == ListingStatus.PUBLISHED)
            .group_by(Listing.id, Listing.title)
            .order_by(func.count(Reuse.id), Listing.id)
        ).all()
        if not published:
            raise SystemExit("The database has no published listings: nothing to measure.")
        # Listing pages: many ids, from the smallest to the largest by reuses.
        by_size = [row[0] for row in published]
        sample = sorted(rng.sample(by_size, min(60, len(by_size))), key=by_size.index)
        chosen["listing_ids"] = sample
        chosen["listing_ids_by_size"] = spread(by_size, 5)

        words: dict[str, int] = {}
        for _id, title, _count in published:
            for word in re.findall(r"[A-Za-zÄÖÜäöüß]{6,}", title):
                if word.lower() not in TERM_STOPWORDS:
                    words[word] = words.get(word, 0) + 1
        frequent = sorted(words, key=lambda w: (-words[w], w))[:40]
        chosen["terms"] = sorted(set(rng.sample(frequent, min(7, len(frequent))) + TYPED_TERMS))

        lands = db.session.execute(
            select(Land.ags, Land.short, func.count(Reuse.id))
            .outerjoin(Reuse, Reuse.adopter_land_ags == Land.ags)
            .group_by(Land.ags, Land.short)
            .order_by(func.count(Reuse.id), Land.ags)
        ).all()
        active = set(db.session.scalars(select(User.email).where(User.active.is_(True))))
        chosen["editors"] = [
            email
            for _ags, short, _count in lands
            if (email := f"editor-{short.lower()}@demo.test") in active
        ]
        chosen["editor_of_land"] = {
            ags: f"editor-{short.lower()}@demo.test" for ags, short, _count in lands
        }
        chosen["viewers"] = [
            email
            for _ags, short, _count in lands
            if (email := f"viewer-{short.lower()}@demo.test") in active
        ]

        splits = []
        years = db.session.scalars(select(CostPlanItem.year).distinct().order_by(CostPlanItem.year))
        for year in list(years):
            for listing_id, split in cost_sharing.year_splits(year).items():
                if split.split is not None:
                    splits.append(
                        (len(split.participants), listing_id, year, split.listing.provider_land_ags)
                    )
        splits.sort()
        chosen["splits"] = spread(splits, 40)

        rollouts = db.session.execute(
            select(Reuse.listing_id, func.count(Rollout.id))
            .join(Rollout, Rollout.reuse_id == Reuse.id)
            .join(Listing, Listing.id == Reuse.listing_id)
            .where(Listing.status == ListingStatus.PUBLISHED)
            .group_by(Reuse.listing_id)
            .order_by(func.count(Rollout.id), Reuse.listing_id)
        ).all()
        chosen["dashboard_listings"] = spread([row[0] for row in rollouts], 3)
        db.session.remove()
        db.engine.dispose()
    return chosen


def build_scenarios(chosen: dict, port: int, token: str, sessions: dict[str, str], forms):
    def as_user(email: str) -> dict[str, str]:
        return {"Cookie": f"{SESSION_COOKIE}={sessions[email]}"}

    catalogue = [Target("GET", "/katalog?" + urlencode({"q": term})) for term in chosen["terms"]]
    listing_pages = [Target("GET", f"/leistungen/{i}") for i in chosen["listing_ids"]]
    land_pages = [
        Target("GET", "/mein-land", as_user(email), user=email) for email in chosen["editors"]
    ]
    cost_pages = []
    for _size, listing_id, year, provider in chosen["splits"]:
        email = chosen["editor_of_land"][provider]
        if email in sessions:
            path = f"/leistungen/{listing_id}/kosten/{year}"
            cost_pages.append(Target("GET", path, as_user(email), user=email))
    dashboards = [Target("GET", "/dashboard"), Target("GET", "/dashboard?ebene=kreise")]
    for listing_id in chosen["dashboard_listings"]:
        dashboards.append(Target("GET", f"/dashboard?leistung={listing_id}"))
        dashboards.append(Target("GET", f"/dashboard?leistung={listing_id}&ebene=kreise"))
    bearer = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    api_paths = [f"/api/v1/listings?page={page}" for page in (1, 2, 3, 5, 8)]
    api_paths += [f"/api/v1/listings?themenfeld={number}" for number in (1, 4, 9, 13)]
    api_paths += ["/api/v1/listings?" + urlencode({"q": term}) for term in chosen["terms"][:3]]
    api = [Target("GET", path, bearer, bearer=token) for path in api_paths]
    logins = []
    for email, form in forms:
        logins.append(
            Target(
                "POST",
                "/anmelden",
                login_headers(port, form),
                login_body(email, form),
                login_email=email,
            )
        )

    size_order = chosen["listing_ids_by_size"]
    scenarios = [
        Scenario("catalogue", "1 Katalogsuche /katalog?q=", 200, catalogue, spread(catalogue, 4)),
        Scenario(
            "listing",
            "2 Leistungsseite /leistungen/<id>",
            200,
            listing_pages,
            [Target("GET", f"/leistungen/{i}") for i in size_order],
            note="SQL targets: listings from the fewest to the most reuses",
        ),
        Scenario(
            "land",
            "3 Land-Dashboard /mein-land",
            200,
            land_pages,
            spread(land_pages, 4),
            note="SQL targets: Länder from the fewest to the most reuses",
        ),
        Scenario(
            "costs",
            "4 Kostenaufteilung /leistungen/<id>/kosten/<jahr>",
            200,
            cost_pages,
            spread(cost_pages, 4),
            note="SQL targets: splits from the fewest to the most participants",
        ),
        Scenario(
            "dashboard",
            "5 Öffentliches Dashboard /dashboard",
            200,
            dashboards,
            dashboards,
        ),
        Scenario("api", "6 API /api/v1/listings (Token)", 200, api, spread(api, 4)),
        Scenario("login", "7 Anmeldung POST /anmelden (scrypt)", 302, logins, spread(logins, 3)),
    ]
    return scenarios


# --- SQL per request (in-process) -----------------------------------------------------------


def count_queries(url: str, scenarios: list[Scenario]) -> None:
    """Count the SQL statements of each scenario's requests in-process, on the same data."""
    from sqlalchemy import event

    from fitstore import create_app
    from fitstore.extensions import db

    app = create_app(
        {
            "ENV": "production",
            "SECRET_KEY": secrets.token_hex(16),
            "SQLALCHEMY_DATABASE_URI": url,
            "LOG_REQUESTS": False,
            "RATELIMIT_STORAGE_URI": "memory://",
            # Counted without the public dashboard's short-lived cache: what a request
            # costs when it has to compute its figures (a cache hit runs fewer).
            "PUBLIC_CACHE_SECONDS": 0,
            "LOGIN_LIMIT_PER_ACCOUNT": RAISED_LOGIN_LIMIT,
            "LOGIN_LIMIT_PER_ADDRESS": RAISED_LOGIN_LIMIT,
        }
    )
    statements: list[str] = []

    with app.app_context():
        engine = db.engine

    def before(_conn, _cursor, statement, _parameters, _context, _executemany):
        statements.append(statement)

    clients: dict[str, object] = {}

    def client_for(email: str | None):
        key = email or ""
        if key not in clients:
            client = app.test_client()
            if email:
                answer = _in_process_login(client, email)
                if answer.status_code != 302:
                    raise SystemExit(f"In-process login of {email} failed: {answer.status_code}")
            clients[key] = client
        return clients[key]

    for scenario in scenarios:
        counts = []
        for target in scenario.sql_targets:
            headers = {}
            if target.bearer:
                headers = {"Authorization": f"Bearer {target.bearer}", "Accept": "application/json"}
            # One request first: what is counted is a request to a process that has
            # already served one (imports, caches of reference data, prepared plans).
            for counted in (False, True):
                if target.login_email:
                    client = app.test_client()
                    form = client.get("/anmelden", base_url="https://localhost")
                    token = csrf_token(form.get_data(as_text=True))
                else:
                    client = client_for(target.user)
                statements.clear()
                if counted:
                    event.listen(engine, "before_cursor_execute", before)
                try:
                    if target.login_email:
                        answer = _post_login(client, target.login_email, token)
                    else:
                        answer = client.open(
                            target.path,
                            method=target.method,
                            headers=headers,
                            base_url="https://localhost",
                        )
                finally:
                    if counted:
                        event.remove(engine, "before_cursor_execute", before)
                if answer.status_code != scenario.expected_status:
                    raise SystemExit(
                        f"{scenario.title}: {target.path} answered {answer.status_code} "
                        f"in-process, expected {scenario.expected_status}."
                    )
            counts.append(len(statements))
            label = target.login_email or target.path
            if target.user:
                label = f"{target.path} as {target.user}"
            scenario.sql_detail.append((label, len(statements)))
        scenario.sql = (min(counts), max(counts))
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _in_process_login(client, email: str):
    page = client.get("/anmelden", base_url="https://localhost")
    return _post_login(client, email, csrf_token(page.get_data(as_text=True)))


def _post_login(client, email: str, token: str):
    return client.post(
        "/anmelden",
        data={"csrf_token": token, "email": email, "password": DEMO_PASSWORD, "next": ""},
        headers={"Referer": "https://localhost/anmelden"},
        base_url="https://localhost",
    )


# --- driving wrk ----------------------------------------------------------------------------


def write_targets(path: Path, targets: list[Target]) -> None:
    lines = []
    for target in targets:
        headers = {**PROXY_HEADERS, **target.headers}
        fields = [target.method, target.path, target.body]
        fields += [f"{name}: {value}" for name, value in headers.items()]
        if any("\t" in f or "\n" in f for f in fields):
            raise ValueError(f"unexpected tab or newline in {target.path}")
        lines.append("\t".join(fields))
    path.write_text("\n".join(lines) + "\n")


def run_wrk(wrk: str, port: int, targets_file: Path, expected: int, seconds: int) -> dict:
    command = [
        wrk,
        f"-t{WRK_THREADS}",
        f"-c{CONNECTIONS}",
        f"-d{seconds}s",
        f"--timeout={WRK_TIMEOUT}",
        "--latency",
        "-s",
        str(LUA_SCRIPT),
        f"http://127.0.0.1:{port}",
        "--",
        str(targets_file),
        str(expected),
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    match = re.search(r"^BENCH_RESULT (\{.*\})$", output.stdout, re.M)
    if output.returncode != 0 or not match:
        say(output.stdout)
        say(output.stderr)
        raise SystemExit(f"wrk failed (exit {output.returncode}).")
    result = json.loads(match.group(1))
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["errors"] = (
        result["connect_errors"]
        + result["read_errors"]
        + result["write_errors"]
        + result["timeouts"]
        + result["unexpected_status"]
    )
    return result


def measure(
    wrk, port, work_dir: Path, key: str, targets, expected, args, profile_pid=None, idle_path="/"
):
    targets_file = work_dir / f"{key}.targets"
    write_targets(targets_file, targets)
    wait_idle(port, idle_path)
    if args.warmup:
        run_wrk(wrk, port, targets_file, expected, args.warmup)
    recorder = None
    if args.profile and profile_pid:
        svg = Path(args.profile) / f"{key}.svg"
        recorder = subprocess.Popen(  # noqa: S603
            [
                str(BIN / "py-spy"),
                "record",
                "--subprocesses",
                "--pid",
                str(profile_pid),
                "--duration",
                str(args.duration),
                "--output",
                str(svg),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    result = run_wrk(wrk, port, targets_file, expected, args.duration)
    if recorder is not None:
        recorder.wait()
    return result


# --- the report -----------------------------------------------------------------------------


def verdict(result: dict, baseline_rps: float) -> tuple[bool, list[str]]:
    misses = []
    if result["errors"]:
        misses.append("errors")
    if result["rps"] < MIN_BASELINE_RATIO * baseline_rps:
        misses.append(f"< {MIN_BASELINE_RATIO:.0%} of baseline")
    if result["p99_us"] / 1000 >= MAX_P99_MS:
        misses.append(f"p99 ≥ {MAX_P99_MS:.0f} ms")
    return not misses, misses


def table(baseline: dict, scenarios: list[Scenario]) -> str:
    rows = [
        "| scenario | req/s | p50 ms | p99 ms | errors | ratio to baseline | SQL/request | target met |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    base = baseline["rps"]
    rows.append(
        f"| 0 Baseline (Flask, 1 Zeile Text) | {base:.0f} | {baseline['p50_us'] / 1000:.1f} "
        f"| {baseline['p99_us'] / 1000:.1f} | {baseline['errors']} | 1.00 | – | – |"
    )
    for scenario in scenarios:
        result = scenario.result
        if result is None:
            continue
        met, misses = verdict(result, base)
        sql = "–" if scenario.sql is None else f"{scenario.sql[0]}–{scenario.sql[1]}"
        if scenario.sql and scenario.sql[0] == scenario.sql[1]:
            sql = str(scenario.sql[0])
        mark = "yes" if met else "**NO** (" + ", ".join(misses) + ")"
        rows.append(
            f"| {scenario.title} | {result['rps']:.1f} | {result['p50_us'] / 1000:.1f} "
            f"| {result['p99_us'] / 1000:.1f} | {result['errors']} | {result['rps'] / base:.3f} "
            f"| {sql} | {mark} |"
        )
    return "\n".join(rows)


def machine_facts() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    load = os.getloadavg()
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "memory": memory,
        "load_before": f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}",
        "python": platform.python_version(),
        "system": platform.platform(),
    }


def write_results(path: Path, args, started: dt.datetime, machine, data, baseline, scenarios):
    table_text = table(baseline, scenarios)
    misses = [s.title for s in scenarios if s.result and not verdict(s.result, baseline["rps"])[0]]
    rows = "\n".join(f"| {name} | {count:,} |" for name, count in data["rows"].items())
    sql_lines = []
    for scenario in scenarios:
        detail = ", ".join(f"`{what}` {count}" for what, count in scenario.sql_detail)
        note = f" ({scenario.note})" if scenario.note else ""
        sql_lines.append(f"- {scenario.title}: {detail}{note}")
    target_lines = [f"- {s.title}: {len(s.targets)} targets in rotation" for s in scenarios]
    samples = [
        f"- {s.title}: {s.result['errors']} errors = {s.result['connect_errors']} connect, "
        f"{s.result['read_errors']} read, {s.result['write_errors']} write, "
        f"{s.result['timeouts']} timeouts (> {WRK_TIMEOUT}), {s.result['unexpected_status']} "
        f"unexpected status"
        + (f" (e.g. `{s.result['unexpected_sample']}`)" if s.result["unexpected_sample"] else "")
        for s in scenarios
        if s.result and s.result["errors"]
    ]
    text = f"""# Benchmark results

Written by `bench/run.py` (`make bench`); see `bench/README.md` for the scenarios and how
to read the table. Targets per scenario: no errors, at least {MIN_BASELINE_RATIO:.0%} of the
baseline's req/s, p99 below {MAX_P99_MS:.0f} ms.

- Date: {started.strftime("%Y-%m-%d %H:%M")} UTC
- Machine: {machine["cores"]} cores ({machine["cpu"]}), {machine["memory"]}, load average
  before the run {machine["load_before"]}; {machine["system"]}; Python {machine["python"]};
  PostgreSQL {data["postgresql"]}
- Settings: gunicorn {WORKERS} workers, worker class `{WORKER_CLASS}`; wrk {WRK_THREADS} threads,
  {CONNECTIONS} connections, {args.duration} s per scenario after a {args.warmup} s warm-up
  (not counted), timeout {WRK_TIMEOUT}; FITSTORE_ENV=production, scrypt password hashes,
  rate limits and the public dashboard cache (RedisCache) in Redis, login limits raised to `{RAISED_LOGIN_LIMIT}` for the run
- Database: `{urlsplit(args.database_url).path.lstrip("/")}`, national data set
  (`fitstore generate --scale national --seed 1`), {data["published_listings"]:,} published listings

{table_text}

{"**Targets missed:** " + "; ".join(misses) if misses else "All targets met."}

## Data set

| table | rows |
|---|---:|
{rows}

## SQL statements per request (in-process, per target)

Each counted after one uncounted request to the same target, with the public cache off.

{chr(10).join(sql_lines)}

## Rotation

{chr(10).join(target_lines)}

## Errors

{chr(10).join(samples) or "None."}
"""
    path.write_text(text)


# --- main -----------------------------------------------------------------------------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument(
        "--skip-setup", action="store_true", help="use the database as it is (no migrate/generate)"
    )
    parser.add_argument("--duration", type=int, default=20, help="seconds per scenario")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per scenario")
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated scenario keys (catalogue,listing,land,costs,dashboard,api,login);"
        " a partial run writes no RESULTS.md unless --results is given",
    )
    parser.add_argument("--results", default=None, help="where to write the Markdown record")
    parser.add_argument("--profile", default=None, help="directory for py-spy flame graphs")
    parser.add_argument("--seed", type=int, default=1, help="seed of the target choice")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not args.database_url.startswith("postgresql"):
        raise SystemExit(
            "The benchmark runs on PostgreSQL (--database-url postgresql+psycopg://…)."
        )
    signal.signal(signal.SIGTERM, _terminate)
    atexit.register(stop_processes)
    sys.path.insert(0, str(ROOT))
    started = dt.datetime.now(dt.UTC)
    machine = machine_facts()
    wrk = ensure_wrk()
    only = {key.strip() for key in args.only.split(",") if key.strip()}

    if args.skip_setup:
        say("Using the database as it is (--skip-setup).")
    else:
        prepare_database(args.database_url)
    data = dataset_facts(args.database_url)
    say(
        "Data set: "
        + ", ".join(f"{name} {count:,}" for name, count in data["rows"].items())
        + f"; published listings {data['published_listings']:,}"
    )

    import redis

    redis.Redis.from_url(RATELIMIT_URI).flushdb()
    say(f"Flushed the rate-limit store {RATELIMIT_URI}.")
    say(
        "Login limits raised for this run only: FITSTORE_LOGIN_LIMIT_PER_ACCOUNT and "
        f"FITSTORE_LOGIN_LIMIT_PER_ADDRESS = {RAISED_LOGIN_LIMIT!r} "
        "(the benchmark measures throughput, not the limiter)."
    )

    token = (
        run_fitstore(
            args.database_url,
            "token",
            "create",
            "editor-bb@demo.test",
            "--name",
            f"bench {started:%Y-%m-%d %H:%M}",
        )
        .strip()
        .splitlines()[-1]
    )
    rng = random.Random(args.seed)  # noqa: S311  (reproducible target choice, no secret)
    say("Choosing targets ...")
    chosen = choose_targets(args.database_url, rng)

    work_dir = Path(tempfile.mkdtemp(prefix="fitstore-bench-"))
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    say(f"Logs and target files: {work_dir}")
    app_env = fitstore_env(
        args.database_url,
        FITSTORE_ENV="production",
        FITSTORE_RATELIMIT_STORAGE_URI=RATELIMIT_URI,
        # As in a production with several processes: the public figures are counted once
        # and shared by both workers through Redis.
        FITSTORE_CACHE_TYPE="RedisCache",
        FITSTORE_CACHE_REDIS_URL=RATELIMIT_URI,
        FITSTORE_LOGIN_LIMIT_PER_ACCOUNT=RAISED_LOGIN_LIMIT,
        FITSTORE_LOGIN_LIMIT_PER_ADDRESS=RAISED_LOGIN_LIMIT,
        FITSTORE_PROXY_COUNT="1",
    )
    baseline_env = clean_env()
    try:
        baseline_process, baseline_port = start_gunicorn(
            "baseline", "baseline:app", baseline_env, work_dir, ("--pythonpath", "bench")
        )
        app_process, port = start_gunicorn("fitstore", "wsgi:app", app_env, work_dir)
        wait_ready(baseline_process, baseline_port, "/", "baseline")
        wait_ready(app_process, port, "/healthz", "fitstore")
        say(f"gunicorn: fitstore on :{port}, baseline on :{baseline_port}")

        say("Logging in the editors (real logins) ...")
        needed = set(chosen["editors"])
        needed |= {chosen["editor_of_land"][provider] for *_rest, provider in chosen["splits"]}
        sessions = {email: log_in(port, email) for email in sorted(needed)}
        login_users = [*chosen["editors"], *chosen["viewers"]]
        forms = [(email, fetch_login_form(port)) for email in login_users]
        scenarios = build_scenarios(chosen, port, token, sessions, forms)
        if only:
            scenarios = [s for s in scenarios if s.key in only]

        say("Counting SQL statements per request (in-process) ...")
        count_queries(args.database_url, scenarios)

        say(f"Baseline ({args.duration} s) ...")
        baseline = measure(
            wrk, baseline_port, work_dir, "baseline", [Target("GET", "/")], 200, args
        )
        say(f"  {baseline['rps']:.0f} req/s")
        for scenario in scenarios:
            say(f"{scenario.title} ({len(scenario.targets)} targets, {args.duration} s) ...")
            scenario.result = measure(
                wrk,
                port,
                work_dir,
                scenario.key,
                scenario.targets,
                scenario.expected_status,
                args,
                profile_pid=app_process.pid,
                idle_path="/healthz",
            )
            result = scenario.result
            say(
                f"  {result['rps']:.1f} req/s, p50 {result['p50_us'] / 1000:.1f} ms, "
                f"p99 {result['p99_us'] / 1000:.1f} ms, errors {result['errors']}"
            )
    finally:
        stop_processes()

    say("")
    say(table(baseline, scenarios))
    missed = [s.title for s in scenarios if not verdict(s.result, baseline["rps"])[0]]
    say("")
    say("TARGETS MISSED: " + "; ".join(missed) if missed else "All targets met.")
    results_path = Path(args.results) if args.results else None
    if results_path is None and not only:
        results_path = BENCH_DIR / "RESULTS.md"
    if results_path is not None:
        write_results(results_path, args, started, machine, data, baseline, scenarios)
        say(f"Written to {results_path}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
