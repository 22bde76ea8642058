"""Two fitstore nodes on one PostgreSQL and one Redis: what a second node must not break.

    .venv/bin/python bench/multinode.py      (or: make multinode)

Starts a throw-away PostgreSQL server (own data directory, own port, so restarting it
disturbs nothing else on the machine), migrates it and loads the demo data, then runs
two gunicorn instances ("node A" and "node B") of ``wsgi:app`` against it with the same
secret key and the same Redis database for rate limits, in production mode. The script
plays both the browser and the TLS-terminating load balancer in front of the nodes
(``X-Forwarded-Proto/-Host/-For``) and checks:

1. a session started on A works on B;
2. logging out on A revokes the session on B (server-side sessions);
3. the per-account login limit counts attempts on both nodes together;
4. two simultaneous countersignatures of one contract, one per node: exactly one wins;
5. ``fitstore audit verify`` passes;
6. PostgreSQL restarted under load: only 503 with Retry-After while it is down, recovery
   without restarting the app, no half-written data.

Prints one PASS/FAIL line per check and a summary table; exits 0 only if all pass.
Everything it starts is stopped and removed at the end, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from pathlib import Path

import psycopg
import redis
import requests
from harness import clean_env, fitstore_cli, free_port, say

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
REDIS_URL = os.environ.get("MULTINODE_REDIS_URL", "redis://127.0.0.1:6379/6")
# This run's own rate-limit keys: a shared Redis keeps other users' keys untouched, and two
# runs at once do not count each other's attempts.
KEY_PREFIX = f"fitstore-multinode-{os.getpid()}"
# The public name the simulated load balancer announces to both nodes (X-Forwarded-Host).
SITE = "fitstore.test"
ORIGIN = f"https://{SITE}"
DEMO_PASSWORD = "fitstore-demo"  # noqa: S105  (the documented demo password)
LOGIN_LIMIT_PER_ACCOUNT = "5 per 15 minutes"
HTTP_TIMEOUT = 10.0
# Listing 1 (Aufenthaltstitel, provider Brandenburg) gets plan items in a year the demo
# leaves empty, so the writes under load touch nothing the demo shows.
WRITE_LISTING, WRITE_YEAR = 1, 2031
CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*?value="([^"]+)"')
SESSION_COOKIE = "fitstore_session"


# --- the throw-away PostgreSQL server -------------------------------------------------------


class TempPostgres:
    """A PostgreSQL cluster in a temporary directory, run as the ``postgres`` OS user when we
    are root (the server refuses to run as root), with trust auth on 127.0.0.1 only."""

    def __init__(self, workdir: Path):
        versions = sorted(
            Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3])
        )
        if not versions:
            raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
        self.bin = versions[-1].parent
        self.workdir = workdir
        self.datadir = workdir / "pgdata"
        self.logfile = workdir / "postgres.log"
        self.port = free_port()
        self.running = False
        self.as_postgres = os.geteuid() == 0

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/fitstore"

    @property
    def libpq_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/fitstore"

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(  # noqa: S603  (fixed programs, our own arguments)
            command, capture_output=True, text=True, timeout=timeout, start_new_session=True
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} {args[1:]} failed: {result.stderr or result.stdout}")
        return result

    def create(self) -> None:
        if self.as_postgres:
            account = pwd.getpwnam("postgres")
            os.chown(self.workdir, account.pw_uid, account.pw_gid)
        self._run(
            "initdb",
            "-D",
            str(self.datadir),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        )
        self.start()
        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True
        ) as connection:
            connection.execute("CREATE DATABASE fitstore")

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: sessions are cut off, the server comes back."""
        self._run("pg_ctl", *self._server_options(), "-m", "fast", "-w", "restart")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "stop")
        self.running = False

    def start(self) -> None:
        self._run("pg_ctl", *self._server_options(), "-w", "start")
        self.running = True

    def _server_options(self) -> list[str]:
        # Every time: a plain "pg_ctl start" would take the default port 5432. The log file
        # also keeps the server from holding on to our pipe (pg_ctl would never finish).
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.workdir}"
        )
        return ["-D", str(self.datadir), "-l", str(self.logfile), "-o", options]

    def destroy(self) -> None:
        if self.running or (self.datadir / "postmaster.pid").exists():
            try:
                self.stop("fast")
            except Exception:  # noqa: BLE001  a stuck server must not survive us
                try:
                    self.stop("immediate")
                except Exception as error:  # noqa: BLE001
                    say(f"warning: could not stop the temporary PostgreSQL: {error}")

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with psycopg.connect(self.libpq_url, connect_timeout=5) as connection:
            return connection.execute(sql, params).fetchall()


