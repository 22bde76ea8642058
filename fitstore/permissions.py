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
from fitstore.models import (
    Alliance,
    AuditEvent,
    Listing,
    ListingStatus,
    MembershipStatus,
    Organisation,
    Reuse,
    Role,
    User,
)


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
    # Reuse (Nachnutzung), contracts, rollout
    VIEW_REUSES = "view_reuses"  # the list page; the service scopes its rows
    VIEW_REUSE = "view_reuse"
    EXPRESS_INTEREST = "express_interest"
    ACT_AS_ADOPTER = "act_as_adopter"
    ACT_AS_PROVIDER = "act_as_provider"
    HOLD_REUSE = "hold_reuse"
    TERMINATE_REUSE = "terminate_reuse"
    MANAGE_ROLLOUT = "manage_rollout"
    VIEW_CONTRACT = "view_contract"
    CHECK_CONTRACT = "check_contract"
    COUNTERSIGN_CONTRACT = "countersign_contract"
    # Alliances (Nachnutzungsallianz)
    VIEW_ALLIANCE = "view_alliance"
    VIEW_ALLIANCE_DETAILS = "view_alliance_details"
    JOIN_ALLIANCE = "join_alliance"
    LEAD_ALLIANCE = "lead_alliance"
    VOTE_COST_KEY = "vote_cost_key"
    # Dashboards
    VIEW_LAND_DASHBOARD = "view_land_dashboard"
    VIEW_FITKO_DASHBOARD = "view_fitko_dashboard"
    # Cost data: key data per year (reference), usage figures per listing, Land and year
    MANAGE_KEY_DATA = "manage_key_data"
    VIEW_USAGE = "view_usage"
    RECORD_USAGE = "record_usage"
    IMPORT_USAGE = "import_usage"
    # Cost sharing
    MANAGE_COST_PLAN = "manage_cost_plan"
    VIEW_COST_SPLIT = "view_cost_split"  # also the what-if simulation of a listing
    VIEW_COST_STATEMENT = "view_cost_statement"
    # Transparency: lead times and long waits (the public dashboard is PUBLIC; following
    # a listing or a Land is OWN_ACCOUNT)
    VIEW_LEAD_TIMES = "view_lead_times"


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


# --- reuse ----------------------------------------------------------------------------


def _fitko_or_admin(actor) -> bool:
    return _role(actor) in (Role.FITKO, Role.ADMIN)


def _land_editor(actor, land_ags: str | None) -> bool:
    return _role(actor) == Role.EDITOR and land_ags is not None and actor.land_ags == land_ags


def _land_member(actor, land_ags: str | None) -> bool:
    return _authenticated(actor) and land_ags is not None and actor.land_ags == land_ags


def alliance_member_lands(listing_id: int) -> set[str]:
    """The Länder that are full members of the listing's alliance (one query)."""
    from sqlalchemy import select

    from fitstore.extensions import db
    from fitstore.models import AllianceMembership

    return set(
        db.session.scalars(
            select(AllianceMembership.land_ags)
            .join(Alliance, Alliance.id == AllianceMembership.alliance_id)
            .where(
                Alliance.listing_id == listing_id,
                AllianceMembership.status == MembershipStatus.MEMBER,
            )
        )
    )


def _view_reuse(actor, reuse: Reuse | None = None) -> bool:
    # A reuse's conditions are private to adopter, provider and FITKO, and shared
    # with the members of the listing's alliance; nobody else sees it at all.
    if _fitko_or_admin(actor):
        return True
    if not _authenticated(actor) or actor.land_ags is None:
        return False
    if reuse is None:
        return True  # route level: any Land user; the service then checks the reuse itself
    if actor.land_ags in (reuse.adopter_land_ags, reuse.listing.provider_land_ags):
        return True
    return actor.land_ags in alliance_member_lands(reuse.listing_id)


