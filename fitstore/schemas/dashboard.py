"""marshmallow schemas of the dashboard API: the public adoption figures, a listing's
Länder and Kreise, a Land's overview, the monthly time series, lead times and waits.

Every figure comes from ``fitstore.services.transparency``, the same functions the
public pages, the open data and the feed use, so the API cannot disagree with them.
The public answers carry public facts only: published listings, stages, their dates
and go-live counts; never conditions, contracts or money.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, validate

from fitstore.models import ReuseStage
from fitstore.schemas import ApiQuery, FullMatch, PageOut, PageQuery, StrictSchema
from fitstore.schemas.listings import INT32_MAX, LandRefOut, UtcDateTime
from fitstore.services.transparency import LAND_LIVE, LAND_NOT_STARTED, LAND_ONBOARDING

#: The public status of a Land for a listing.
LAND_STATUSES = (LAND_LIVE, LAND_ONBOARDING, LAND_NOT_STARTED)
#: Who has to act in a wait.
PARTIES = ("adopter", "provider", "fitko_check", "fitko_countersign")
#: The largest wait threshold accepted (100 years): larger ones cannot mean anything.
MAX_WAIT_DAYS = 36_500

_AGS2 = "^[0-9]{2}$"
_AGS5 = "^[0-9]{5}$"


class QueryInteger(fields.Integer):
    """An integer query parameter that says in the request's language when it is none."""

    def make_error(self, key: str, **kwargs) -> ValidationError:
        if key == "invalid":
            return ValidationError(str(_l("Bitte geben Sie eine ganze Zahl an.")))
        return super().make_error(key, **kwargs)


def _listing_id(description: str) -> fields.Integer:
    return QueryInteger(
        validate=validate.Range(
            min=1,
            max=INT32_MAX,
            error=_l("Bitte geben Sie die Nummer einer Leistung an (eine ganze Zahl ab 1)."),
        ),
        metadata={"description": description},
    )


# --- queries --------------------------------------------------------------------------


class TimeSeriesQuery(ApiQuery):
    listing_id = _listing_id("Only this published listing; all published listings without it")


class LeadTimeQuery(ApiQuery):
    listing_id = _listing_id("Only this listing; all listings the caller sees without it")


class WaitQuery(PageQuery):
    days = QueryInteger(
        validate=validate.Range(
            min=0,
            max=MAX_WAIT_DAYS,
            error=_l("Bitte geben Sie eine Zahl von Tagen zwischen 0 und 36500 an."),
        ),
        metadata={
            "description": "Threshold: reuses waiting at least this many days for the same "
            "party (default: the installation's WAIT_THRESHOLD_DAYS)"
        },
    )


# --- references -----------------------------------------------------------------------


class DashboardListingRefOut(StrictSchema):
    id = fields.Integer(dump_only=True)
    url = fields.String(dump_only=True, metadata={"description": "The listing in this API"})
    title = fields.String(dump_only=True)
    ozg_id = fields.String(dump_only=True)
    provider_land_ags = fields.String(
        dump_only=True, metadata={"description": "AGS of the providing Land", "pattern": _AGS2}
    )


# --- the overview -----------------------------------------------------------------------


class ListingFiguresOut(DashboardListingRefOut):
    live_lands = fields.Integer(
        dump_only=True, metadata={"description": "Länder whose current reuse is live"}
    )
    onboarding_lands = fields.Integer(
        dump_only=True,
        metadata={"description": "Länder with an open reuse that is not live (also on hold)"},
    )
    not_started_lands = fields.Integer(
        dump_only=True, metadata={"description": "16 minus live and onboarding Länder"}
    )
    live_authorities = fields.Integer(
        dump_only=True,
        metadata={"description": "Authorities live with the listing (rollouts of open reuses)"},
    )
    kreise_with_live = fields.Integer(
        dump_only=True, metadata={"description": "Kreise with at least one live authority"}
    )
    kreise_total = fields.Integer(dump_only=True, metadata={"description": "Kreise in Germany"})


class TotalsOut(StrictSchema):
    listings = fields.Integer(dump_only=True, metadata={"description": "Published listings"})
    live_authorities = fields.Integer(
        dump_only=True,
        metadata={"description": "Distinct authorities live with at least one listing"},
    )
    live_connections = fields.Integer(
        dump_only=True, metadata={"description": "Live authority × listing pairs"}
    )
    kreise_with_live = fields.Integer(
        dump_only=True,
        metadata={"description": "Kreise with a live authority of any listing"},
    )
    kreise_total = fields.Integer(dump_only=True)
    live_reuses = fields.Integer(dump_only=True, metadata={"description": "Land × listing live"})
    onboarding_reuses = fields.Integer(
        dump_only=True, metadata={"description": "Land × listing in onboarding"}
    )


class DashboardOut(StrictSchema):
    totals = fields.Nested(TotalsOut, dump_only=True)
    listings = fields.List(fields.Nested(ListingFiguresOut), dump_only=True)


