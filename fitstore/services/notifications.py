"""The in-app inbox: the notices other parts of fitstore leave for one user.

Every function works on the actor's own inbox only (permission OWN_ACCOUNT);
nobody reads or changes another user's notices.
"""

from __future__ import annotations

from sqlalchemy import func, select, update

from fitstore.extensions import db
from fitstore.models import Notification
from fitstore.models.base import utcnow
from fitstore.permissions import Permission, require
from fitstore.services.pagination import Page, paginate


def list_notifications(actor, page: int = 1, per_page: int = 20) -> Page:
    """Permission OWN_ACCOUNT: the actor's notices, newest first (two queries)."""
    require(actor, Permission.OWN_ACCOUNT)
    query = (
        select(Notification)
        .where(Notification.user_id == actor.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
    )
    return paginate(query, page, per_page)


def unread_count(actor) -> int:
    """Permission OWN_ACCOUNT: how many notices the actor has not marked read (one COUNT)."""
    require(actor, Permission.OWN_ACCOUNT)
    return (
        db.session.scalar(
            select(func.count(Notification.id)).where(
                Notification.user_id == actor.id, Notification.read_at.is_(None)
            )
        )
        or 0
    )


def mark_all_read(actor) -> int:
    """Permission OWN_ACCOUNT: mark every unread notice of the actor read; returns how many.

    No audit row: this only files away the user's own copies of notices whose
    underlying events (submissions, decisions, ...) are audited where they happen.
    """
    require(actor, Permission.OWN_ACCOUNT)
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == actor.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    db.session.commit()
    return result.rowcount or 0