def _express_interest(actor, listing: Listing | None = None) -> bool:
    if _role(actor) != Role.EDITOR or actor.land_ags is None:
        return False
    if listing is None:
        return True
    return listing.status == ListingStatus.PUBLISHED and listing.provider_land_ags != actor.land_ags


def _act_as_adopter(actor, reuse: Reuse | None = None) -> bool:
    if reuse is None:  # route level: the role; the service checks the side
        return _role(actor) == Role.EDITOR and actor.land_ags is not None
    return _land_editor(actor, reuse.adopter_land_ags)


def _act_as_provider(actor, reuse: Reuse | None = None) -> bool:
    if reuse is None:  # route level: the role; the service checks the side
        return _role(actor) == Role.EDITOR and actor.land_ags is not None
    return _land_editor(actor, reuse.listing.provider_land_ags)


def _adopter_or_fitko(actor, reuse: Reuse | None = None) -> bool:
    return _role(actor) == Role.FITKO or _act_as_adopter(actor, reuse)


def _view_contract(actor, reuse: Reuse | None = None) -> bool:
    # The contract binds FITKO and the adopter; the provider sees it as the party delivering.
    if _fitko_or_admin(actor):
        return True
    if reuse is None:  # route level: any Land user; the service then checks the contract
        return _authenticated(actor) and actor.land_ags is not None
    return _land_member(actor, reuse.adopter_land_ags) or _land_member(
        actor, reuse.listing.provider_land_ags
    )


def _fitko_staff(actor, obj=None) -> bool:
    # Only FITKO staff check and countersign; admins manage accounts, not contracts.
    return _role(actor) == Role.FITKO


def _view_alliance_details(actor, alliance: Alliance | None = None) -> bool:
    if _fitko_or_admin(actor):
        return True
    if not _authenticated(actor) or alliance is None or actor.land_ags is None:
        return False
    if actor.land_ags == alliance.lead_land_ags:
        return True
    return actor.land_ags in alliance_member_lands(alliance.listing_id)


def _join_alliance(actor, alliance: Alliance | None = None) -> bool:
    if _role(actor) != Role.EDITOR or actor.land_ags is None:
        return False
    return alliance is None or alliance.lead_land_ags != actor.land_ags


def _lead_alliance(actor, alliance: Alliance | None = None) -> bool:
    # Without an alliance (the route guard): any editor of a Land; the service decides
    # on the alliance itself.
    if alliance is None:
        return _role(actor) == Role.EDITOR and actor.land_ags is not None
    return _land_editor(actor, alliance.lead_land_ags)


def _vote_cost_key(actor, alliance: Alliance | None = None) -> bool:
    if _role(actor) != Role.EDITOR or actor.land_ags is None:
        return False
    return alliance is None or actor.land_ags in alliance_member_lands(alliance.listing_id)


def _view_land_dashboard(actor, obj=None) -> bool:
    return _authenticated(actor) and actor.land_ags is not None


# --- cost data --------------------------------------------------------------------------


def _view_usage(actor, listing: Listing | None = None) -> bool:
    # Route level: FITKO, admins and any Land user; the service decides which Länder's
    # figures of the listing the caller sees (``cost_data.usage_figures``).
    return _fitko_or_admin(actor) or (_authenticated(actor) and actor.land_ags is not None)


def usage_lands(listing_id: int) -> set[str]:
    """The Länder that take part in the cost sharing of a listing and so report usage:
    a reuse that is or was contracted (also on hold after the contract, or terminated),
    and the provider's own use (one query)."""
    from sqlalchemy import and_, or_, select

    from fitstore.extensions import db
    from fitstore.models import CONTRACTED_STAGES, ReuseStage

    return set(
        db.session.scalars(
            select(Reuse.adopter_land_ags).where(
                Reuse.listing_id == listing_id,
                or_(
                    Reuse.stage.in_((*CONTRACTED_STAGES, ReuseStage.TERMINATED)),
                    and_(
                        Reuse.stage == ReuseStage.ON_HOLD,
                        Reuse.resume_stage.in_(CONTRACTED_STAGES),
                    ),
                ),
            )
        )
    )


