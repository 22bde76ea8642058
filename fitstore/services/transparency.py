"""Transparency: the public adoption figures, their history, lead times and long waits.

One module computes every figure, so that the public dashboard, its tables, the open
data, the feed and the API cannot disagree. Definitions (README, "Modelling
assumptions"):

- Only *published* listings are public; a withdrawn or draft listing and its reuses
  appear nowhere here. Public facts are stages, their dates and go-live dates; never
  conditions, contracts or money.
- A Land's stage for a listing is that of its current reuse: the open one, else the
  latest closed one (``reuses.land_stages``).
- A Land is **live** with a listing when its current reuse is in ``live``; it is **in
  onboarding** when the current reuse is open but not live (also ``on_hold``); else the
  listing has **not started** there.
- An authority is **live** with a listing when its rollout row is ``live`` and the reuse
  is not closed (declined, withdrawn, terminated). "Live authorities" of all listings
  together counts each authority once; "live connections" counts authority x listing.
- The time series is recomputed from the recorded history (reuse transitions and
  rollout events), one point per month end; the current month's point is today's state.
- Lead times: the days a reuse spent in a stage, summed over its stays there, counted
  once the reuse has left the stage for good (it is not in that stage now, nor on hold
  to resume there). Median as
  usual (mean of the two middle values for an even count), 90th percentile by the
  nearest-rank method.

Every function runs a fixed number of queries, whatever the number of reuses and
rollouts: aggregates are computed in SQL, and history is read in one pass. The
dashboard's aggregates over all rollouts are the same for every visitor and cost
seconds at national scale, so they are kept for ``PUBLIC_CACHE_SECONDS``
(``public_cache``); the open data and everything behind a login are always read fresh.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, extract, func, or_, select
from sqlalchemy.exc import IntegrityError

from fitstore.errors import NotFound
from fitstore.extensions import db
from fitstore.models import (
    CLOSED_STAGES,
    MAIN_LINE,
    Alliance,
    AllianceMembership,
    Authority,
    Contract,
    ContractStatus,
    Land,
    Listing,
    ListingStatus,
    MembershipStatus,
    Reminder,
    Reuse,
    ReuseStage,
    ReuseTransition,
    Role,
    Rollout,
    RolloutEvent,
    RolloutStatus,
    User,
)
from fitstore.models.base import utcnow
from fitstore.permissions import Permission, require
from fitstore.services import audit, notifications, public_cache, reference, reuses

KREISE_TOTAL = 401
# Stages in which a Land counts as "in onboarding" (started, not live).
ONBOARDING_STAGES = tuple(s for s in MAIN_LINE if s != ReuseStage.LIVE) + (ReuseStage.ON_HOLD,)
# Stages a lead time is reported for: the main line up to (not including) live.
LEAD_TIME_STAGES = tuple(s for s in MAIN_LINE if s != ReuseStage.LIVE)

# Public status of a Land for a listing.
LAND_LIVE = "live"
LAND_ONBOARDING = "onboarding"
LAND_NOT_STARTED = "not_started"
LAND_STATUS_LABELS = {
    LAND_LIVE: _l("im Produktivbetrieb"),
    LAND_ONBOARDING: _l("in Vorbereitung oder Anbindung"),
    LAND_NOT_STARTED: _l("nicht begonnen"),
}

# Colour classes of the count layers: how many authorities are live in a Kreis, or how
# many listings are live in a Land (lower bound, upper bound or None, css class).
LIVE_BUCKETS: tuple[tuple[int, int | None, str], ...] = (
    (0, 0, "live-0"),
    (1, 1, "live-1"),
    (2, 5, "live-2"),
    (6, 20, "live-6"),
    (21, None, "live-21"),
)


def live_bucket(count: int) -> str:
    """The colour class of a count (live authorities of a Kreis, live listings of a Land)."""
    for low, high, css in LIVE_BUCKETS:
        if count >= low and (high is None or count <= high):
            return css
    return LIVE_BUCKETS[0][2]


def public_listings() -> list[Listing]:
    """The published listings, by title (one query)."""
    return list(
        db.session.scalars(
            select(Listing)
            .where(Listing.status == ListingStatus.PUBLISHED)
            .order_by(Listing.title, Listing.id)
        )
    )


def public_listing(listing_id: Any) -> Listing:
    """One published listing, else NotFound (a draft or withdrawn listing is not public)."""
    from fitstore.models.base import is_id

    listing = db.session.get(Listing, listing_id) if is_id(listing_id) else None
    if listing is None or listing.status != ListingStatus.PUBLISHED:
        raise NotFound()
    return listing


def public_land(land_ags: Any) -> Land:
    """One of the 16 Länder by its two-digit key, else NotFound."""
    land = (
        db.session.get(Land, land_ags) if isinstance(land_ags, str) and len(land_ags) == 2 else None
    )
    if land is None:
        raise NotFound()
    return land


# --- current state --------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicStage:
    """The public facts of one Land's current reuse of one listing."""

    listing_id: int
    land_ags: str
    stage: ReuseStage
    stage_since: datetime
    live_since: date | None  # first day of the current live stay, if live

    @property
    def status(self) -> str:
        if self.stage == ReuseStage.LIVE:
            return LAND_LIVE
        if self.stage in ONBOARDING_STAGES:
            return LAND_ONBOARDING
        return LAND_NOT_STARTED