# --- the app nodes --------------------------------------------------------------------------


def app_env(database_url: str, secret_key: str, env: str = "production") -> dict[str, str]:
    return clean_env(
        FITSTORE_ENV=env,
        FITSTORE_DATABASE_URL=database_url,
        FITSTORE_SECRET_KEY=secret_key,
        FITSTORE_RATELIMIT_STORAGE_URI=REDIS_URL,
        FITSTORE_RATELIMIT_KEY_PREFIX=KEY_PREFIX,
        FITSTORE_LOGIN_LIMIT_PER_ACCOUNT=LOGIN_LIMIT_PER_ACCOUNT,
        # One trusted proxy: the load balancer this script plays.
        FITSTORE_PROXY_COUNT="1",
        FITSTORE_LOG_FORMAT="text",
    )


class Node:
    """One gunicorn instance of ``wsgi:app``."""

    def __init__(self, name: str, environment: dict[str, str], workdir: Path, workers: int):
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.logfile = workdir / f"node-{name}.log"
        # An empty config file: the repository's gunicorn.conf.py (production defaults,
        # read from the working directory otherwise) must not change what is tested here.
        config = workdir / "gunicorn-multinode.conf.py"
        config.write_text("# every setting is on the command line\n")
        self.command = [
            str(BIN / "gunicorn"),
            "--config",
            str(config),
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{self.port}",
            "--timeout",
            "30",
            "--graceful-timeout",
            "5",
            "--chdir",
            str(ROOT),
            "wsgi:app",
        ]
        self.environment = environment
        self.process: subprocess.Popen | None = None
        self._log = None

    def start(self) -> None:
        self._log = self.logfile.open("ab")
        self.process = subprocess.Popen(  # noqa: S603
            self.command,
            cwd=ROOT,
            env=self.environment,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us; we stop the node ourselves
        )

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"node {self.name} exited with {self.process.returncode}; see its log:\n"
                    + self.log_tail()
                )
            try:
                if requests.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"node {self.name} not ready after {timeout} s:\n{self.log_tail()}")

    def pids(self) -> tuple[int, tuple[int, ...]]:
        """The master and its workers: a changed set means a worker was killed (timeout)
        or the node restarted."""
        master = self.process.pid
        workers = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                workers.append(int(stat.parent.name))
        return master, tuple(sorted(workers))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # gunicorn: graceful shutdown
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        if self._log is not None:
            self._log.close()

    def log_tail(self, lines: int = 25, pattern: str | None = None) -> str:
        try:
            content = self.logfile.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        if pattern:
            content = [line for line in content if re.search(pattern, line)]
        return "\n".join(content[-lines:])


# --- the client: a browser behind the load balancer ----------------------------------------


class Client:
    """A browser reaching the nodes through a TLS-terminating load balancer.

    The nodes run in production mode, so the session cookie is ``Secure``. ``requests``
    (rightly) never sends a Secure cookie over plain http, so this client keeps its cookies
    itself and sends them as a browser does over the https connection to the balancer; the
    balancer's headers tell the app that the original request was https for ``SITE``.
    """

    def __init__(self, address: str, cookies: dict[str, str] | None = None):
        self.address = address
        self.cookies: dict[str, str] = dict(cookies or {})
        self.cookie_flags: dict[str, set[str]] = {}

    def request(
        self,
        node: Node,
        method: str,
        path: str,
        *,
        form: dict | None = None,
        body: dict | None = None,
        token: str | None = None,
        referer: str | None = None,
        timeout: float = HTTP_TIMEOUT,
    ) -> requests.Response:
        headers = {
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": SITE,
            "X-Forwarded-For": self.address,
            "Accept-Language": "de",
        }
        if self.cookies and not token:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if referer:
            # Flask-WTF checks the Referer of https form posts (same origin).
            headers["Referer"] = ORIGIN + referer
        if token:
            headers["Authorization"] = f"Bearer {token}"
        response = requests.request(
            method,
            node.url + path,
            data=form,
            json=body,
            headers=headers,
            timeout=timeout,
            allow_redirects=False,
        )
        for raw in response.raw.headers.getlist("Set-Cookie"):
            self._store(raw)
        return response

    def _store(self, raw: str) -> None:
        parsed = SimpleCookie()
        parsed.load(raw)
        for name, morsel in parsed.items():
            expired = morsel["max-age"] == "0" or "1970" in (morsel["expires"] or "")
            if expired or not morsel.value:
                self.cookies.pop(name, None)
                continue
            self.cookies[name] = morsel.value
            flags = {flag for flag in ("secure", "httponly") if morsel[flag]}
            if morsel["samesite"]:
                flags.add(f"samesite={morsel['samesite']}")
            self.cookie_flags[name] = flags

    def csrf_token(self, node: Node, path: str) -> str:
        response = self.request(node, "GET", path)
        match = CSRF_FIELD.search(response.text)
        if response.status_code != 200 or not match:
            raise AssertionError(
                f"GET {path} on {node.name}: {response.status_code}, no CSRF token"
            )
        return match.group(1)

    def login(self, node: Node, email: str, password: str = DEMO_PASSWORD) -> requests.Response:
        token = self.csrf_token(node, "/anmelden")
        return self.request(
            node,
            "POST",
            "/anmelden",
            form={"csrf_token": token, "email": email, "password": password, "next": ""},
            referer="/anmelden",
        )


