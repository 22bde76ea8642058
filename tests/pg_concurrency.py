"""Fixtures for PostgreSQL concurrency tests (loaded by ``tests/conftest.py``): real commits from several sessions at once.

The suite's usual PostgreSQL fixture rolls each test back inside one connection, which
cannot show what two concurrent transactions do. These tests use a separate engine whose
commits are real, and remove the rows they added afterwards (audit rows only at the end
of the chain, so the chain stays intact).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Integer, create_engine, func, select
from sqlalchemy.orm import Session

from fitstore.errors import Conflict
from fitstore.extensions import db

PG_URL = os.environ.get("FITSTORE_TEST_DATABASE_URL")


@pytest.fixture
def engine(app):
    """A separate engine with real commits; every row it adds is removed afterwards."""
    engine = create_engine(PG_URL)
    tables = [
        table
        for table in db.metadata.sorted_tables
        if "id" in table.c and isinstance(table.c.id.type, Integer)
    ]
    with engine.connect() as connection:
        marks = {
            table.name: connection.scalar(select(func.coalesce(func.max(table.c.id), 0)))
            for table in tables
        }
    yield engine
    with engine.begin() as connection:
        for table in reversed(tables):
            connection.execute(table.delete().where(table.c.id > marks[table.name]))
    engine.dispose()


@contextmanager
def own_session(app, engine) -> Iterator[Session]:
    """An app context whose ``db.session`` is a fresh session of ``engine``."""
    with app.app_context(), Session(engine) as session:
        db.session.registry.set(session)
        try:
            yield session
        finally:
            db.session.registry.clear()


def race(app, engine, calls: list[Callable[[], object]]) -> list[str]:
    """Run each call in its own thread, app context and session; returns "ok" or
    "conflict" per call (anything else fails the test)."""
    outcomes: list[str | None] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            with own_session(app, engine):
                try:
                    calls[index]()
                    outcomes[index] = "ok"
                except Conflict:
                    outcomes[index] = "conflict"
        except BaseException as exc:  # noqa: BLE001  reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return outcomes
