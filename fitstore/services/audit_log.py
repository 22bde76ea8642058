"""Reading the audit trail, scoped to what the actor may see."""

from __future__ import annotations

import json

from sqlalchemy import select

from fitstore.extensions import db
from fitstore.models import AuditEvent, Role
from fitstore.permissions import Permission, require
from fitstore.services.pagination import Page, paginate


def list_events(actor, *, action: str | None = None, page: int = 1, per_page: int = 50) -> Page:
    """Permission VIEW_AUDIT; a Land user sees only the rows of its own Land."""
    require(actor, Permission.VIEW_AUDIT)
    query = select(AuditEvent).order_by(AuditEvent.id.desc())
    if actor.role not in (Role.ADMIN, Role.FITKO):
        if actor.land_ags is None:
            query = query.where(False)  # e.g. Bund staff: no Land of their own
        else:
            query = query.where(AuditEvent.land_ags == actor.land_ags)
    if action:
        query = query.where(AuditEvent.action == action)
    return paginate(query, page, per_page)


def get_event(actor, event_id: int) -> tuple[AuditEvent, dict]:
    """Permission VIEW_AUDIT_EVENT; another Land's row is NotFound. Returns the row and its details."""
    from fitstore.errors import NotFound

    require(actor, Permission.VIEW_AUDIT)
    event = db.session.get(AuditEvent, event_id)
    if event is None:
        raise NotFound()
    require(actor, Permission.VIEW_AUDIT_EVENT, event, hide=True)
    return event, json.loads(event.details or "{}")
