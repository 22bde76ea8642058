"""Who may do what: the one place that decides.

Services call ``require``; views declare a route policy with ``@policy``;
templates only call ``can`` to hide links. A route without a policy is refused
at request time (fail closed) and by the test that walks the URL map.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

from fitstore.errors import Forbidden, NotFound, Unauthorized
from fitstore.models import AuditEvent, Listing, ListingStatus, Organisation, Role, User


class Permission(enum.StrEnum):
    PUBLIC = "public"  # anyone, logged in or not
    OWN_ACCOUNT = "own_account"  # any logged-in user: their own account, password, tokens
    VIEW_USERS = "view_users"
    VIEW_USER = "view_user"
    MANAGE_USERS = "manage_users"
    VIEW_ORGANISATIONS = "view_organisations"
    MANAGE_ORGANISATIONS = "manage_organisations"
    VIEW_AUDIT = "view_audit"
    VIEW_AUDIT_EVENT = "view_audit_event"
    READ_FEEDBACK = "read_feedback"
    VIEW_LISTING = "view_listing"
    CREATE_LISTING = "create_listing"
    EDIT_LISTING = "edit_listing"
    SUBMIT_LISTING = "submit_listing"
    REVIEW_LISTINGS = "review_listings"
    WITHDRAW_LISTING = "withdraw_listing"
    VIEW_INTERNAL_LISTINGS = "view_internal_listings"


def _authenticated(actor: Any) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False)


def _role(actor: Any) -> Role | None:
    return actor.role if _authenticated(actor) else None


def _public(actor, obj=None) -> bool:
    return True


def _own_account(actor, obj=None) -> bool:
    return _authenticated(actor)


def _any_member(actor, obj=None) -> bool:
    # Any logged-in user may open the list; the service scopes it (admins and FITKO
    # see everything, a Land user its own Land, Bund staff no Land's rows).
    return _authenticated(actor)


def _view_user(actor, user: User | None = None) -> bool:
    if _role(actor) in (Role.ADMIN, Role.FITKO):
        return True
    if not _authenticated(actor) or user is None:
        return False
    return actor.land_ags is not None and user.organisation.land_ags == actor.land_ags


def _admin_only(actor, obj=None) -> bool:
    return _role(actor) == Role.ADMIN


def _view_organisations(actor, obj: Organisation | None = None) -> bool:
    return _role(actor) in (Role.ADMIN, Role.FITKO)


def _view_audit_event(actor, event: AuditEvent | None = None) -> bool:
    if _role(actor) in (Role.ADMIN, Role.FITKO):
        return True
    if not _authenticated(actor) or event is None:
        return False
    return actor.land_ags is not None and event.land_ags == actor.land_ags


def _read_feedback(actor, obj=None) -> bool:
    return _role(actor) in (Role.ADMIN, Role.FITKO)


def _provider_member(actor, listing: Listing | None) -> bool:
    return (
        _authenticated(actor)
        and listing is not None
        and actor.land_ags is not None
        and actor.land_ags == listing.provider_land_ags
    )


def _view_listing(actor, listing: Listing | None = None) -> bool:
    # Only published listings are visible outside the provider's Land and FITKO.
    if listing is not None and listing.status == ListingStatus.PUBLISHED:
        return True
    if _role(actor) in (Role.FITKO, Role.ADMIN):
        return True
    return _provider_member(actor, listing)


def _create_listing(actor, obj=None) -> bool:
    return _role(actor) == Role.EDITOR and actor.land_ags is not None


def _edit_listing(actor, listing: Listing | None = None) -> bool:
    # Only an editor of the provider Land writes a listing; FITKO reviews, never edits.
    if listing is None:
        return _create_listing(actor)
    return _role(actor) == Role.EDITOR and _provider_member(actor, listing)


def _review_listings(actor, obj=None) -> bool:
    return _role(actor) == Role.FITKO


def _withdraw_listing(actor, listing: Listing | None = None) -> bool:
    return _review_listings(actor) or _edit_listing(actor, listing)


def _view_internal_listings(actor, obj=None) -> bool:
    """Sees non-public listings at all (its own Land's, or all for FITKO/admin)."""
    return _role(actor) in (Role.FITKO, Role.ADMIN) or (
        _authenticated(actor) and actor.land_ags is not None
    )


POLICIES: dict[Permission, Callable[..., bool]] = {
    Permission.PUBLIC: _public,
    Permission.OWN_ACCOUNT: _own_account,
    Permission.VIEW_USERS: _any_member,
    Permission.VIEW_USER: _view_user,
    Permission.MANAGE_USERS: _admin_only,
    Permission.VIEW_ORGANISATIONS: _view_organisations,
    Permission.MANAGE_ORGANISATIONS: _admin_only,
    Permission.VIEW_AUDIT: _any_member,
    Permission.VIEW_AUDIT_EVENT: _view_audit_event,
    Permission.READ_FEEDBACK: _read_feedback,
    Permission.VIEW_LISTING: _view_listing,
    Permission.CREATE_LISTING: _create_listing,
    Permission.EDIT_LISTING: _edit_listing,
    Permission.SUBMIT_LISTING: _edit_listing,
    Permission.REVIEW_LISTINGS: _review_listings,
    Permission.WITHDRAW_LISTING: _withdraw_listing,
    Permission.VIEW_INTERNAL_LISTINGS: _view_internal_listings,
}


def can(actor: Any, permission: Permission, obj: Any = None) -> bool:
    return POLICIES[permission](actor, obj)


def require(actor: Any, permission: Permission, obj: Any = None, *, hide: bool = False) -> None:
    """Raise unless ``actor`` holds ``permission`` (on ``obj``).

    ``hide=True`` answers NotFound instead of Forbidden, so an object of another
    Land is indistinguishable from one that does not exist.
    """
    if can(actor, permission, obj):
        return
    if not _authenticated(actor):
        raise Unauthorized()
    raise NotFound() if hide else Forbidden()


# --- route policies -------------------------------------------------------

POLICY_ATTRIBUTE = "_fitstore_policy"

# Endpoints registered by extensions, which we cannot decorate.
EXTENSION_ENDPOINT_POLICIES: dict[str, Permission] = {
    "static": Permission.PUBLIC,
    "api-docs.openapi_json": Permission.PUBLIC,
}


def policy(permission: Permission):
    """Declare the permission a route needs; checked before the view runs."""

    def decorate(view):
        setattr(view, POLICY_ATTRIBUTE, permission)
        return view

    return decorate


def route_policy(app, endpoint: str | None) -> Permission | None:
    if endpoint is None:
        return None
    if endpoint in EXTENSION_ENDPOINT_POLICIES:
        return EXTENSION_ENDPOINT_POLICIES[endpoint]
    view = app.view_functions.get(endpoint)
    # flask-smorest MethodViews keep the policy on the class.
    return getattr(view, POLICY_ATTRIBUTE, None) or getattr(
        getattr(view, "view_class", None), POLICY_ATTRIBUTE, None
    )
