"""The dashboard figures in the JSON API: the same numbers as the public pages.

- ``/dashboard``: per published listing Länder live / in onboarding / not started, live
  authorities and Kreise with a live authority, and the totals (public).
- ``/dashboard/listings/{listing_id}``: one published listing's figures with its 16
  Länder and 401 Kreise (public; a draft or withdrawn listing is 404).
- ``/dashboard/lands/{land_ags}``: which published listings are live, in onboarding or
  not started in one Land, and which it provides (public).
- ``/dashboard/timeseries``: live Länder and live authorities per month, recomputed
  from the recorded history (public).
- ``/lead-times`` and ``/waits``: days per stage and the reuses waiting long, for FITKO
  and the Länder involved (VIEW_LEAD_TIMES, bearer token; a Land's users see the
  listings their Land provides, reuses or is an alliance member of).

Every figure comes from ``fitstore.services.transparency``, which the pages, the open
data and the feed use as well. Public answers carry public facts only: never
conditions, contracts or money. Each operation runs a fixed number of queries.
"""

from __future__ import annotations

from flask import url_for
from flask_login import current_user
from marshmallow import RAISE

from fitstore.blueprints.api import (
    BEARER,
    LAND_PARAMETER,
    LISTING_ID_PARAMETER,
    PREFIX,
    UNAUTHORIZED,
    ApiBlueprint,
    check_ids_and_body,
)
from fitstore.errors import NotFound
from fitstore.extensions import csrf
from fitstore.permissions import Permission, policy
from fitstore.schemas import ApiQuery
from fitstore.schemas.dashboard import (
    DashboardOut,
    LandDashboardOut,
    LeadTimeQuery,
    LeadTimesOut,
    ListingDashboardOut,
    TimeSeriesOut,
    TimeSeriesQuery,
    WaitPageOut,
    WaitQuery,
)
from fitstore.schemas.listings import LAND_AGS
from fitstore.services import reference
from fitstore.services import transparency as service
from fitstore.services.pagination import Page

dashboard_api = ApiBlueprint(
    "api_dashboard",
    __name__,
    url_prefix=PREFIX,
    description="Transparency: public adoption figures, time series, lead times and waits",
)
# Bearer tokens, never cookies, authenticate the API: CSRF cannot apply.
csrf.exempt(dashboard_api)

# Public reads: a token changes nothing, so none is needed.
PUBLIC = [{}]

LISTING_ID = LISTING_ID_PARAMETER
LAND = LAND_PARAMETER

NOT_PUBLISHED = "No such listing, or it is not published"
BAD_QUERY = "Invalid or unknown query parameter"
NO_LAND = "Only users of a Land, FITKO and admins see lead times and waits"


@dashboard_api.before_request
def check_request():
    # An id beyond a 32-bit key is 404 before any query (SQLite cannot compare it).
    check_ids_and_body(("listing_id",), set())


# --- presentation -------------------------------------------------------------------------


def _listing_ref(listing) -> dict:
    return {
        "id": listing.id,
        "url": url_for("api_listings.read", listing_id=listing.id),
        "title": listing.title,
        "ozg_id": listing.ozg_id,
        "provider_land_ags": listing.provider_land_ags,
    }


def _figures(figures: service.ListingFigures) -> dict:
    return {
        **_listing_ref(figures.listing),
        "live_lands": figures.live_lands,
        "onboarding_lands": figures.onboarding_lands,
        "not_started_lands": figures.not_started_lands,
        "live_authorities": figures.live_authorities,
        "kreise_with_live": figures.kreise_with_live,
        "kreise_total": service.KREISE_TOTAL,
    }


def _land_listing(listing, stage: service.PublicStage, counts: dict[int, int]) -> dict:
    return {
        "listing": _listing_ref(listing),
        "stage": stage.stage,
        "stage_since": stage.stage_since.date(),
        "live_since": stage.live_since,
        "live_authorities": counts.get(listing.id, 0),
    }


# --- public figures -----------------------------------------------------------------------


