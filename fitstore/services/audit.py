"""The hash-chained audit trail.

Each row's hash is SHA-256 over the previous row's hash and the row's own
canonical JSON (including its id), so editing a row breaks its own hash,
deleting one breaks the next row's link, and swapping two rows breaks both.
Rows are appended by ``record`` inside the caller's transaction.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text

from fitstore.extensions import db
from fitstore.models import AuditEvent
from fitstore.models.base import utcnow

GENESIS_HASH = "0" * 64
# Arbitrary constant naming the PostgreSQL advisory lock that serialises appends.
_CHAIN_LOCK_ID = 7_210_431_001


def canonical(event: AuditEvent) -> str:
    return json.dumps(
        {
            "id": event.id,
            "occurred_at": event.occurred_at.strftime("%Y-%m-%dT%H:%M:%S.%f"),
            "actor_id": event.actor_id,
            "actor_email": event.actor_email,
            "action": event.action,
            "object_type": event.object_type,
            "object_id": event.object_id,
            "land_ags": event.land_ags,
            "details": event.details,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def compute_hash(prev_hash: str, event: AuditEvent) -> str:
    return hashlib.sha256(f"{prev_hash}\n{canonical(event)}".encode()).hexdigest()


def _lock_chain() -> None:
    # Two transactions must never append after the same predecessor. PostgreSQL:
    # a transaction-scoped advisory lock. SQLite serialises writers itself.
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _CHAIN_LOCK_ID})


def record(
    actor: Any,
    action: str,
    object_type: str,
    object_id: Any = None,
    *,
    land_ags: str | None = None,
    details: dict | None = None,
) -> AuditEvent:
    """Append one event to the chain in the current transaction (the caller commits)."""
    db.session.flush()
    _lock_chain()
    last = db.session.execute(
        select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    event = AuditEvent(
        id=(last.id + 1) if last else 1,
        occurred_at=utcnow(),
        actor_id=actor.id if authenticated else None,
        actor_email=actor.email if authenticated else None,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        land_ags=land_ags,
        details=json.dumps(
            details or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ),
        prev_hash=last.hash if last else GENESIS_HASH,
    )
    event.hash = compute_hash(event.prev_hash, event)
    db.session.add(event)
    db.session.flush()
    return event


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    broken_id: int | None = None
    reason: str | None = None
    head_id: int | None = None
    head_hash: str | None = None


def verify_chain(
    batch_size: int = 1000, expect_head: tuple[int, str] | None = None
) -> VerifyResult:
    """Walk the chain in id order and report the first row that does not fit.

    The chain alone cannot show that its newest rows were cut off; ``expect_head``
    (an id and hash recorded earlier, e.g. by a daily export) closes that gap.
    """
    expected_prev = GENESIS_HASH
    checked = 0
    head: AuditEvent | None = None
    rows = db.session.execute(
        select(AuditEvent).order_by(AuditEvent.id).execution_options(yield_per=batch_size)
    ).scalars()
    for event in rows:
        if event.prev_hash != expected_prev:
            return VerifyResult(
                False,
                checked,
                event.id,
                "link broken: the previous row was deleted, inserted or reordered",
            )
        if compute_hash(event.prev_hash, event) != event.hash:
            return VerifyResult(False, checked, event.id, "content changed after it was written")
        expected_prev = event.hash
        checked += 1
        if expect_head is not None and event.id == expect_head[0] and event.hash != expect_head[1]:
            return VerifyResult(False, checked, event.id, "differs from the recorded head")
        head = event
    head_id, head_hash = (head.id, head.hash) if head else (None, None)
    if expect_head is not None and (head_id is None or head_id < expect_head[0]):
        return VerifyResult(
            False,
            checked,
            expect_head[0],
            "recorded head is missing: newest rows were deleted",
            head_id,
            head_hash,
        )
    return VerifyResult(True, checked, head_id=head_id, head_hash=head_hash)
