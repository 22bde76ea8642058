"""The caller's own notifications in the JSON API under /api/v1/notifications.

Bearer token only, permission OWN_ACCOUNT: every caller sees and changes their
own notices only; another user's notice answers 404, as if it did not exist.
"""

from __future__ import annotations

from flask_login import current_user
from marshmallow import RAISE

from fitstore.blueprints.api import BEARER, PREFIX, ApiBlueprint
from fitstore.extensions import csrf
from fitstore.permissions import Permission, policy
from fitstore.schemas import ApiQuery
from fitstore.schemas.notifications import NotificationOut, NotificationPageOut, NotificationQuery
from fitstore.services import notifications as service

notifications_api = ApiBlueprint(
    "api_notifications",
    __name__,
    url_prefix=PREFIX,
    description="The caller's own notifications (the inbox)",
)
# Bearer tokens, never cookies, authenticate the API: CSRF cannot apply.
csrf.exempt(notifications_api)


@notifications_api.route("/notifications", methods=["GET"])
@policy(Permission.OWN_ACCOUNT)
@notifications_api.arguments(NotificationQuery, location="query", unknown=RAISE)
@notifications_api.response(200, NotificationPageOut)
@notifications_api.problem(401, "Missing, invalid or revoked bearer token")
@notifications_api.problem(422, "Invalid filter or page, or unknown parameter")
@notifications_api.doc(security=BEARER)
def index(query):
    """The caller's notices, newest first; paginated, optionally only the unread ones"""
    page = service.list_notifications(
        current_user,
        page=query["page"],
        per_page=query["page_size"],
        unread_only=query["unread"],
    )
    return {
        "items": page.items,
        "page": page.page,
        "page_size": page.per_page,
        "total": page.total,
        "pages": page.pages,
        "unread_count": service.unread_count(current_user),
    }


@notifications_api.route("/notifications/<int:notification_id>/read", methods=["POST"])
@policy(Permission.OWN_ACCOUNT)
@notifications_api.arguments(ApiQuery, location="query", unknown=RAISE, as_kwargs=True)
@notifications_api.response(200, NotificationOut, description="The notice, marked read")
@notifications_api.problem(401, "Missing, invalid or revoked bearer token")
@notifications_api.problem(404, "No such notice, or another user's")
@notifications_api.problem(422, "Unknown query parameter")
@notifications_api.doc(security=BEARER)
def mark_read(notification_id: int, lang=None):
    """Mark one of the caller's notices read (idempotent)"""
    return service.mark_read(current_user, notification_id)