def session_id_of(cookie: str, secret_key: str) -> str:
    """The server-side session id inside a Flask session cookie (signed, not encrypted)."""
    from flask.json.tag import TaggedJSONSerializer
    from itsdangerous import URLSafeTimedSerializer

    serializer = URLSafeTimedSerializer(
        secret_key,
        salt="cookie-session",
        serializer=TaggedJSONSerializer(),
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha1},
    )
    return serializer.loads(cookie)["sid"]


# --- checks ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    number: int
    title: str
    passed: bool = False
    figures: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def expect(self, condition: bool, problem: str) -> bool:
        if not condition:
            self.problems.append(problem)
        return condition


class Run:
    def __init__(self, pg: TempPostgres, node_a: Node, node_b: Node, secret_key: str, cli_env):
        self.pg = pg
        self.a = node_a
        self.b = node_b
        self.secret_key = secret_key
        self.cli_env = cli_env
        self.audit_head: str | None = None
        self.logged_in: Client | None = None

    # 1 ----------------------------------------------------------------------------------
    def session_on_both_nodes(self, outcome: Outcome) -> None:
        anonymous = Client("198.51.100.10")
        refused = anonymous.request(self.b, "GET", "/mein-land")
        outcome.expect(
            refused.status_code == 302 and "/anmelden" in refused.headers.get("Location", ""),
            f"/mein-land without login on B answered {refused.status_code}, not a login redirect",
        )
        browser = Client("198.51.100.11")
        login = browser.login(self.a, "editor-bb@demo.test")
        outcome.expect(login.status_code == 302, f"login on A answered {login.status_code}")
        flags = browser.cookie_flags.get(SESSION_COOKIE, set())
        outcome.expect(
            {"secure", "httponly"} <= flags,
            f"session cookie flags {sorted(flags)} lack Secure/HttpOnly",
        )
        page = browser.request(self.b, "GET", "/mein-land")
        outcome.expect(
            page.status_code == 200 and "editor-bb@demo.test" in page.text,
            f"/mein-land on B with A's cookie answered {page.status_code}",
        )
        self.logged_in = browser
        outcome.figures.append(
            f"login on A {login.status_code}; /mein-land on B {page.status_code} as editor-bb "
            f"(anonymous: {refused.status_code}); cookie {'+'.join(sorted(flags))}"
        )

    # 2 ----------------------------------------------------------------------------------
    def logout_revokes_everywhere(self, outcome: Outcome) -> None:
        browser: Client = self.logged_in
        replayed = Client("198.51.100.12", browser.cookies)
        session_hash = hashlib.sha256(
            session_id_of(browser.cookies[SESSION_COOKIE], self.secret_key).encode()
        ).hexdigest()
        token = browser.csrf_token(self.a, "/mein-land")
        logout = browser.request(
            self.a, "POST", "/abmelden", form={"csrf_token": token}, referer="/mein-land"
        )
        outcome.expect(logout.status_code == 302, f"logout on A answered {logout.status_code}")
        answers = {}
        for node in (self.b, self.a):
            response = replayed.request(node, "GET", "/mein-land")
            answers[node.name] = response.status_code
            outcome.expect(
                response.status_code == 302 and "/anmelden" in response.headers.get("Location", ""),
                f"the old cookie on {node.name} answered {response.status_code}, "
                f"Location {response.headers.get('Location')!r}",
            )
        revoked = self.pg.query(
            "SELECT revoked_at IS NOT NULL FROM user_session WHERE id_hash = %s", (session_hash,)
        )
        outcome.expect(revoked == [(True,)], f"session row after logout: {revoked}")
        outcome.figures.append(
            f"logout on A {logout.status_code}; old cookie on B {answers['B']} → /anmelden, "
            f"on A {answers['A']}; session row revoked: {bool(revoked and revoked[0][0])}"
        )

    # 3 ----------------------------------------------------------------------------------
    def login_limit_shared(self, outcome: Outcome) -> None:
        limit = int(LOGIN_LIMIT_PER_ACCOUNT.split()[0])
        account = "viewer-sh@demo.test"
        attacker = Client("198.51.100.20")
        token = attacker.csrf_token(self.a, "/anmelden")
        per_node: Counter = Counter()
        statuses = []
        nodes = [self.a, self.b]
        for attempt in range(limit + 2):
            node = nodes[attempt % 2]
            # The last attempt uses the right password: the limit must hold even then.
            password = DEMO_PASSWORD if attempt == limit + 1 else "wrong-password-123"
            response = attacker.request(
                node,
                "POST",
                "/anmelden",
                form={"csrf_token": token, "email": account, "password": password, "next": ""},
                referer="/anmelden",
            )
            statuses.append((node.name, response.status_code, response.headers.get("Retry-After")))
            if response.status_code != 429:
                per_node[node.name] += 1
        expected = [401] * limit + [429, 429]
        outcome.expect(
            [status for _node, status, _retry in statuses] == expected,
            f"answers {statuses}, expected {expected}",
        )
        outcome.expect(
            all(retry and retry.isdigit() for _n, status, retry in statuses if status == 429),
            "a 429 without a Retry-After in seconds",
        )
        # Neither node saw the limit's number of failures: only a shared counter stops here.
        outcome.expect(
            max(per_node.values()) < limit, f"one node alone saw {dict(per_node)} attempts"
        )
        first_429 = next(i for i, (_n, s, _r) in enumerate(statuses, 1) if s == 429)
        retry = next(r for _n, s, r in statuses if s == 429)
        outcome.figures.append(
            f"limit {limit}: failures A {per_node['A']} + B {per_node['B']} → attempt "
            f"{first_429} ({statuses[first_429 - 1][0]}) 429, Retry-After {retry} s; "
            f"right password afterwards on {statuses[-1][0]}: {statuses[-1][1]}"
        )

    # 4 ----------------------------------------------------------------------------------
    def concurrent_countersign(self, outcome: Outcome) -> None:
        rows = self.pg.query(
            "SELECT c.id, c.reuse_id, c.lock_version FROM contract c JOIN reuse r "
            "ON r.id = c.reuse_id WHERE c.status = 'awaiting_countersign' "
            "AND r.adopter_land_ags = '16'"
        )
        if not outcome.expect(len(rows) == 1, f"Thüringen contracts awaiting countersign: {rows}"):
            return
        contract_id, reuse_id, version_before = rows[0]
        audit_before = self._contracted_audit_rows(reuse_id)
        token = fitstore_cli(
            self.cli_env, "token", "create", "fitko-2@demo.test", "--name", "multinode"
        ).strip()
        api = Client("198.51.100.30")
        for node in (self.a, self.b):  # warm up: the token works on both nodes
            me = api.request(node, "GET", "/api/v1/me", token=token)
            outcome.expect(me.status_code == 200, f"/api/v1/me on {node.name}: {me.status_code}")
        barrier = threading.Barrier(2)
        answers: dict[str, tuple[int, dict, float]] = {}

        def countersign(node: Node) -> None:
            barrier.wait()
            started = time.monotonic()
            response = api.request(
                node,
                "POST",
                f"/api/v1/contracts/{contract_id}/countersign",
                # The order was recorded in UTC; the contract may take effect from that day.
                body={"effective_date": datetime.now(UTC).date().isoformat()},
                token=token,
            )
            answers[node.name] = (response.status_code, response.json(), time.monotonic() - started)

        threads = [threading.Thread(target=countersign, args=(node,)) for node in (self.a, self.b)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        statuses = sorted(status for status, _body, _t in answers.values())
        outcome.expect(statuses == [200, 409], f"countersign answers {answers}")
        loser = next((body for status, body, _t in answers.values() if status == 409), {})
        outcome.expect(
            loser.get("status") == 409 and bool(loser.get("detail")),
            f"the refusal is no problem body with a detail: {loser}",
        )
        state = self.pg.query(
            "SELECT c.status, c.lock_version, u.email, r.stage FROM contract c "
            "JOIN reuse r ON r.id = c.reuse_id "
            "LEFT JOIN user_account u ON u.id = c.countersigned_by_id WHERE c.id = %s",
            (contract_id,),
        )[0]
        outcome.expect(
            state == ("in_force", version_before + 1, "fitko-2@demo.test", "contracted"),
            f"contract after the race: {state} (version before {version_before})",
        )
        transitions = self.pg.query(
            "SELECT count(*) FROM reuse_transition WHERE reuse_id = %s AND to_stage = 'contracted'",
            (reuse_id,),
        )[0][0]
        audit_rows = self._contracted_audit_rows(reuse_id) - audit_before
        outcome.expect(transitions == 1, f"{transitions} transitions to contracted")
        outcome.expect(audit_rows == 1, f"{audit_rows} new audit rows reuse.contracted")
        winner = next(name for name, (status, _b, _t) in answers.items() if status == 200)
        outcome.figures.append(
            f"contract {contract_id}: "
            + ", ".join(f"{n} {s} in {t:.2f} s" for n, (s, _b, t) in sorted(answers.items()))
            + f"; winner {winner}; DB: {state[0]}, version {version_before}→{state[1]}, "
            f"1 transition, {audit_rows} audit row"
        )
        outcome.figures.append(f"refusal: {loser.get('detail')}")

    def _contracted_audit_rows(self, reuse_id: int) -> int:
        return self.pg.query(
            "SELECT count(*) FROM audit_event WHERE action = 'reuse.contracted' "
            "AND object_type = 'reuse' AND object_id = %s",
            (str(reuse_id),),
        )[0][0]

    # 5 ----------------------------------------------------------------------------------
    def audit_chain(self, outcome: Outcome) -> None:
        output = fitstore_cli(self.cli_env, "audit", "verify")
        head = re.search(r"^head: (\S+)$", output, re.MULTILINE)
        outcome.expect(output.startswith("OK:") and head is not None, f"audit verify: {output}")
        self.audit_head = head.group(1) if head else None
        outcome.figures.append(output.splitlines()[0])

    # 6 ----------------------------------------------------------------------------------
    def restart_under_load(self, outcome: Outcome) -> None:
        nodes = (self.a, self.b)
        pids_before = {node.name: node.pids() for node in nodes}
        reader = Client("198.51.100.40")
        login = reader.login(self.a, "viewer-he@demo.test")
        outcome.expect(login.status_code == 302, f"reader login: {login.status_code}")
        writer_token = fitstore_cli(
            self.cli_env, "token", "create", "editor-bb@demo.test", "--name", "multinode-load"
        ).strip()
        load = Load(nodes, reader.cookies, writer_token)
        load.start()
        time.sleep(3)

        # A: pg_ctl restart -m fast (sessions cut, server back within about a second).
        restart_began = load.now()
        self.pg.restart()
        restart_done = load.now()
        time.sleep(8)

        # B: a longer outage, so requests certainly meet a server that is gone.
        outage_began = load.now()
        self.pg.stop("fast")
        time.sleep(5)
        self.pg.start()
        outage_done = load.now()
        time.sleep(8)
        load.stop()
        if not outcome.expect(not load.crashed, f"a load thread crashed: {load.crashed}"):
            return

        samples = load.samples
        by_status = Counter(sample.status for sample in samples)
        unexpected = [s for s in samples if not s.acceptable()]
        unavailable = [s for s in samples if s.status == 503]
        outcome.expect(
            not unexpected,
            f"{len(unexpected)} answers other than success or 503, e.g. "
            + "; ".join(s.describe() for s in unexpected[:5]),
        )
        without_retry = [s for s in unavailable if not (s.retry_after or "").isdigit()]
        outcome.expect(not without_retry, f"{len(without_retry)} 503 without Retry-After")
        wrong_body = [s for s in unavailable if not s.body_matches()]
        outcome.expect(
            not wrong_body,
            f"{len(wrong_body)} 503 with the wrong body type, e.g. "
            + "; ".join(s.describe() for s in wrong_body[:3]),
        )
        in_outage = [s for s in unavailable if s.started >= outage_began]
        outcome.expect(bool(in_outage), "no request met the stopped server (no 503 seen)")
        slowest = max((s.elapsed for s in samples), default=0.0)

        recovery = {}
        for phase, done in (("restart", restart_done), ("outage", outage_done)):
            for node in nodes:
                first_ok = min(
                    (
                        s.finished
                        for s in samples
                        if s.node == node.name and s.started >= done and s.ok()
                    ),
                    default=None,
                )
                recovery[(phase, node.name)] = None if first_ok is None else first_ok - done
                outcome.expect(
                    first_ok is not None and first_ok - done < 15,
                    f"{node.name} not serving within 15 s after the {phase}",
                )
        tail = [s for s in samples if s.started >= outage_done + 3]
        outcome.expect(
            bool(tail) and all(s.ok() for s in tail),
            f"after recovery: {Counter(s.status for s in tail)}",
        )
        pids_after = {node.name: node.pids() for node in nodes}
        outcome.expect(
            pids_after == pids_before,
            f"gunicorn processes changed: {pids_before} → {pids_after}",
        )
        for node in nodes:  # a final request on each node, after all that
            answer = requests.get(f"{node.url}/readyz", timeout=HTTP_TIMEOUT)
            outcome.expect(
                answer.status_code == 200, f"/readyz on {node.name}: {answer.status_code}"
            )

        consistency = self._writes_consistent(outcome, load)
        output = fitstore_cli(
            self.cli_env,
            "audit",
            "verify",
            *(("--expect-head", self.audit_head) if self.audit_head else ()),
        )
        outcome.expect(output.startswith("OK:"), f"audit verify after the restart: {output}")

        outage_503 = [s for s in unavailable if outage_began <= s.started]
        restart_503 = [s for s in unavailable if restart_began <= s.started < outage_began]
        plain = sum(1 for s in unavailable if s.content_type.startswith("text/plain"))
        outcome.figures += [
            f"{len(samples)} requests: "
            + ", ".join(
                f"{status} ×{count}" for status, count in sorted(by_status.items(), key=str)
            )
            + "; 503 by kind: "
            + ", ".join(f"{k} {n}" for k, n in sorted(Counter(s.kind for s in unavailable).items()))
            + f" ({plain} pages as plain text)",
            f"503 during the fast restart: {len(restart_503)} "
            f"(pg_ctl restart took {restart_done - restart_began:.1f} s); during the 5 s stop: "
            f"{len(outage_503)}, all with Retry-After; other errors: {len(unexpected)}; "
            f"slowest answer {slowest:.2f} s",
            "first success after the server was back: "
            + ", ".join(
                f"{phase} {node} {value:.2f} s" if value is not None else f"{phase} {node} never"
                for (phase, node), value in recovery.items()
            ),
            "gunicorn master and workers unchanged (no app restart, no worker timeout)"
            if pids_after == pids_before
            else "gunicorn processes changed",
            consistency,
            output.splitlines()[0]
            + f" (head of check 5 {'kept' if self.audit_head else 'unknown'})",
        ]

    def _writes_consistent(self, outcome: Outcome, load: Load) -> str:
        """Every audit row of the writes matches a change in the plan, and back."""
        audit_rows = self.pg.query(
            "SELECT action, details FROM audit_event WHERE object_type = 'listing' "
            "AND object_id = %s AND action IN ('cost_plan.item_added', 'cost_plan.item_removed')",
            (str(WRITE_LISTING),),
        )
        added: list[int] = []
        removed: list[int] = []
        for action, details in audit_rows:
            values = json.loads(details)
            if values.get("year") != WRITE_YEAR:
                continue
            (added if action == "cost_plan.item_added" else removed).append(values["item"])
        in_plan = {
            row[0]
            for row in self.pg.query(
                "SELECT id FROM cost_plan_item WHERE listing_id = %s AND year = %s",
                (WRITE_LISTING, WRITE_YEAR),
            )
        }
        outcome.expect(len(added) == len(set(added)), "an item added twice in the audit")
        outcome.expect(len(removed) == len(set(removed)), "an item removed twice in the audit")
        outcome.expect(set(removed) <= set(added), "a removal without an addition")
        outcome.expect(
            in_plan == set(added) - set(removed),
            f"plan items {sorted(in_plan)} ≠ added − removed {sorted(set(added) - set(removed))}",
        )
        confirmed_added = set(load.confirmed_added)
        confirmed_removed = set(load.confirmed_removed)
        outcome.expect(confirmed_added <= set(added), "a 201 answer without its audit row")
        outcome.expect(confirmed_removed <= set(removed), "a 204 answer without its audit row")
        outcome.expect(bool(confirmed_added), "no write succeeded")
        return (
            f"writes: {len(load.confirmed_added)} adds and {len(load.confirmed_removed)} "
            f"removals answered OK, {load.refused_writes} refused with 503; audit: "
            f"{len(added)} added, {len(removed)} removed; plan keeps {len(in_plan)} "
            f"(= added − removed)"
        )


@dataclass
class Sample:
    node: str
    kind: str  # "html", "api", "add", "remove", "remove-retry"
    path: str
    started: float
    finished: float
    status: int | str  # HTTP status, or "timeout"/"connection error"
    retry_after: str | None = None
    content_type: str = ""
    expected: int = 200
    request_id: str = ""

    @property
    def elapsed(self) -> float:
        return self.finished - self.started

    def ok(self) -> bool:
        return self.status == self.expected or (self.kind == "remove-retry" and self.status == 404)

    def acceptable(self) -> bool:
        return self.ok() or self.status == 503

    def body_matches(self) -> bool:
        if self.kind == "html":
            # The error page, or errors.py's plain-text last resort when even that fails.
            return self.content_type.startswith(("text/html", "text/plain"))
        return self.content_type.startswith("application/problem+json")

    def describe(self) -> str:
        return (
            f"{self.node} {self.kind} {self.path} → {self.status} after {self.elapsed:.2f} s"
            f" (request id {self.request_id or '-'})"
        )


class Load:
    """Per node, all the time: a reader (the listing page and /mein-land as a logged-in
    user, and the listing's public API document) and a writer (adds a cost-plan item over
    the API, then removes it again, retrying a removal that met the outage)."""

    READ_PATHS = (
        ("html", f"/leistungen/{WRITE_LISTING}"),
        ("html", "/mein-land"),
        ("api", f"/api/v1/listings/{WRITE_LISTING}"),
    )

    def __init__(self, nodes, reader_cookies: dict[str, str], writer_token: str):
        self.nodes = nodes
        self.reader_cookies = reader_cookies
        self.token = writer_token
        self.samples: list[Sample] = []
        self.confirmed_added: list[int] = []
        self.confirmed_removed: list[int] = []
        self.refused_writes = 0
        self.crashed: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._origin = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self._origin

    def start(self) -> None:
        for node in self.nodes:
            for target in (self._read, self._write):
                thread = threading.Thread(target=self._guard, args=(target, node), daemon=True)
                thread.start()
                self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=HTTP_TIMEOUT + 5)

    def _guard(self, target, node) -> None:
        try:
            target(node)
        except Exception as error:  # noqa: BLE001  reported as a failure of the check
            self.crashed.append(f"{node.name}: {type(error).__name__}: {error}")

    def _call(self, client: Client, node: Node, kind: str, method: str, path: str, expected, **kw):
        started = self.now()
        try:
            response = client.request(node, method, path, **kw)
            status: int | str = response.status_code
        except requests.Timeout:
            response, status = None, "timeout"
        except requests.ConnectionError:
            response, status = None, "connection error"
        sample = Sample(
            node.name,
            kind,
            path,
            started,
            self.now(),
            status,
            response.headers.get("Retry-After") if response is not None else None,
            response.headers.get("Content-Type", "") if response is not None else "",
            expected,
            response.headers.get("X-Request-ID", "") if response is not None else "",
        )
        with self._lock:
            self.samples.append(sample)
        return sample, response

    def _read(self, node: Node) -> None:
        client = Client("198.51.100.41", self.reader_cookies)
        index = 0
        while not self._stop.is_set():
            kind, path = self.READ_PATHS[index % len(self.READ_PATHS)]
            # A 302 from /mein-land would mean the session was lost: not a success.
            self._call(client, node, kind, "GET", path, 200)
            index += 1
            time.sleep(0.05)

    def _write(self, node: Node) -> None:
        client = Client("198.51.100.42")
        items = f"/api/v1/listings/{WRITE_LISTING}/costs/{WRITE_YEAR}/items"
        sequence = 0
        pending: int | None = None  # an item whose removal got no clear answer yet
        retry = False
        while not self._stop.is_set():
            if pending is not None:
                sample, _response = self._call(
                    client,
                    node,
                    "remove-retry" if retry else "remove",
                    "DELETE",
                    f"{items}/{pending}",
                    204,
                    token=self.token,
                )
                if sample.status == 204:
                    with self._lock:
                        self.confirmed_removed.append(pending)
                if sample.status == 503:
                    retry = True
                    with self._lock:
                        self.refused_writes += 1
                else:
                    pending, retry = None, False
            else:
                sequence += 1
                sample, response = self._call(
                    client,
                    node,
                    "add",
                    "POST",
                    items,
                    201,
                    body={
                        "cost_type": "infrastructure",
                        "amount_cents": 100 + sequence,
                        "description": f"multinode {node.name} {sequence}",
                    },
                    token=self.token,
                )
                if sample.status == 201:
                    pending = response.json()["id"]
                    with self._lock:
                        self.confirmed_added.append(pending)
                elif sample.status == 503:
                    with self._lock:
                        self.refused_writes += 1
            time.sleep(0.05)