@dashboard_api.route("/dashboard", methods=["GET"])
@policy(Permission.PUBLIC)
@dashboard_api.arguments(ApiQuery, location="query", unknown=RAISE, as_kwargs=True)
@dashboard_api.response(200, DashboardOut)
@dashboard_api.problem(422, BAD_QUERY)
@dashboard_api.doc(security=PUBLIC)
def overview(lang=None):
    """Adoption of every published listing: Länder, authorities, Kreise, and the totals

    The same figures as the public dashboard (/dashboard) and the open data
    (/opendata). A Land is live when its current reuse is live, in onboarding when
    it is open but not live; an authority counts while its reuse is open.
    """
    result = service.overview()
    return {
        "totals": {
            "listings": len(result.listings),
            "live_authorities": result.live_authorities,
            "live_connections": result.live_connections,
            "kreise_with_live": result.kreise_with_live,
            "kreise_total": result.kreise_total,
            "live_reuses": result.live_reuses,
            "onboarding_reuses": result.onboarding_reuses,
        },
        "listings": [_figures(figures) for figures in result.listings],
    }


@dashboard_api.route(
    "/dashboard/listings/<int:listing_id>", methods=["GET"], parameters=[LISTING_ID]
)
@policy(Permission.PUBLIC)
@dashboard_api.arguments(ApiQuery, location="query", unknown=RAISE, as_kwargs=True)
@dashboard_api.response(200, ListingDashboardOut)
@dashboard_api.problems({404: NOT_PUBLISHED, 422: BAD_QUERY})
@dashboard_api.doc(security=PUBLIC)
def listing(listing_id: int, lang=None):
    """One published listing: its figures, its stage in each Land, its live authorities
    per Kreis

    `lands` lists all 16 Länder by AGS (the stage of the current reuse, or null);
    `kreise` all 401 Kreise by key with the number of authorities live there.
    """
    found = service.public_listing(listing_id)
    stages = service.current_stages([found.id])
    kreise = service.kreis_layer(found)
    live = sum(1 for stage in stages.values() if stage.status == service.LAND_LIVE)
    onboarding = sum(1 for stage in stages.values() if stage.status == service.LAND_ONBOARDING)
    figures = service.ListingFigures(
        found,
        live,
        onboarding,
        sum(row.live_authorities for row in kreise),
        sum(1 for row in kreise if row.live_authorities),
    )
    lands = []
    for area in sorted(reference.germany_map().areas, key=lambda area: area.ags):
        stage = stages.get((found.id, area.ags))
        lands.append(
            {
                "land_ags": area.ags,
                "name": area.name,
                "stage": stage.stage if stage else None,
                "status": stage.status if stage else service.LAND_NOT_STARTED,
                "provider": area.ags == found.provider_land_ags,
                "stage_since": stage.stage_since.date() if stage else None,
            }
        )
    return {
        **_figures(figures),
        "lands": lands,
        "kreise": [
            {
                "kreis_ags": row.ags,
                "name": row.name,
                "land_ags": row.land_ags,
                "live_authorities": row.live_authorities,
            }
            for row in sorted(kreise, key=lambda row: row.ags)
        ],
    }


@dashboard_api.route("/dashboard/lands/<land_ags>", methods=["GET"], parameters=[LAND])
@policy(Permission.PUBLIC)
@dashboard_api.arguments(ApiQuery, location="query", unknown=RAISE, as_kwargs=True)
@dashboard_api.response(200, LandDashboardOut)
@dashboard_api.problems({404: "No such Land", 422: BAD_QUERY})
@dashboard_api.doc(security=PUBLIC)
def land(land_ags: str, lang=None):
    """One Land: the published listings live there, in onboarding, not started, and
    those it provides"""
    ags = LAND_AGS.get(land_ags)
    if ags is None:
        raise NotFound()
    result = service.land_overview(ags)
    counts = result.live_authorities
    return {
        "land": result.land,
        "live": [_land_listing(item, stage, counts) for item, stage in result.live],
        "onboarding": [_land_listing(item, stage, counts) for item, stage in result.onboarding],
        "not_started": [_listing_ref(item) for item in result.not_started],
        "provided": [_listing_ref(item) for item in result.provided],
    }