def current_stages(listing_ids: Iterable[int] | None = None) -> dict[tuple[int, str], PublicStage]:
    """(listing id, Land) -> the current reuse's public stage, for published listings
    (``listing_ids`` narrows them). One query: the open reuse, else the latest closed."""
    query = (
        select(Reuse.id, Reuse.listing_id, Reuse.adopter_land_ags, Reuse.stage, Reuse.stage_since)
        .join(Listing, Listing.id == Reuse.listing_id)
        .where(Listing.status == ListingStatus.PUBLISHED)
        .order_by(Reuse.id)
    )
    if listing_ids is not None:
        query = query.where(Reuse.listing_id.in_(list(listing_ids)))
    result: dict[tuple[int, str], PublicStage] = {}
    for _id, listing_id, land, stage, since in db.session.execute(query):
        key = (listing_id, land)
        current = result.get(key)
        if current is None or current.stage in CLOSED_STAGES:
            stage = ReuseStage(stage)
            live_since = since.date() if stage == ReuseStage.LIVE else None
            result[key] = PublicStage(listing_id, land, stage, since, live_since)
    return result


def public_stages() -> dict[tuple[int, str], PublicStage]:
    """``current_stages()`` of every published listing for the dashboard pages, kept for
    a short while (see ``public_cache``); the dict is shared: read it, never change it."""
    return public_cache.cached(("current_stages",), current_stages)


def _live_rollouts(listing_id: int | None = None, land_ags: str | None = None):
    """The condition of a live rollout of an open reuse of a published listing."""
    conditions = [
        Rollout.status == RolloutStatus.LIVE,
        Reuse.stage.not_in(CLOSED_STAGES),
        Listing.status == ListingStatus.PUBLISHED,
    ]
    if listing_id is not None:
        conditions.append(Reuse.listing_id == listing_id)
    if land_ags is not None:
        conditions.append(Reuse.adopter_land_ags == land_ags)
    return conditions


def _rollout_join(query):
    return query.join(Reuse, Reuse.id == Rollout.reuse_id).join(
        Listing, Listing.id == Reuse.listing_id
    )


def kreis_live_counts(listing_id: int | None = None, land_ags: str | None = None) -> dict[str, int]:
    """Kreis key -> number of distinct live authorities there, for one listing or all
    published listings together (one query, cached briefly). Kreise without one are absent."""

    def count() -> dict[str, int]:
        query = _rollout_join(
            select(Rollout.kreis_ags, func.count(func.distinct(Rollout.authority_id)))
        ).where(*_live_rollouts(listing_id, land_ags))
        return dict(db.session.execute(query.group_by(Rollout.kreis_ags)).all())

    return public_cache.cached(("kreis_live_counts", listing_id, land_ags), count)


def live_counts_by_listing() -> dict[int, tuple[int, int]]:
    """Listing id -> (live authorities, Kreise with a live authority), one query (cached
    briefly)."""

    def count() -> dict[int, tuple[int, int]]:
        query = _rollout_join(
            select(
                Reuse.listing_id,
                func.count(Rollout.id),
                func.count(func.distinct(Rollout.kreis_ags)),
            )
        ).where(*_live_rollouts())
        rows = db.session.execute(query.group_by(Reuse.listing_id))
        return {listing_id: (authorities, kreise) for listing_id, authorities, kreise in rows}

    return public_cache.cached(("live_counts_by_listing",), count)


def live_totals(land_ags: str | None = None) -> tuple[int, int, int]:
    """All published listings together: (distinct live authorities, live connections
    authority x listing, Kreise with a live authority); one query (cached briefly)."""

    def count() -> tuple[int, int, int]:
        query = _rollout_join(
            select(
                func.count(func.distinct(Rollout.authority_id)),
                func.count(Rollout.id),
                func.count(func.distinct(Rollout.kreis_ags)),
            )
        ).where(*_live_rollouts(land_ags=land_ags))
        authorities, connections, kreise = db.session.execute(query).one()
        return authorities or 0, connections or 0, kreise or 0

    return public_cache.cached(("live_totals", land_ags), count)


