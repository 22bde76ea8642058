"""Feedback on accessibility barriers (BITV 2.0 § 7 requires a way to report them)."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from fitstore.errors import Invalid
from fitstore.extensions import db
from fitstore.models import AccessibilityFeedback
from fitstore.permissions import Permission, require
from fitstore.services import audit
from fitstore.services.pagination import Page, paginate


def submit_feedback(
    actor, *, message: str, name: str | None, email: str | None, page_url: str | None
):
    """Open to everyone. Raises Invalid for an empty or overlong message."""
    message = (message or "").strip()
    if not 10 <= len(message) <= 5000:
        raise Invalid(
            errors={"message": [_("Bitte beschreiben Sie die Barriere in 10 bis 5000 Zeichen.")]}
        )
    feedback = AccessibilityFeedback(
        message=message,
        name=(name or "").strip()[:120] or None,
        email=(email or "").strip()[:254] or None,
        page_url=(page_url or "").strip()[:500] or None,
    )
    db.session.add(feedback)
    db.session.flush()
    audit.record(actor, "feedback.received", "accessibility_feedback", feedback.id)
    db.session.commit()
    return feedback


def list_feedback(actor, page: int = 1) -> Page:
    """Permission READ_FEEDBACK (FITKO and admins)."""
    require(actor, Permission.READ_FEEDBACK)
    query = select(AccessibilityFeedback).order_by(AccessibilityFeedback.created_at.desc())
    return paginate(query, page, 20)
