"""Where reuse shows: the Germany stage map of a listing, the "Mein Land" dashboard of a
Land and the FITKO overview (contract queue, stage counts, Länder x listings matrix).

Every page here runs a fixed number of SQL queries, whatever the number of reuses or
listings: the reuses service loads everything in bulk, and the Länder names for the
maps come from the map file, not the database. Conditions and money never show here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import Blueprint, render_template
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from fitstore.blueprints._helpers import page_arg
from fitstore.extensions import db
from fitstore.models import (
    MAIN_LINE,
    Alliance,
    AllianceMembership,
    CostKeyDecision,
    CostKeyVote,
    DecisionStatus,
    Listing,
    ListingStatus,
    MembershipStatus,
    Reuse,
    ReuseStage,
)
from fitstore.models.base import utcnow
from fitstore.permissions import Permission, policy
from fitstore.services import listings, reference, reuses

bp = Blueprint("dashboards", __name__)

MATRIX_PER_PAGE = 50
PROVIDER_LABEL = _l("Bereitstellendes Land")
NO_REUSE_LABEL = _l("keine Nachnutzung")

# What the Land waiting on a reuse has to do next, by side and stage.
_PROVIDER_TODO = {
    ReuseStage.INTEREST: _l("Interessenbekundung beantworten: Abstimmung aufnehmen"),
    ReuseStage.COORDINATION: _l("Bedingungen vorschlagen"),
}
_ADOPTER_TODO = {
    ReuseStage.COORDINATION: _l("Bedingungen prüfen und verbindlich bestellen"),
    ReuseStage.CONTRACTED: _l("Technische Anbindung beginnen"),
    ReuseStage.CONNECTING: _l(
        "Checkliste der technischen Anbindung abarbeiten, dann Test beginnen"
    ),
    ReuseStage.TESTING: _l("Test abschließen und Produktivbetrieb melden"),
    ReuseStage.ON_HOLD: _l("Zurückgestellt: wieder aufnehmen, sobald es weitergeht"),
}


def reuse_path(reuse_id: int) -> str:
    return f"/nachnutzungen/{reuse_id}"


def contract_path(contract_id: int) -> str:
    return f"/vertraege/{contract_id}"


def alliance_path(listing_id: int) -> str:
    return f"/leistungen/{listing_id}/allianz"


def _stage_order() -> list[ReuseStage]:
    """All stages, main line first, then the side exits (the order of ``STAGE_LABELS``)."""
    return list(reuses.STAGE_LABELS)


# --- the Germany stage map (listing page; later the public dashboard) -------------------------


@dataclass(frozen=True)
class LandStage:
    ags: str
    name: str
    css: str  # stage--<stage>, stage--provider or stage--none
    label: str
    since: datetime | date | None

    @property
    def title(self) -> str:
        return f"{self.name}: {self.label}"


@dataclass(frozen=True)
class StageMap:
    view_box: str
    attribution: str
    areas: list[tuple[Any, LandStage]]  # (map area, its Land's stage), in drawing order
    legend: list[tuple[str, str]]  # (css class, label)

    @property
    def rows(self) -> list[LandStage]:
        return [land for _area, land in self.areas]


def stage_map(provider_land_ags: str | None, stages: dict[str, Any]) -> StageMap:
    """The 16 Länder coloured by their current stage (``stages``: {land_ags: reuse or any
    object with ``stage`` and ``stage_since``}); the provider Land apart. No query."""
    germany = reference.germany_map()
    areas = []
    occurring: set[ReuseStage] = set()
    for area in germany.areas:
        reuse = stages.get(area.ags)
        if area.ags == provider_land_ags:
            # The provider may also roll its own service out (a reuse of its own): the
            # colour stays "provider", the words tell the stage too.
            label = str(PROVIDER_LABEL)
            if reuse is not None:
                label = f"{label} ({reuses.stage_label(reuse.stage)})"
            since = reuse.stage_since if reuse is not None else None
            land = LandStage(area.ags, area.name, "stage--provider", label, since)
        elif reuse is None:
            land = LandStage(area.ags, area.name, "stage--none", str(NO_REUSE_LABEL), None)
        else:
            stage = ReuseStage(reuse.stage)
            occurring.add(stage)
            land = LandStage(
                area.ags, area.name, f"stage--{stage}", reuses.stage_label(stage), reuse.stage_since
            )
        areas.append((area, land))
    legend = [(f"stage--{s}", reuses.stage_label(s)) for s in _stage_order() if s in occurring]
    if provider_land_ags is not None:
        legend.append(("stage--provider", str(PROVIDER_LABEL)))
    legend.append(("stage--none", str(NO_REUSE_LABEL)))
    return StageMap(germany.view_box, germany.attribution, areas, legend)


def listing_stage_map(listing: Listing) -> StageMap | None:
    """The stage map of a published listing (one query); None for any other status."""
    if listing.status != ListingStatus.PUBLISHED:
        return None
    return stage_map(listing.provider_land_ags, reuses.land_stages(listing.id))


# --- "Mein Land" ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Todo:
    reuse: Reuse
    side: str  # "adopter" or "provider"
    action: str

    @property
    def path(self) -> str:
        return reuse_path(self.reuse.id)


def _todo(reuse: Reuse, side: str) -> Todo:
    todos = _PROVIDER_TODO if side == "provider" else _ADOPTER_TODO
    label = todos.get(ReuseStage(reuse.stage))
    return Todo(reuse, side, str(label) if label else reuses.stage_label(reuse.stage))


def open_cost_key_votes(land_ags: str) -> list[tuple[CostKeyDecision, Alliance]]:
    """Open cost-key decisions of the alliances the Land is a member of, where the Land
    has not voted yet (one query)."""
    voted = select(CostKeyVote.id).where(
        CostKeyVote.decision_id == CostKeyDecision.id, CostKeyVote.land_ags == land_ags
    )
    rows = db.session.execute(
        select(CostKeyDecision, Alliance)
        .join(Alliance, Alliance.id == CostKeyDecision.alliance_id)
        .join(AllianceMembership, AllianceMembership.alliance_id == Alliance.id)
        .where(
            AllianceMembership.land_ags == land_ags,
            AllianceMembership.status == MembershipStatus.MEMBER,
            CostKeyDecision.status == DecisionStatus.OPEN,
            ~voted.exists(),
        )
        .order_by(CostKeyDecision.proposed_at, CostKeyDecision.id)
    )
    return [(decision, alliance) for decision, alliance in rows]


# "Mein Land" pages its three lists separately; a link to another page of one list keeps
# the pages of the others.
WAITING_PAGE, REUSED_PAGE, PROVIDED_PAGE = "seite_wartet", "seite_nachnutzen", "seite_bereitstellen"
PAGE_PARAMS = (WAITING_PAGE, REUSED_PAGE, PROVIDED_PAGE)


@bp.get("/mein-land")
@policy(Permission.VIEW_LAND_DASHBOARD)
def land():
    pages = {name: page_arg(name) for name in PAGE_PARAMS}
    data = reuses.land_dashboard(
        current_user,
        waiting_page=pages[WAITING_PAGE],
        reused_page=pages[REUSED_PAGE],
        provided_page=pages[PROVIDED_PAGE],
    )
    names = {area.ags: area.name for area in reference.germany_map().areas}
    stages = _stage_order()

    # Each row names a stage and a status; translate each label once per page, not per row.
    stage_labels = {stage: reuses.stage_label(stage) for stage in ReuseStage}
    status_labels = {status: listings.status_label(status) for status in ListingStatus}
    return render_template(
        "dashboards/land.html",
        land_name=names.get(current_user.land_ags, current_user.land_ags),
        provided=[
            (listing, data["provided_counts"].get(listing.id, {}))
            for listing in data["provided"].items
        ],
        provided_page=data["provided"],
        stages=stages,
        stage_label=lambda stage: stage_labels[ReuseStage(stage)],
        status_label=lambda status: status_labels[ListingStatus(status)],
        reused=data["reused"],
        progress=data["progress"],
        waiting=data["waiting"],
        todos=[_todo(reuse, side) for reuse, side in data["waiting"].items],
        join_requests=data["join_requests"],
        votes=open_cost_key_votes(current_user.land_ags),
        reuse_path=reuse_path,
        alliance_path=alliance_path,
        page_params=PAGE_PARAMS,
        waiting_param=WAITING_PAGE,
        reused_param=REUSED_PAGE,
        provided_param=PROVIDED_PAGE,
    )


# --- FITKO ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueEntry:
    contract: Any
    days: int

    @property
    def path(self) -> str:
        return contract_path(self.contract.id)


def _queue(contracts, today: date) -> list[QueueEntry]:
    return [QueueEntry(c, max(0, (today - c.ordered_at.date()).days)) for c in contracts]


@bp.get("/fitko")
@policy(Permission.VIEW_FITKO_DASHBOARD)
def fitko():
    waiting_check, waiting_sign = reuses.contract_queue(current_user)
    today = utcnow().date()
    counts = reuses.stage_counts(current_user)
    laender, listings_page, cells = reuses.stage_matrix(
        current_user, page_arg(), per_page=MATRIX_PER_PAGE
    )
    return render_template(
        "dashboards/fitko.html",
        waiting_check=_queue(waiting_check, today),
        waiting_sign=_queue(waiting_sign, today),
        counts=[(stage, counts.get(str(stage), 0)) for stage in _stage_order()],
        total=sum(counts.values()),
        main_line=MAIN_LINE,
        laender=laender,
        listings=listings_page,
        cells=cells,
        stage_label=reuses.stage_label,
        no_reuse_label=str(NO_REUSE_LABEL),
    )