@dataclass(frozen=True)
class ListingFigures:
    listing: Listing
    live_lands: int
    onboarding_lands: int
    live_authorities: int
    kreise_with_live: int

    @property
    def not_started_lands(self) -> int:
        return 16 - self.live_lands - self.onboarding_lands


@dataclass(frozen=True)
class Overview:
    listings: list[ListingFigures]
    live_authorities: int  # distinct authorities live with at least one listing
    live_connections: int  # authority x listing
    kreise_with_live: int
    live_reuses: int  # Land x listing pairs live
    onboarding_reuses: int
    kreise_total: int = KREISE_TOTAL


def overview() -> Overview:
    """Per published listing: Länder live / in onboarding, live authorities, Kreise with
    a live authority; and the totals. Four queries."""
    listings = public_listings()
    stages = public_stages()
    by_listing = live_counts_by_listing()
    live: dict[int, int] = defaultdict(int)
    onboarding: dict[int, int] = defaultdict(int)
    for (listing_id, _land), stage in stages.items():
        if stage.status == LAND_LIVE:
            live[listing_id] += 1
        elif stage.status == LAND_ONBOARDING:
            onboarding[listing_id] += 1
    figures = [
        ListingFigures(
            listing,
            live[listing.id],
            onboarding[listing.id],
            *by_listing.get(listing.id, (0, 0)),
        )
        for listing in listings
    ]
    authorities, connections, kreise = live_totals()
    return Overview(
        figures,
        authorities,
        connections,
        kreise,
        sum(live.values()),
        sum(onboarding.values()),
    )


@dataclass(frozen=True)
class LandRow:
    """One Land on the Land layer: its stage for one listing, or its live count for all."""

    ags: str
    name: str
    css: str
    label: str
    value: int  # for one listing: position on the main line; for all: listings live
    since: date | None


def land_layer(listing: Listing | None) -> list[LandRow]:
    """The 16 Länder in map order. For one listing: coloured by stage (the provider
    apart, as on the listing page). For all listings: by how many are live there.
    One query; names come from the map file."""
    germany = reference.germany_map()
    if listing is not None:
        stages = current_stages([listing.id])
        rows = []
        for area in germany.areas:
            stage = stages.get((listing.id, area.ags))
            if stage is None:
                css = "stage--provider" if area.ags == listing.provider_land_ags else "stage--none"
                label = str(
                    _l("Bereitstellendes Land")
                    if area.ags == listing.provider_land_ags
                    else _l("keine Nachnutzung")
                )
                rows.append(LandRow(area.ags, area.name, css, label, -1, None))
                continue
            label = reuses.stage_label(stage.stage)
            if area.ags == listing.provider_land_ags:
                label = f"{_l('Bereitstellendes Land')} ({label})"
            position = MAIN_LINE.index(stage.stage) if stage.stage in MAIN_LINE else -1
            rows.append(
                LandRow(
                    area.ags,
                    area.name,
                    f"stage--{stage.stage}",
                    label,
                    position,
                    stage.stage_since.date(),
                )
            )
        return rows
    live: dict[str, int] = defaultdict(int)
    for (_listing_id, land), stage in public_stages().items():
        if stage.status == LAND_LIVE:
            live[land] += 1
    return [
        LandRow(
            area.ags,
            area.name,
            live_bucket(live[area.ags]),
            str(live[area.ags]),
            live[area.ags],
            None,
        )
        for area in germany.areas
    ]


@dataclass(frozen=True)
class KreisRow:
    ags: str
    name: str
    land_ags: str
    live_authorities: int

    @property
    def css(self) -> str:
        return live_bucket(self.live_authorities)


def kreis_layer(listing: Listing | None = None, land_ags: str | None = None) -> list[KreisRow]:
    """All 401 Kreise (or one Land's) in map order with their live authorities, for
    one listing or all together. One query; names are the official ones of kreise.csv
    (the map file names a kreisfreie Stadt and its Landkreis alike)."""
    counts = kreis_live_counts(listing.id if listing else None, land_ags)
    areas = reference.kreise_map(land_ags).areas if land_ags else _all_kreise()
    names = kreis_names()
    return [
        KreisRow(a.ags, names.get(a.ags, a.name), a.ags[:2], counts.get(a.ags, 0)) for a in areas
    ]


def _all_kreise():
    return reference.kreise_map_all().areas


@dataclass(frozen=True)
class LandOverview:
    land: Land
    live: list[tuple[Listing, PublicStage]]
    onboarding: list[tuple[Listing, PublicStage]]
    not_started: list[Listing]
    provided: list[Listing]
    live_authorities: dict[int, int]  # listing id -> live authorities in this Land


