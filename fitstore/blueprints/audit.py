"""The audit page: admins and FITKO see everything, a Land user its own Land's rows."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user

from fitstore.blueprints._helpers import page_arg
from fitstore.permissions import Permission, policy
from fitstore.services import audit_log

bp = Blueprint("audit", __name__, url_prefix="/protokoll")


@bp.get("")
@policy(Permission.VIEW_AUDIT)
def index():
    action = request.args.get("action", "").strip()[:60]
    events = audit_log.list_events(current_user, action=action or None, page=page_arg())
    return render_template("audit/index.html", events=events, action=action)


@bp.get("/<int:event_id>")
@policy(Permission.VIEW_AUDIT)
def event(event_id: int):
    event, details = audit_log.get_event(current_user, event_id)
    return render_template("audit/event.html", event=event, details=details)