@dashboard_api.route("/dashboard/timeseries", methods=["GET"])
@policy(Permission.PUBLIC)
@dashboard_api.arguments(TimeSeriesQuery, location="query", unknown=RAISE, as_kwargs=True)
@dashboard_api.response(200, TimeSeriesOut)
@dashboard_api.problems({404: NOT_PUBLISHED, 422: BAD_QUERY})
@dashboard_api.doc(security=PUBLIC)
def timeseries(listing_id: int | None = None, lang=None):
    """Live Länder and live authorities at the end of each month

    Recomputed from the recorded transitions and rollout events, from the first
    go-live to the current month (whose point is today's state). Without
    `listing_id`, all published listings together: Land × listing and
    authority × listing pairs.
    """
    found = service.public_listing(listing_id) if listing_id is not None else None
    points = service.time_series(found.id if found else None)
    return {
        "listing": _listing_ref(found) if found else None,
        "points": [
            {
                "month": point.month.strftime("%Y-%m"),
                "live_lands": point.live_lands,
                "live_authorities": point.live_authorities,
            }
            for point in points
        ],
    }


# --- lead times and waits (FITKO and the Länder involved) ---------------------------------


@dashboard_api.route("/lead-times", methods=["GET"])
@policy(Permission.VIEW_LEAD_TIMES)
@dashboard_api.arguments(LeadTimeQuery, location="query", unknown=RAISE, as_kwargs=True)
@dashboard_api.response(200, LeadTimesOut)
@dashboard_api.problems(
    {
        401: UNAUTHORIZED,
        403: NO_LAND,
        404: "No such listing, or its lead times are not visible to the caller",
        422: BAD_QUERY,
    }
)
@dashboard_api.doc(security=BEARER)
def lead_times(listing_id: int | None = None, lang=None):
    """Median and 90th percentile days spent in each stage up to live

    A reuse counts for a stage once it has left it for good (its stays there
    summed). For one listing or all listings the caller sees: FITKO and admins
    all, a Land's users those their Land provides, reuses or is an alliance
    member of.
    """
    found = None
    if listing_id is not None:
        found = next(
            (item for item in service.lead_time_listings(current_user) if item.id == listing_id),
            None,
        )
        if found is None:
            raise NotFound()
    rows = service.lead_times(current_user, listing_id)
    return {
        "listing": _listing_ref(found) if found else None,
        "stages": [
            {
                "stage": row.stage,
                "count": row.count,
                "median_days": row.median_days,
                "p90_days": row.p90_days,
            }
            for row in rows
        ],
    }


@dashboard_api.route("/waits", methods=["GET"])
@policy(Permission.VIEW_LEAD_TIMES)
@dashboard_api.arguments(WaitQuery, location="query", unknown=RAISE, as_kwargs=True)
@dashboard_api.response(200, WaitPageOut)
@dashboard_api.problems({401: UNAUTHORIZED, 403: NO_LAND, 422: BAD_QUERY})
@dashboard_api.doc(security=BEARER)
def waits(page: int, page_size: int, days: int | None = None, lang=None):
    """Reuses waiting at least `days` days for the same party, oldest first

    Each with who has to act: the adopter, the provider, FITKO's check or the
    countersignature by a second FITKO user. Paginated.
    """
    found = service.waiting_list(current_user, days)
    # The list is bounded by the open reuses (listings x 16 Länder) and sorted in Python
    # by the service: the page is cut from it.
    result = Page(found[(page - 1) * page_size : page * page_size], page, page_size, len(found))
    return {
        "threshold_days": service.default_threshold() if days is None else days,
        "page": result.page,
        "page_size": result.per_page,
        "total": result.total,
        "pages": result.pages,
        "items": [
            {
                "reuse": {
                    "id": wait.reuse.id,
                    "url": url_for("api_reuses.read", reuse_id=wait.reuse.id),
                    "stage": wait.reuse.stage,
                    "adopter_land_ags": wait.reuse.adopter_land_ags,
                },
                "listing": _listing_ref(wait.reuse.listing),
                "party": wait.party,
                "party_label": wait.party_label,
                "land_ags": wait.land_ags,
                "since": wait.since,
                "days": wait.days,
            }
            for wait in result.items
        ],
    }