# --- one listing ----------------------------------------------------------------------


class LandStageOut(StrictSchema):
    land_ags = fields.String(dump_only=True, metadata={"pattern": _AGS2})
    name = fields.String(dump_only=True)
    stage = fields.Enum(
        ReuseStage,
        by_value=True,
        dump_only=True,
        allow_none=True,
        metadata={"description": "Stage of the Land's current reuse; null without one"},
    )
    status = fields.String(
        dump_only=True,
        validate=validate.OneOf(LAND_STATUSES),
        metadata={"enum": list(LAND_STATUSES)},
    )
    provider = fields.Boolean(dump_only=True, metadata={"description": "The providing Land"})
    stage_since = fields.Date(dump_only=True, allow_none=True)


class KreisOut(StrictSchema):
    kreis_ags = fields.String(dump_only=True, metadata={"pattern": _AGS5})
    name = fields.String(dump_only=True)
    land_ags = fields.String(dump_only=True, metadata={"pattern": _AGS2})
    live_authorities = fields.Integer(dump_only=True)


class ListingDashboardOut(ListingFiguresOut):
    lands = fields.List(
        fields.Nested(LandStageOut), dump_only=True, metadata={"description": "All 16 Länder"}
    )
    kreise = fields.List(
        fields.Nested(KreisOut), dump_only=True, metadata={"description": "All 401 Kreise"}
    )


# --- one Land -------------------------------------------------------------------------


class LandListingOut(StrictSchema):
    listing = fields.Nested(DashboardListingRefOut, dump_only=True)
    stage = fields.Enum(ReuseStage, by_value=True, dump_only=True)
    stage_since = fields.Date(dump_only=True)
    live_since = fields.Date(dump_only=True, allow_none=True)
    live_authorities = fields.Integer(
        dump_only=True, metadata={"description": "Authorities of this Land live with it"}
    )


class LandDashboardOut(StrictSchema):
    land = fields.Nested(LandRefOut, dump_only=True)
    live = fields.List(fields.Nested(LandListingOut), dump_only=True)
    onboarding = fields.List(fields.Nested(LandListingOut), dump_only=True)
    not_started = fields.List(fields.Nested(DashboardListingRefOut), dump_only=True)
    provided = fields.List(
        fields.Nested(DashboardListingRefOut),
        dump_only=True,
        metadata={"description": "Published listings this Land provides"},
    )


# --- the time series ------------------------------------------------------------------


class MonthPointOut(StrictSchema):
    month = fields.String(
        dump_only=True, validate=FullMatch("^[0-9]{4}-[0-9]{2}$"), metadata={"example": "2025-03"}
    )
    live_lands = fields.Integer(
        dump_only=True, metadata={"description": "Land × listing pairs live at the month's end"}
    )
    live_authorities = fields.Integer(
        dump_only=True,
        metadata={"description": "Authority × listing pairs live at the month's end"},
    )


class TimeSeriesOut(StrictSchema):
    listing = fields.Nested(DashboardListingRefOut, dump_only=True, allow_none=True)
    points = fields.List(
        fields.Nested(MonthPointOut),
        dump_only=True,
        metadata={"description": "One per month from the first go-live; the last is today"},
    )


# --- lead times and waits -------------------------------------------------------------


class StageLeadTimeOut(StrictSchema):
    stage = fields.Enum(ReuseStage, by_value=True, dump_only=True)
    count = fields.Integer(dump_only=True, metadata={"description": "Reuses that left it"})
    median_days = fields.Float(dump_only=True, allow_none=True)
    p90_days = fields.Float(
        dump_only=True, allow_none=True, metadata={"description": "Nearest-rank method"}
    )


class LeadTimesOut(StrictSchema):
    listing = fields.Nested(DashboardListingRefOut, dump_only=True, allow_none=True)
    stages = fields.List(fields.Nested(StageLeadTimeOut), dump_only=True)


class WaitReuseOut(StrictSchema):
    id = fields.Integer(dump_only=True)
    url = fields.String(dump_only=True)
    stage = fields.Enum(ReuseStage, by_value=True, dump_only=True)
    adopter_land_ags = fields.String(dump_only=True, metadata={"pattern": _AGS2})


class WaitOut(StrictSchema):
    reuse = fields.Nested(WaitReuseOut, dump_only=True)
    listing = fields.Nested(DashboardListingRefOut, dump_only=True)
    party = fields.String(
        dump_only=True, metadata={"enum": list(PARTIES), "description": "Who has to act"}
    )
    party_label = fields.String(dump_only=True)
    land_ags = fields.String(
        dump_only=True,
        allow_none=True,
        metadata={"description": "The Land that has to act; null when FITKO has to"},
    )
    since = UtcDateTime(dump_only=True)
    days = fields.Integer(dump_only=True)


class WaitPageOut(PageOut):
    threshold_days = fields.Integer(dump_only=True)
    items = fields.List(fields.Nested(WaitOut), dump_only=True)
