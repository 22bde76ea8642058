"""Concurrent writers never fork the audit chain (PostgreSQL advisory lock)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, delete, select
from sqlalchemy.orm import Session

from fitstore.extensions import db
from fitstore.models import AuditEvent
from fitstore.services import audit
from tests.conftest import PG_URL

pytestmark = pytest.mark.postgres_only


def test_parallel_appends_keep_one_unbroken_chain(app):
    # Real commits on separate connections, outside the test's rolled-back transaction.
    engine = create_engine(PG_URL)
    with Session(engine) as session:
        first_new_id = (
            session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1)) or 0
        ) + 1
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def writer(number: int) -> None:
        try:
            with app.app_context():
                # Point this thread's scoped session at a fresh connection of its own.
                with Session(engine) as session:
                    db.session.registry.set(session)
                    barrier.wait()
                    for index in range(10):
                        audit.record(None, "test.parallel", "writer", number, details={"i": index})
                        session.commit()
                db.session.registry.clear()
        except BaseException as exc:  # noqa: BLE001  reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert errors == []
        with Session(engine) as session:
            rows = list(
                session.scalars(
                    select(AuditEvent).where(AuditEvent.id >= first_new_id).order_by(AuditEvent.id)
                )
            )
            assert len(rows) == 40
            for previous, current in zip(rows, rows[1:], strict=False):
                assert current.prev_hash == previous.hash
                assert audit.compute_hash(current.prev_hash, current) == current.hash
    finally:
        with Session(engine) as session:
            session.execute(delete(AuditEvent).where(AuditEvent.id >= first_new_id))
            session.commit()
        engine.dispose()
