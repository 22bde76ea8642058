"""The audit trail is append-only and tamper-evident."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text, update

from fitstore.extensions import db
from fitstore.models import AuditEvent
from fitstore.services import audit


@pytest.fixture
def chain(app):
    """An app context with a few more events on top of the demo data's chain."""
    with app.app_context():
        for index in range(3):
            audit.record(None, "test.event", "thing", index, land_ags="12", details={"n": index})
        db.session.commit()
        yield


def _ids():
    return list(db.session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))


def test_intact_chain_verifies(chain):
    result = audit.verify_chain()
    assert result.ok
    assert result.checked == db.session.scalar(select(func.count()).select_from(AuditEvent))


def test_each_row_links_to_its_predecessor(chain):
    events = list(db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    assert events[0].prev_hash == audit.GENESIS_HASH
    for previous, current in zip(events, events[1:], strict=False):
        assert current.prev_hash == previous.hash


def test_edited_row_is_detected(chain):
    target = _ids()[-2]
    db.session.execute(update(AuditEvent).where(AuditEvent.id == target).values(details='{"n":99}'))
    db.session.commit()
    result = audit.verify_chain()
    assert not result.ok
    assert result.broken_id == target
    assert "changed" in result.reason


def test_edited_row_with_recomputed_own_hash_is_detected_at_the_next_row(chain):
    target_id = _ids()[-2]
    event = db.session.get(AuditEvent, target_id)
    event.actor_email = "someone-else@example.org"
    event.hash = audit.compute_hash(event.prev_hash, event)
    db.session.commit()
    result = audit.verify_chain()
    assert not result.ok
    assert result.broken_id == _ids()[-1]


def test_deleted_row_is_detected(chain):
    ids = _ids()
    db.session.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": ids[-2]})
    db.session.commit()
    result = audit.verify_chain()
    assert not result.ok
    assert result.broken_id == ids[-1]
    assert "link broken" in result.reason


def test_swapped_pair_is_detected(chain):
    ids = _ids()
    first, second = (db.session.get(AuditEvent, i) for i in ids[-3:-1])
    columns = (
        "occurred_at",
        "action",
        "object_type",
        "object_id",
        "land_ags",
        "details",
        "prev_hash",
        "hash",
    )
    values_first = {c: getattr(first, c) for c in columns}
    values_second = {c: getattr(second, c) for c in columns}
    # Swap the contents of two neighbouring rows (hashes are unique, so go via a placeholder).
    db.session.execute(update(AuditEvent).where(AuditEvent.id == first.id).values(hash="x" * 64))
    db.session.execute(update(AuditEvent).where(AuditEvent.id == second.id).values(**values_first))
    db.session.execute(update(AuditEvent).where(AuditEvent.id == first.id).values(**values_second))
    db.session.commit()
    result = audit.verify_chain()
    assert not result.ok
    assert result.broken_id == first.id


def test_a_failed_service_call_writes_no_audit_row(app):
    from fitstore.errors import Invalid
    from fitstore.services.admin import create_user
    from fitstore.services.system import SystemActor

    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(AuditEvent))
        with pytest.raises(Invalid):
            create_user(
                SystemActor(),
                email="x@demo.test",
                name="X",
                role="viewer",
                organisation_id=1,
                password="short",
            )
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == before


def test_every_login_and_logout_writes_exactly_one_row(app, client):
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(AuditEvent))
    client.post("/anmelden", data={"email": "editor-bb@demo.test", "password": "fitstore-demo"})
    client.post("/abmelden")
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(AuditEvent).where(AuditEvent.id > before).order_by(AuditEvent.id)
            )
        )
    assert [r.action for r in rows] == ["auth.login", "auth.logout"]
    assert all(r.actor_email == "editor-bb@demo.test" and r.land_ags == "12" for r in rows)


def test_cut_off_newest_rows_are_detected_against_a_recorded_head(chain):
    head = audit.verify_chain()
    assert head.ok and head.head_id == _ids()[-1]
    db.session.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": head.head_id})
    db.session.commit()
    assert audit.verify_chain().ok  # the chain alone cannot tell
    result = audit.verify_chain(expect_head=(head.head_id, head.head_hash))
    assert not result.ok
    assert "newest rows were deleted" in result.reason


def test_a_rewritten_head_is_detected(chain):
    head = audit.verify_chain()
    event = db.session.get(AuditEvent, head.head_id)
    event.details = '{"n":"rewritten"}'
    event.hash = audit.compute_hash(event.prev_hash, event)
    db.session.commit()
    assert audit.verify_chain().ok
    assert not audit.verify_chain(expect_head=(head.head_id, head.head_hash)).ok