def land_overview(land_ags: str) -> LandOverview:
    """Which published listings are live, in onboarding or not started in one Land, and
    which it provides. Three queries."""
    land = public_land(land_ags)
    listings = public_listings()
    stages = public_stages()
    counts = public_cache.cached(
        ("live_counts_in_land", land.ags),
        lambda: dict(
            db.session.execute(
                _rollout_join(select(Reuse.listing_id, func.count(Rollout.id)))
                .where(*_live_rollouts(land_ags=land.ags))
                .group_by(Reuse.listing_id)
            ).all()
        ),
    )
    live, onboarding, not_started = [], [], []
    for listing in listings:
        stage = stages.get((listing.id, land.ags))
        status = stage.status if stage else LAND_NOT_STARTED
        if status == LAND_LIVE:
            live.append((listing, stage))
        elif status == LAND_ONBOARDING:
            onboarding.append((listing, stage))
        else:
            not_started.append(listing)
    provided = [listing for listing in listings if listing.provider_land_ags == land.ags]
    return LandOverview(land, live, onboarding, not_started, provided, counts)


# --- history: the time series ---------------------------------------------------------------


@dataclass(frozen=True)
class MonthPoint:
    month: date  # the first day of the month
    live_lands: int  # Land x listing pairs live at the end of the month (today: now)
    live_authorities: int  # authority x listing pairs live at the end of the month


def _month(value: date) -> date:
    return date(value.year, value.month, 1)