def _record_usage(actor, listing: Listing | None = None) -> bool:
    # An editor enters the figures of their own Land only, for a listing their Land
    # takes part in (``usage_lands``).
    if _role(actor) != Role.EDITOR or actor.land_ags is None:
        return False
    return listing is None or actor.land_ags in usage_lands(listing.id)


# --- cost sharing -------------------------------------------------------------------


def cost_split_lands(listing: Listing) -> set[str]:
    """The Länder that see a listing's cost plan and split: the provider, the full
    members of its alliance and every Land that takes or took part in its cost sharing
    (two queries)."""
    return {listing.provider_land_ags} | alliance_member_lands(listing.id) | usage_lands(listing.id)


def _manage_cost_plan(actor, listing: Listing | None = None) -> bool:
    # The provider keeps the plan; at route level any Land editor (the service decides).
    if _role(actor) != Role.EDITOR or actor.land_ags is None:
        return False
    return listing is None or actor.land_ags == listing.provider_land_ags


def _view_cost_split(actor, listing: Listing | None = None) -> bool:
    if _fitko_or_admin(actor):
        return True
    if not _authenticated(actor) or actor.land_ags is None:
        return False
    return listing is None or actor.land_ags in cost_split_lands(listing)


def _view_cost_statement(actor, land_ags: str | None = None) -> bool:
    # A Land's statement is its own business; FITKO and admins see every Land's.
    if _fitko_or_admin(actor):
        return True
    if not _authenticated(actor) or actor.land_ags is None:
        return False
    return land_ags is None or land_ags == actor.land_ags


def _view_lead_times(actor, obj=None) -> bool:
    # FITKO and admins see every listing's; a Land user those of the listings its Land
    # provides, reuses or is an alliance member of (``transparency`` scopes the rows).
    return _fitko_or_admin(actor) or (_authenticated(actor) and actor.land_ags is not None)


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
    Permission.VIEW_REUSES: _any_member,
    Permission.VIEW_REUSE: _view_reuse,
    Permission.EXPRESS_INTEREST: _express_interest,
    Permission.ACT_AS_ADOPTER: _act_as_adopter,
    Permission.ACT_AS_PROVIDER: _act_as_provider,
    Permission.HOLD_REUSE: _adopter_or_fitko,
    Permission.TERMINATE_REUSE: _adopter_or_fitko,
    Permission.MANAGE_ROLLOUT: _act_as_adopter,
    Permission.VIEW_CONTRACT: _view_contract,
    Permission.CHECK_CONTRACT: _fitko_staff,
    Permission.COUNTERSIGN_CONTRACT: _fitko_staff,
    Permission.VIEW_ALLIANCE: _public,
    Permission.VIEW_ALLIANCE_DETAILS: _view_alliance_details,
    Permission.JOIN_ALLIANCE: _join_alliance,
    Permission.LEAD_ALLIANCE: _lead_alliance,
    Permission.VOTE_COST_KEY: _vote_cost_key,
    Permission.VIEW_LAND_DASHBOARD: _view_land_dashboard,
    Permission.VIEW_FITKO_DASHBOARD: _view_organisations,
    Permission.MANAGE_KEY_DATA: _admin_only,
    Permission.VIEW_USAGE: _view_usage,
    Permission.RECORD_USAGE: _record_usage,
    Permission.IMPORT_USAGE: _fitko_staff,
    Permission.MANAGE_COST_PLAN: _manage_cost_plan,
    Permission.VIEW_COST_SPLIT: _view_cost_split,
    Permission.VIEW_COST_STATEMENT: _view_cost_statement,
    Permission.VIEW_LEAD_TIMES: _view_lead_times,
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