# --- main -----------------------------------------------------------------------------------


def run_check(number: int, title: str, check) -> Outcome:
    outcome = Outcome(number, title)
    started = time.monotonic()
    try:
        check(outcome)
    except Exception as error:  # noqa: BLE001  a check that breaks is a failed check
        outcome.problems.append(f"{type(error).__name__}: {error}")
    outcome.passed = not outcome.problems
    verdict = "PASS" if outcome.passed else "FAIL"
    say(f"{verdict} {number} {title} ({time.monotonic() - started:.1f} s)")
    for line in outcome.figures:
        say(f"     {line}")
    for problem in outcome.problems:
        say(f"     problem: {problem}")
    return outcome


def summary(outcomes: list[Outcome]) -> None:
    width = max(len(o.title) for o in outcomes)
    say()
    say(f"{'#':<2} {'check':<{width}}  result  figures")
    say(f"{'-' * 2} {'-' * width}  ------  {'-' * 40}")
    for o in outcomes:
        first, *rest = o.figures or [o.problems[0] if o.problems else ""]
        say(f"{o.number:<2} {o.title:<{width}}  {'PASS' if o.passed else 'FAIL':<6}  {first}")
        for line in rest:
            say(f"{'':<2} {'':<{width}}  {'':<6}  {line}")


