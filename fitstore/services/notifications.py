"""The in-app inbox: the notices other parts of fitstore leave for one user.

Every function works on the actor's own inbox only (permission OWN_ACCOUNT);
nobody reads or changes another user's notices.
"""

from __future__ import annotations

from sqlalchemy import func, select, update

from fitstore.errors import NotFound
from fitstore.extensions import db
from fitstore.models import Notification
from fitstore.models.base import is_id, utcnow
from fitstore.permissions import Permission, require
from fitstore.services import audit, mail
from fitstore.services.pagination import Page, paginate


def list_notifications(actor, page: int = 1, per_page: int = 20, unread_only: bool = False) -> Page:
    """Permission OWN_ACCOUNT: the actor's notices, newest first (two queries);
    with ``unread_only`` just those not yet marked read."""
    require(actor, Permission.OWN_ACCOUNT)
    query = (
        select(Notification)
        .where(Notification.user_id == actor.id)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
    )
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
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


def notify(users, message: str, link: str | None = None) -> None:
    """Leave ``message`` in each user's inbox and, for those who want e-mail, in the
    outbox, inside the caller's transaction: the notice exists exactly when its cause
    was committed. Inactive users and duplicates are skipped."""
    seen: set[int] = set()
    for user in users:
        if user.id in seen or not user.active:
            continue
        seen.add(user.id)
        db.session.add(Notification(user_id=user.id, message=message[:500], link=link))
        if user.email_notifications:
            mail.enqueue(user, message, link)


def mark_read(actor, notification_id: int) -> Notification:
    """Permission OWN_ACCOUNT: mark one of the actor's own notices read (idempotent).
    Another user's notice is NotFound."""
    require(actor, Permission.OWN_ACCOUNT)
    notification = db.session.get(Notification, notification_id) if is_id(notification_id) else None
    if notification is None or notification.user_id != actor.id:
        raise NotFound()
    if notification.read_at is None:
        notification.read_at = utcnow()
        db.session.commit()
    return notification


def set_email_notifications(actor, enabled: bool) -> bool:
    """Permission OWN_ACCOUNT: the actor switches e-mail notices on or off for themself.

    Returns whether anything changed; only a change is audited. The inbox keeps
    receiving every notice either way; mail already queued for an actor who
    switched off is not sent (``fitstore.services.mail.send_pending``).
    """
    require(actor, Permission.OWN_ACCOUNT)
    enabled = bool(enabled)
    if actor.email_notifications == enabled:
        return False
    actor.email_notifications = enabled
    audit.record(
        actor,
        "user.email_notifications_changed",
        "user",
        actor.id,
        land_ags=actor.land_ags,
        details={"enabled": enabled},
    )
    db.session.commit()
    return True
