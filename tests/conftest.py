"""Test harness.

SQLite (default): migrations and reference/demo data are built once into a
template file, and every test gets a fresh copy of it.
PostgreSQL (``FITSTORE_TEST_DATABASE_URL`` set): the same template is built in
that database once, and every test runs inside a transaction that is rolled
back afterwards (sessions join it with SAVEPOINTs).
"""

from __future__ import annotations

import gc
import os
import re
import shutil
import sqlite3
from contextlib import contextmanager

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from fitstore import create_app
from fitstore.extensions import db

PG_URL = os.environ.get("FITSTORE_TEST_DATABASE_URL")
# The ``engine`` fixture with real commits for concurrency tests on PostgreSQL.
pytest_plugins = ["tests.pg_concurrency"]


@event.listens_for(Engine, "connect")
def _sqlite_without_fsync(dbapi_connection, _record) -> None:
    """Test databases are throwaway copies: skip SQLite's fsync on every commit (it cost
    ~14 ms per commit here). Transactions and rollbacks behave exactly as before."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.execute("PRAGMA synchronous=OFF")


DEMO_PASSWORD = "fitstore-demo"

BASE_CONFIG = {
    "ENV": "testing",
    "TESTING": True,
    "SECRET_KEY": "test-secret-key-not-for-production",
    # Cheap hashes keep the suite fast; production uses scrypt (see config.py).
    "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    "RATELIMIT_STORAGE_URI": "memory://",
    "WTF_CSRF_ENABLED": False,
    "SESSION_COOKIE_SECURE": False,
    # Every test sees its own writes at once; the cache's own tests switch it on.
    "PUBLIC_CACHE_SECONDS": 0,
}


def build_template(uri: str) -> None:
    from flask_migrate import upgrade

    from fitstore.services.demo import load_demo

    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": uri})
    with app.app_context():
        upgrade()
        load_demo()
        db.engine.dispose()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    if PG_URL:
        build_template(PG_URL)
        return PG_URL
    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    build_template(f"sqlite:///{path}")
    return path


def make_app(database_template, tmp_path, **overrides):
    """An app on its own database in ``tmp_path`` (for tests that need one apart)."""
    if PG_URL:
        return create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": PG_URL, **overrides})
    target = tmp_path / "fitstore.sqlite"
    shutil.copyfile(database_template, target)
    return create_app(
        {**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{target}", **overrides}
    )


def _database_uri(test_database) -> str:
    return PG_URL or f"sqlite:///{test_database}"


@pytest.fixture(scope="session")
def shared_database_path(tmp_path_factory):
    """SQLite: the one file every test's database lives in (a fresh copy per test)."""
    return tmp_path_factory.mktemp("database") / "fitstore.sqlite"


@pytest.fixture(scope="session")
def shared_app(database_template, shared_database_path):
    """The app of the default test configuration, built once: building one (routes, the
    OpenAPI document) costs a quarter of a second, which a thousand tests would pay again
    and again. Tests that need other settings build their own with ``app_factory``."""
    return create_app(
        {**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": _database_uri(shared_database_path)}
    )


@pytest.fixture
def test_database(database_template, shared_database_path, shared_app):
    """A fresh database for this test: SQLite copies the template over the shared file
    (after closing the previous test's connections); PostgreSQL rolls back instead."""
    if not PG_URL:
        with shared_app.app_context():
            db.session.remove()
            db.engine.dispose()
        shutil.copyfile(database_template, shared_database_path)
    return shared_database_path


@contextmanager
def rolled_back(app, dispose: bool = True):
    """PostgreSQL: bind every session of ``app`` to one connection whose transaction is
    undone. ``dispose=False`` keeps the connection pooled for the next test (the shared
    app: reconnecting for every test cost a connection set-up each time)."""
    if not PG_URL:
        yield
        return
    with app.app_context():
        engines = db.engines
        engine = engines[None]
        connection = engine.connect()
        transaction = connection.begin()
        engines[None] = connection
    try:
        yield
    finally:
        with app.app_context():
            db.session.remove()
        transaction.rollback()
        connection.close()
        engines[None] = engine
        if dispose:
            engine.dispose()


@pytest.fixture
def app_factory(test_database):
    """Build an app with extra config (e.g. CSRF on) on this test's database; rolled back
    like ``app``."""
    stack = []

    def factory(**overrides):
        application = create_app(
            {**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": _database_uri(test_database), **overrides}
        )
        context = rolled_back(application)
        context.__enter__()
        stack.append(context)
        return application

    yield factory
    for context in reversed(stack):
        context.__exit__(None, None, None)


@pytest.fixture
def app(shared_app, test_database):
    """The shared app on a fresh database, with its settings and rate limits as new."""
    from fitstore.extensions import limiter

    config = dict(shared_app.config)
    limiter.reset()
    with rolled_back(shared_app, dispose=False):
        yield shared_app
    with shared_app.app_context():
        db.session.remove()
    shared_app.config.clear()
    shared_app.config.update(config)
    limiter.reset()


@pytest.fixture
def client(app):
    return app.test_client()


def login(client, email: str, password: str = DEMO_PASSWORD, follow: bool = False):
    return client.post(
        "/anmelden", data={"email": email, "password": password}, follow_redirects=follow
    )


@pytest.fixture
def login_as(client):
    def do_login(email: str, password: str = DEMO_PASSWORD):
        response = login(client, email, password)
        assert response.status_code == 302, f"login of {email} failed: {response.status_code}"
        return client

    return do_login


@pytest.fixture
def api_token(app):
    """Create an API token for a demo user; returns the Authorization header dict."""

    def make(email: str) -> dict[str, str]:
        from sqlalchemy import select

        from fitstore.models import User
        from fitstore.services.auth import create_token

        with app.app_context():
            user = db.session.scalar(select(User).where(User.email == email))
            _token, secret = create_token(user, "test")
        return {"Authorization": f"Bearer {secret}"}

    return make


class QueryCounter:
    def __init__(self):
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app):
    """``with count_queries() as counter: ...`` counts the SQL statements the app sends."""

    @contextmanager
    def counting():
        counter = QueryCounter()
        with app.app_context():
            engine = db.engine

        def before(conn, cursor, statement, parameters, context, executemany):
            if not re.match(r"\s*(SAVEPOINT|RELEASE|ROLLBACK TO)", statement):
                counter.statements.append(statement)

        event.listen(engine, "before_cursor_execute", before)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", before)

    return counting


def pytest_configure(config):
    """Every test builds an app (routes, OpenAPI document) and a database session: many
    short-lived objects. Python's default collection threshold (700 allocations) runs
    the cycle collector thousands of times per test; a higher one saves about a tenth of
    the suite's time and changes nothing else (cycles are still collected)."""
    gc.set_threshold(50_000, 20, 100)


def pytest_collection_modifyitems(config, items):
    """Browser and threaded tests run against SQLite only, and so do tests that touch no
    database (a second run would prove nothing); row-lock tests need PostgreSQL.

    Each run deselects (not skips) what belongs to the other run, and
    scripts/test.sh runs both, so nothing is silently left out.
    """
    unwanted = ("browser", "threaded", "database_free") if PG_URL else ("postgres_only",)
    keep, drop = [], []
    for item in items:
        (drop if any(item.get_closest_marker(m) for m in unwanted) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