def forget_keys(store) -> None:
    """Delete this run's rate-limit keys (and nothing else) from the shared Redis."""
    for key in store.scan_iter(match=f"*{KEY_PREFIX}*", count=500):
        store.delete(key)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per node")
    parser.add_argument(
        "--keep-logs", metavar="DIR", help="copy the PostgreSQL and node logs there at the end"
    )
    arguments = parser.parse_args()

    # SIGTERM (e.g. a CI timeout) cleans up like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = Path(tempfile.mkdtemp(prefix="fitstore-multinode-"))
    pg: TempPostgres | None = None
    nodes: list[Node] = []
    store = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    outcomes: list[Outcome] = []
    try:
        store.ping()
        forget_keys(store)
        pg = TempPostgres(workdir)
        say(f"PostgreSQL {pg.bin.parent.name}: temporary server on 127.0.0.1:{pg.port} ({workdir})")
        pg.create()
        secret_key = os.urandom(32).hex()
        cli_env = app_env(pg.url, secret_key)
        started = time.monotonic()
        fitstore_cli(cli_env, "db", "upgrade")
        # The demo refuses production; loading it is an operator step, not a node.
        fitstore_cli(app_env(pg.url, secret_key, env="development"), "demo")
        say(f"migrated and loaded the demo data in {time.monotonic() - started:.0f} s")
        node_env = app_env(pg.url, secret_key)
        nodes = [Node(name, node_env, workdir, arguments.workers) for name in ("A", "B")]
        for node in nodes:
            node.start()
        for node in nodes:
            node.wait_ready()
        say(
            f"node A {nodes[0].url}, node B {nodes[1].url}: gunicorn workers per node: "
            f"{arguments.workers}, FITSTORE_ENV=production, rate limits in {REDIS_URL}"
        )
        say()
        run = Run(pg, nodes[0], nodes[1], secret_key, cli_env)
        checks = [
            ("session from A works on B", run.session_on_both_nodes),
            ("logout on A revokes the session on B", run.logout_revokes_everywhere),
            ("login limit counts across nodes", run.login_limit_shared),
            ("concurrent countersign on A and B", run.concurrent_countersign),
            ("audit chain verifies", run.audit_chain),
            ("PostgreSQL restart under load", run.restart_under_load),
        ]
        for number, (title, check) in enumerate(checks, 1):
            if number == 2 and not getattr(run, "logged_in", None):
                outcome = Outcome(number, title, problems=["needs the session of check 1"])
                say(f"FAIL {number} {title}: needs the session of check 1")
                outcomes.append(outcome)
                continue
            outcomes.append(run_check(number, title, check))
        summary(outcomes)
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    except Exception as error:  # noqa: BLE001  set-up failed: report it, then clean up
        say(f"FAIL set-up: {type(error).__name__}: {error}")
        return 1
    finally:
        failed = not outcomes or not all(o.passed for o in outcomes)
        if failed:
            for node in nodes:
                errors = node.log_tail(12, r" ERROR |\[ERROR\]|\[CRITICAL\]|WORKER TIMEOUT")
                if errors:
                    say(f"--- node {node.name}: last errors ---\n{errors}")
        for node in nodes:
            node.stop()
        if pg is not None:
            pg.destroy()
        if arguments.keep_logs:
            target = Path(arguments.keep_logs)
            target.mkdir(parents=True, exist_ok=True)
            for log in workdir.glob("*.log"):
                shutil.copy(log, target / log.name)
        shutil.rmtree(workdir, ignore_errors=True)
        with contextlib.suppress(redis.RedisError):
            forget_keys(store)
    return 0 if all(o.passed for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