def _next_month(value: date) -> date:
    return date(value.year + value.month // 12, value.month % 12 + 1, 1)


def time_series(listing_id: int | None = None, today: date | None = None) -> list[MonthPoint]:
    """Live Länder and live authorities per month, from the recorded history only
    (two queries, cached briefly: they read every rollout event). For one listing, or all
    published listings (then Land x listing and authority x listing pairs are counted).
    Months from the first go-live to today."""
    today = today or utcnow().date()
    return list(
        public_cache.cached(
            ("time_series", listing_id, today), lambda: _time_series(listing_id, today)
        )
    )


def _time_series(listing_id: int | None, today: date) -> list[MonthPoint]:
    # Changes per month: +1 for entering live, -1 for leaving it.
    lands: dict[date, int] = defaultdict(int)
    authorities: dict[date, int] = defaultdict(int)

    transitions = (
        select(ReuseTransition.from_stage, ReuseTransition.to_stage, ReuseTransition.occurred_at)
        .join(Reuse, Reuse.id == ReuseTransition.reuse_id)
        .join(Listing, Listing.id == Reuse.listing_id)
        .where(
            Listing.status == ListingStatus.PUBLISHED,
            or_(
                ReuseTransition.to_stage == ReuseStage.LIVE,
                ReuseTransition.from_stage == ReuseStage.LIVE,
            ),
        )
    )
    if listing_id is not None:
        transitions = transitions.where(Reuse.listing_id == listing_id)
    for from_stage, to_stage, occurred_at in db.session.execute(transitions):
        if to_stage == ReuseStage.LIVE and from_stage != ReuseStage.LIVE:
            lands[_month(occurred_at.date())] += 1
        elif from_stage == ReuseStage.LIVE and to_stage != ReuseStage.LIVE:
            lands[_month(occurred_at.date())] -= 1

    # An authority is live from its rollout event to live (not before its Land went live
    # with the service: a rollout may be dated back to the contract) until its reuse
    # closes (a closed reuse never reopens: a new one is created instead).
    def first(stages, label):
        return (
            select(
                ReuseTransition.reuse_id.label("reuse_id"),
                func.min(ReuseTransition.occurred_at).label(label),
            )
            .where(ReuseTransition.to_stage.in_(stages))
            .group_by(ReuseTransition.reuse_id)
            .subquery()
        )

    closed = first(CLOSED_STAGES, "closed_at")
    live = first((ReuseStage.LIVE,), "live_at")
    months_of = (
        extract("year", RolloutEvent.on),
        extract("month", RolloutEvent.on),
        extract("year", live.c.live_at),
        extract("month", live.c.live_at),
        extract("year", closed.c.closed_at),
        extract("month", closed.c.closed_at),
    )
    went_live = (
        select(*months_of, func.count())
        .join(Rollout, Rollout.id == RolloutEvent.rollout_id)
        .join(Reuse, Reuse.id == Rollout.reuse_id)
        .join(Listing, Listing.id == Reuse.listing_id)
        .outerjoin(live, live.c.reuse_id == Reuse.id)
        .outerjoin(closed, closed.c.reuse_id == Reuse.id)
        .where(
            Listing.status == ListingStatus.PUBLISHED,
            RolloutEvent.to_status == RolloutStatus.LIVE,
        )
        .group_by(*months_of)
    )
    if listing_id is not None:
        went_live = went_live.where(Reuse.listing_id == listing_id)
    for year, month, live_year, live_month, closed_year, closed_month, count in db.session.execute(
        went_live
    ):
        start = date(int(year), int(month), 1)
        if live_year is not None:
            start = max(start, date(int(live_year), int(live_month), 1))
        authorities[start] += count
        if closed_year is not None:
            end = date(int(closed_year), int(closed_month), 1)
            # Closed in the month it went live (or before: a late entry) - never counted.
            authorities[max(end, start)] -= count

    months = [m for m in (*lands, *authorities) if m <= _month(today)]
    if not months:
        return []
    points = []
    month = min(months)
    live_lands = live_authorities = 0
    while month <= _month(today):
        live_lands += lands.get(month, 0)
        live_authorities += authorities.get(month, 0)
        points.append(MonthPoint(month, live_lands, live_authorities))
        month = _next_month(month)
    return points


# --- lead times and waits (FITKO and members) ----------------------------------------------


def _member_listing_ids(land_ags: str):
    """The ids of the listings whose alliance the Land is a full member of (a subquery)."""
    return (
        select(Alliance.listing_id)
        .join(AllianceMembership, AllianceMembership.alliance_id == Alliance.id)
        .where(
            AllianceMembership.land_ags == land_ags,
            AllianceMembership.status == MembershipStatus.MEMBER,
        )
    )


def _visible_reuse_condition(actor):
    """Reuses whose wait the actor may see, as ``VIEW_REUSE`` decides for one reuse: all
    for FITKO and admins; for a Land user its own reuses, those of the listings it
    provides and those of the listings whose alliance it is a member of. A Land that
    merely reuses a listing does not see the other adopters' stages (non-members see
    only who is live). No query of its own: a condition for the caller's one query."""
    if actor.role in (Role.FITKO, Role.ADMIN):
        return None
    land = actor.land_ags
    member = _member_listing_ids(land)
    return or_(
        Reuse.adopter_land_ags == land,
        Listing.provider_land_ags == land,
        Reuse.listing_id.in_(member),
    )


def lead_time_listings(actor) -> list[Listing]:
    """Permission VIEW_LEAD_TIMES: the listings with at least one reuse the actor may see
    (``_visible_reuse_condition``), whose lead times it sees (one query)."""
    require(actor, Permission.VIEW_LEAD_TIMES)
    visible = select(Reuse.id).where(Reuse.listing_id == Listing.id)
    condition = _visible_reuse_condition(actor)
    if condition is not None:
        visible = visible.where(condition)
    query = select(Listing).where(visible.exists()).order_by(Listing.title, Listing.id)
    return list(db.session.scalars(query))


@dataclass(frozen=True)
class StageLeadTime:
    stage: ReuseStage
    count: int  # reuses that have left the stage
    median_days: float | None
    p90_days: float | None


def percentile_nearest_rank(values: list[float], percent: int) -> float:
    """The smallest value with at least ``percent`` % of the values at or below it."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    # Integer ceiling: the rank never depends on how a float quotient happens to round.
    rank = max(1, -(-percent * len(ordered) // 100))
    return ordered[rank - 1]


def stage_durations(
    rows: Iterable[tuple[int, ReuseStage, ReuseStage, datetime]],
) -> dict[ReuseStage, list[float]]:
    """Days per stage from transitions (reuse id, current stage, to stage, when), ordered
    by reuse and time: each reuse's stays in a stage summed, once it has left it."""
    spent: dict[tuple[int, ReuseStage], float] = defaultdict(float)
    current: dict[int, ReuseStage] = {}
    previous: tuple[int, ReuseStage, datetime] | None = None
    for reuse_id, stage_now, to_stage, occurred_at in rows:
        current[reuse_id] = ReuseStage(stage_now)
        if previous is not None and previous[0] == reuse_id:
            days = (occurred_at - previous[2]).total_seconds() / 86400
            spent[(reuse_id, previous[1])] += max(0.0, days)
        previous = (reuse_id, ReuseStage(to_stage), occurred_at)
    result: dict[ReuseStage, list[float]] = defaultdict(list)
    for (reuse_id, stage), days in spent.items():
        if current[reuse_id] != stage:
            result[stage].append(days)
    return result


def lead_times(actor, listing_id: int | None = None) -> list[StageLeadTime]:
    """Permission VIEW_LEAD_TIMES: median and 90th percentile days per main-line stage,
    for one listing or all the actor sees (one query, plus one for the listing)."""
    require(actor, Permission.VIEW_LEAD_TIMES)
    # A reuse on hold has not left the stage it resumes to: that stay is not complete.
    current_stage = case(
        (Reuse.stage == ReuseStage.ON_HOLD, func.coalesce(Reuse.resume_stage, Reuse.stage)),
        else_=Reuse.stage,
    )
    query = (
        select(Reuse.id, current_stage, ReuseTransition.to_stage, ReuseTransition.occurred_at)
        .join(ReuseTransition, ReuseTransition.reuse_id == Reuse.id)
        .join(Listing, Listing.id == Reuse.listing_id)
        .order_by(Reuse.id, ReuseTransition.occurred_at, ReuseTransition.id)
    )
    # Only the reuses the actor may see count: a Land that merely reuses a listing must
    # not learn another adopter's days in a stage from a median of two.
    condition = _visible_reuse_condition(actor)
    if condition is not None:
        query = query.where(condition)
    if listing_id is not None:
        if listing_id not in {listing.id for listing in lead_time_listings(actor)}:
            raise NotFound()
        query = query.where(Reuse.listing_id == listing_id)
    durations = stage_durations(db.session.execute(query))
    result = []
    for stage in LEAD_TIME_STAGES:
        values = durations.get(stage, [])
        result.append(
            StageLeadTime(
                stage,
                len(values),
                round(statistics.median(values), 1) if values else None,
                round(percentile_nearest_rank(values, 90), 1) if values else None,
            )
        )
    return result


# Who has to act in a wait, in words.
PARTY_LABELS = {
    "adopter": _l("Nachnutzendes Land"),
    "provider": _l("Bereitstellendes Land"),
    "fitko_check": _l("FITKO: Vertrag prüfen"),
    "fitko_countersign": _l("FITKO: Vertrag gegenzeichnen (eine andere Person als die prüfende)"),
}


@dataclass(frozen=True)
class Wait:
    reuse: Reuse
    party: str  # adopter, provider, fitko_check or fitko_countersign
    since: datetime
    days: int

    @property
    def key(self) -> str:
        return f"{self.reuse.stage}:{self.party}"

    @property
    def party_label(self) -> str:
        return str(PARTY_LABELS[self.party])

    @property
    def land_ags(self) -> str | None:
        """The Land that has to act (None: FITKO)."""
        if self.party == "adopter":
            return self.reuse.adopter_land_ags
        if self.party == "provider":
            return self.reuse.listing.provider_land_ags
        return None


def _wait_of(reuse: Reuse, contract: Contract | None, now: datetime) -> Wait | None:
    party = reuses.waiting_for(reuse)
    if party is None or reuse.stage == ReuseStage.LIVE:
        return None
    since = reuse.stage_since
    if reuse.stage == ReuseStage.COORDINATION and reuse.has_conditions:
        since = max(since, reuse.conditions_proposed_at)
    if party == "fitko":
        if contract is not None and contract.status == ContractStatus.AWAITING_COUNTERSIGN:
            party = "fitko_countersign"
            since = max(since, contract.checked_at or since)
        else:
            party = "fitko_check"
    return Wait(reuse, party, since, max(0, (now - since).days))


def default_threshold() -> int:
    return int(current_app.config["WAIT_THRESHOLD_DAYS"])


def _waits(condition, threshold_days: int, now: datetime) -> list[Wait]:
    query = (
        select(Reuse, Contract)
        .join(Listing, Listing.id == Reuse.listing_id)
        .outerjoin(Contract, Contract.reuse_id == Reuse.id)
        .where(Reuse.stage.not_in((*CLOSED_STAGES, ReuseStage.LIVE)))
        .order_by(Reuse.stage_since, Reuse.id)
    )
    if condition is not None:
        query = query.where(condition)
    cutoff = now - timedelta(days=threshold_days)
    waits = []
    for reuse, contract in db.session.execute(query):
        wait = _wait_of(reuse, contract, now)
        if wait is not None and wait.since <= cutoff:
            waits.append(wait)
    waits.sort(key=lambda w: (w.since, w.reuse.id))
    return waits


def waiting_list(
    actor, threshold_days: int | None = None, now: datetime | None = None
) -> list[Wait]:
    """Permission VIEW_LEAD_TIMES: reuses waiting at least ``threshold_days`` for the
    same party, oldest first. A Land user sees the waits of the reuses it may open: its
    own, those of the listings it provides and those of its alliances (one query)."""
    require(actor, Permission.VIEW_LEAD_TIMES)
    threshold = default_threshold() if threshold_days is None else threshold_days
    return _waits(_visible_reuse_condition(actor), threshold, now or utcnow())


def _recipients(wait: Wait) -> list[User]:
    if wait.party in ("adopter", "provider"):
        return reuses._land_users(wait.land_ags)
    users = reuses._fitko_users()
    contract = wait.reuse.contract
    if wait.party == "fitko_countersign" and contract is not None:
        users = [u for u in users if u.id != contract.checked_by_id]
    return users


@dataclass
class ReminderReport:
    sent: int = 0
    already: int = 0
    without_recipient: int = 0
    waits: list[Wait] = field(default_factory=list)


def send_reminders(
    threshold_days: int | None = None, now: datetime | None = None
) -> ReminderReport:
    """Remind whoever has to act of every wait of at least ``threshold_days`` days, once
    per wait: a ``reminder`` row (unique per reuse, wait and start of the wait) is written
    with the notices in one transaction per wait, so an overlapping or repeated run sends
    nothing twice. Each reminder is audited."""
    threshold = default_threshold() if threshold_days is None else threshold_days
    now = now or utcnow()
    report = ReminderReport()
    waits = _waits(None, threshold, now)
    done = {
        (reuse_id, key, since)
        for reuse_id, key, since in db.session.execute(
            select(Reminder.reuse_id, Reminder.wait_key, Reminder.wait_since).where(
                Reminder.reuse_id.in_([w.reuse.id for w in waits])
            )
        )
    }
    for wait in waits:
        if (wait.reuse.id, wait.key, wait.since) in done:
            report.already += 1
            continue
        recipients = _recipients(wait)
        if not recipients:
            report.without_recipient += 1
            continue
        try:
            db.session.add(
                Reminder(
                    reuse_id=wait.reuse.id,
                    wait_key=wait.key,
                    wait_since=wait.since,
                    sent_at=now,
                    recipients=len(recipients),
                )
            )
            db.session.flush()
        except IntegrityError:
            db.session.rollback()  # a concurrent run reminded this wait first
            report.already += 1
            continue
        notifications.notify(recipients, _reminder_message(wait), reuses._link(wait.reuse))
        audit.record(
            None,
            "reuse.reminder_sent",
            "reuse",
            wait.reuse.id,
            land_ags=wait.reuse.adopter_land_ags,
            details={
                "wait": wait.key,
                "since": wait.since.isoformat(),
                "days": wait.days,
                "recipients": len(recipients),
            },
        )
        db.session.commit()
        report.sent += 1
        report.waits.append(wait)
    return report


def _reminder_message(wait: Wait) -> str:
    from flask_babel import ngettext

    return ngettext(
        "Erinnerung: %(listing)s – %(land)s wartet seit %(num)d Tag in „%(stage)s“ auf: %(party)s.",
        "Erinnerung: %(listing)s – %(land)s wartet seit %(num)d Tagen in „%(stage)s“"
        " auf: %(party)s.",
        wait.days,
        listing=wait.reuse.listing.title,
        land=wait.reuse.adopter_land.name,
        stage=reuses.stage_label(wait.reuse.stage),
        party=wait.party_label,
    )


# --- open data rows --------------------------------------------------------------------------


def land_adoption_rows() -> Iterator[dict[str, Any]]:
    """One row per Land x published listing (16 x listings), the public facts only.
    Three queries, whatever the size."""
    listings = public_listings()
    stages = current_stages()
    counts = {
        (listing_id, land): count
        for listing_id, land, count in db.session.execute(
            _rollout_join(select(Reuse.listing_id, Reuse.adopter_land_ags, func.count(Rollout.id)))
            .where(*_live_rollouts())
            .group_by(Reuse.listing_id, Reuse.adopter_land_ags)
        )
    }
    lands = {area.ags: area.name for area in reference.germany_map().areas}
    for listing in listings:
        for land_ags in sorted(lands):
            stage = stages.get((listing.id, land_ags))
            yield {
                "listing_id": listing.id,
                "listing_title": listing.title,
                "ozg_id": listing.ozg_id,
                "provider_land_ags": listing.provider_land_ags,
                "land_ags": land_ags,
                "land_name": lands[land_ags],
                "status": stage.status if stage else LAND_NOT_STARTED,
                "stage": str(stage.stage) if stage else None,
                "stage_since": stage.stage_since.date() if stage else None,
                "live_since": stage.live_since if stage else None,
                "live_authorities": counts.get((listing.id, land_ags), 0),
            }


def authority_adoption_rows(batch: int = 2000) -> Iterator[dict[str, Any]]:
    """One row per authority x published listing with a rollout of an open reuse,
    streamed in batches (one query)."""
    query = (
        select(
            Reuse.listing_id,
            Listing.title,
            Listing.ozg_id,
            Authority.ags,
            Authority.name,
            Authority.level,
            Rollout.kreis_ags,
            Reuse.adopter_land_ags,
            Rollout.status,
            Rollout.status_on,
            Rollout.live_on,
        )
        .select_from(Rollout)
        .join(Reuse, Reuse.id == Rollout.reuse_id)
        .join(Listing, Listing.id == Reuse.listing_id)
        .join(Authority, Authority.id == Rollout.authority_id)
        .where(Listing.status == ListingStatus.PUBLISHED, Reuse.stage.not_in(CLOSED_STAGES))
        .order_by(Reuse.listing_id, Authority.ags)
        .execution_options(yield_per=batch)
    )
    for row in db.session.execute(query):
        yield {
            "listing_id": row[0],
            "listing_title": row[1],
            "ozg_id": row[2],
            "authority_ags": row[3],
            "authority_name": row[4],
            "authority_level": str(row[5]),
            "kreis_ags": row[6],
            "land_ags": row[7],
            "status": str(row[8]),
            "status_since": row[9],
            "live_since": row[10],
        }


# --- the feed --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedEntry:
    kind: str  # "published", "land_live" or "authorities_live"
    when: datetime  # when it was recorded: the feed's order and the entry's "updated"
    listing: Listing
    land_ags: str | None = None
    count: int = 0  # authorities that went live that day
    key: str = ""  # a stable id part
    on: date | None = None  # the day it happened, where that differs from ``when``


def feed_entries(limit: int = 50) -> list[FeedEntry]:
    """The newest public events: listings published, Länder going live, and authorities
    going live (grouped per reuse and day). Three queries."""
    entries: list[FeedEntry] = []
    listings = {
        listing.id: listing
        for listing in db.session.scalars(
            select(Listing)
            .where(Listing.status == ListingStatus.PUBLISHED)
            .order_by(Listing.published_at.desc(), Listing.id.desc())
        )
    }
    for listing in sorted(listings.values(), key=lambda x: x.published_at, reverse=True)[:limit]:
        entries.append(
            FeedEntry("published", listing.published_at, listing, key=f"listing-{listing.id}")
        )
    for transition_id, listing_id, land, occurred_at in db.session.execute(
        select(
            ReuseTransition.id,
            Reuse.listing_id,
            Reuse.adopter_land_ags,
            ReuseTransition.occurred_at,
        )
        .join(Reuse, Reuse.id == ReuseTransition.reuse_id)
        .where(
            ReuseTransition.to_stage == ReuseStage.LIVE,
            Reuse.listing_id.in_(list(listings) or [-1]),
        )
        .order_by(ReuseTransition.occurred_at.desc(), ReuseTransition.id.desc())
        .limit(limit)
    ):
        entries.append(
            FeedEntry(
                "land_live", occurred_at, listings[listing_id], land, key=f"live-{transition_id}"
            )
        )
    # Go-lives entered late (dated weeks back) still reach the feed: ordered by when
    # they were recorded; a second batch of the same day updates the entry.
    recorded = func.max(RolloutEvent.recorded_at)
    for reuse_id, listing_id, land, on, count, recorded_at in db.session.execute(
        select(
            Reuse.id,
            Reuse.listing_id,
            Reuse.adopter_land_ags,
            RolloutEvent.on,
            func.count(),
            recorded,
        )
        .select_from(RolloutEvent)
        .join(Rollout, Rollout.id == RolloutEvent.rollout_id)
        .join(Reuse, Reuse.id == Rollout.reuse_id)
        .where(
            RolloutEvent.to_status == RolloutStatus.LIVE,
            Reuse.listing_id.in_(list(listings) or [-1]),
        )
        .group_by(Reuse.id, Reuse.listing_id, Reuse.adopter_land_ags, RolloutEvent.on)
        .order_by(recorded.desc(), Reuse.id.desc())
        .limit(limit)
    ):
        entries.append(
            FeedEntry(
                "authorities_live",
                recorded_at,
                listings[listing_id],
                land,
                count,
                key=f"rollout-{reuse_id}-{on.isoformat()}",
                on=on,
            )
        )
    entries.sort(key=lambda e: (e.when, e.key), reverse=True)
    return entries[:limit]


# --- public dashboard ---

_KREIS_NAMES: dict[str, str] = {}


def kreis_names() -> dict[str, str]:
    """Kreis key -> official name from kreise.csv, read once per process (no query).

    The map file names a kreisfreie Stadt and the Landkreis around it alike (two
    "Osnabrück", two "München"); kreise.csv tells them apart ("Osnabrück, Stadt")."""
    import csv

    if not _KREIS_NAMES:
        path = reference.DATA_DIR / "kreise.csv"
        with open(path, encoding="utf-8", newline="") as handle:
            _KREIS_NAMES.update(
                {row["AGS"]: row["name"] for row in csv.DictReader(handle, delimiter=";")}
            )
    return _KREIS_NAMES
