"""Nachnutzungsallianz: the Länder reusing one listing, and their yearly cost key.

Rules (docs/domain.md, "Nachnutzungsallianz" and "Cost sharing"):

* One alliance per listing, led by the provider Land. It is created when first
  needed (the first join request or cost-key proposal) with the lead as its first
  member; until then a listing's alliance is the lead alone. Reading never writes.
* Membership: an editor of another Land asks to join (JOIN_ALLIANCE), an editor of
  the lead Land accepts or declines (LEAD_ALLIANCE). A Land that is a member or
  already waits for an answer cannot ask again (Conflict); after a refusal (or after
  leaving) it may ask again, and its row is reused. Only published listings take
  new members.
* Cost key, one decision per calendar year (2020 to this year + 5): the lead
  proposes a key and a funding model (LEAD_ALLIANCE); the proposal counts as the
  lead's approval. Every member votes once (VOTE_COST_KEY). When every current
  member has approved, the proposal is adopted; the first objection rejects it at
  once, since unanimity can no longer be reached, and the default key "usage"
  (tatsächliche Nutzung, IT-Planungsrat decision 2021/24) applies with the
  "participants" funding model. Decided is final: no more votes, no second
  proposal for that year.
* Key parameters: "mixed" takes {key: percent} over the other keys, percentages
  summing to exactly 100; "target_group" takes {Land AGS: weight}, no weight
  negative and at least one positive; the other keys take none.
* Visibility: whoever may see the listing sees which Länder are members and which
  of them are live. Members, the lead, FITKO and admins (VIEW_ALLIANCE_DETAILS)
  also see stages, rollout progress, contacts, join requests and decisions; a Land
  always sees its own join request.
* Every state change writes exactly one audit row and notifies the other side in
  the same transaction, then commits once.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from fitstore.errors import Conflict, Invalid, NotFound
from fitstore.extensions import db
from fitstore.models import (
    DEFAULT_COST_KEY,
    Alliance,
    AllianceMembership,
    CostKey,
    CostKeyDecision,
    CostKeyVote,
    DecisionStatus,
    FundingModel,
    Land,
    Listing,
    ListingStatus,
    MembershipStatus,
    Organisation,
    Reuse,
    ReuseStage,
    Role,
    Rollout,
    RolloutStatus,
    User,
    Vote,
)
from fitstore.models.base import is_id, utcnow
from fitstore.permissions import Permission, alliance_member_lands, can, require
from fitstore.services import audit, listings, notifications
from fitstore.services.reference import shipped_land_codes

MIN_YEAR = 2020
YEARS_AHEAD = 5
DEFAULT_FUNDING_MODEL = FundingModel.PARTICIPANTS
MAX_MESSAGE = 2000
MAX_RATIONALE = 2000
MAX_COMMENT = 1000  # CostKeyVote.comment is String(1000)
# Percentages of a mixed key: hundredths are precise enough and keep sums exact.
PERCENT_PLACES = 2
# Target-group weights: as precise as the stored cost-key values (Numeric(18, 5)).
WEIGHT_PLACES = 5
MAX_WEIGHT = Decimal(10) ** 12


def max_year() -> int:
    return utcnow().year + YEARS_AHEAD


# --- labels ---------------------------------------------------------------------------------


def cost_key_label(key: CostKey | str) -> str:
    return {
        CostKey.KOENIGSTEIN: _("Königsteiner Schlüssel"),
        CostKey.POPULATION: _("Einwohnerzahl"),
        CostKey.USAGE: _("Tatsächliche Nutzung"),
        CostKey.TARGET_GROUP: _("Zielgruppe (eigene Gewichte je Land)"),
        CostKey.EQUAL: _("Gleiche Teile"),
        CostKey.MIXED: _("Mischschlüssel"),
    }[CostKey(key)]


def funding_model_label(model: FundingModel | str) -> str:
    return {
        FundingModel.PARTICIPANTS: _("Beteiligte Länder tragen 100 %"),
        FundingModel.EFA_2024: _(
            "EfA-Finanzierung 2024: 50 % Beteiligte, 25 % Bund, 25 % alle Länder nach Königsteiner Schlüssel"
        ),
    }[FundingModel(model)]


def decision_status_label(status: DecisionStatus | str) -> str:
    return {
        DecisionStatus.OPEN: _("Abstimmung läuft"),
        DecisionStatus.ADOPTED: _("Einstimmig angenommen"),
        DecisionStatus.REJECTED: _("Abgelehnt: Standardschlüssel gilt"),
    }[DecisionStatus(status)]


def land_ags_for(code: str | None) -> str | None:
    """AGS ("12"), ISO code ("DE-BB") or short code ("BB", any case) -> the Land's AGS."""
    if not isinstance(code, str):
        return None
    value = code.strip().upper()
    for ags, iso, short in shipped_land_codes():
        if value in (ags, iso.upper(), short.upper()):
            return ags
    return None


# --- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EffectiveCostKey:
    """The cost key that applies to a listing's costs in one year."""

    key: CostKey
    funding_model: FundingModel
    parameters: dict[str, Decimal]
    decided: bool
    source: str


@dataclass(frozen=True)
class Member:
    """One member Land as the members table shows it.

    Without VIEW_ALLIANCE_DETAILS only ``land``, ``is_lead`` and ``live`` are filled."""

    land: Land
    is_lead: bool
    live: bool
    since: datetime | None = None
    stage: ReuseStage | None = None
    rollout_live: int = 0
    rollout_total: int = 0
    contact_name: str = ""
    contact_email: str = ""


@dataclass
class MembersOverview:
    listing: Listing
    alliance: Alliance  # not yet stored (id None) while nobody needed it
    details: bool
    members: list[Member]


@dataclass
class DecisionView:
    decision: CostKeyDecision
    parameters: dict[str, Decimal]
    votes: list[CostKeyVote]
    waiting_for: list[str]  # AGS of members who have not voted on an open decision
    may_vote: bool = False


@dataclass
class AlliancePage:
    """Everything the alliance page shows, loaded in a fixed number of queries."""

    overview: MembersOverview
    own: AllianceMembership | None  # the actor's Land's membership or request
    pending: list[AllianceMembership] = field(default_factory=list)
    decisions: list[DecisionView] = field(default_factory=list)
    may_join: bool = False
    may_lead: bool = False
    may_vote: bool = False

    @property
    def listing(self) -> Listing:
        return self.overview.listing

    @property
    def details(self) -> bool:
        return self.overview.details


# --- loading --------------------------------------------------------------------------------


def _stored_alliance(listing_id: int) -> Alliance | None:
    return db.session.scalar(select(Alliance).where(Alliance.listing_id == listing_id))


def _unsaved(listing: Listing) -> Alliance:
    """The alliance a listing has before anybody needed it: the lead alone. Never added
    to the session; permission checks only read its lead and listing."""
    return Alliance(listing_id=listing.id, lead_land_ags=listing.provider_land_ags)


def _load(actor, listing_id: int) -> tuple[Listing, Alliance]:
    listing = listings.get_listing(actor, listing_id)  # NotFound when not visible
    return listing, _stored_alliance(listing.id) or _unsaved(listing)


def get_alliance(actor, listing_id: int) -> Alliance:
    """Permission VIEW_ALLIANCE: the listing's alliance, stored or (id None) not yet needed.
    NotFound when the actor may not see the listing."""
    require(actor, Permission.VIEW_ALLIANCE)
    return _load(actor, listing_id)[1]


def _store(alliance: Alliance, listing: Listing) -> Alliance:
    """Store a not-yet-needed alliance with the lead as its first member (no-op otherwise).
    Two first requests at once: the second fails on the unique listing (Conflict)."""
    if alliance.id is not None:
        return alliance
    now = utcnow()
    db.session.add(alliance)
    db.session.flush()
    db.session.add(
        AllianceMembership(
            alliance_id=alliance.id,
            land_ags=alliance.lead_land_ags,
            status=MembershipStatus.MEMBER,
            is_lead=True,
            # The lead leads since the listing was published.
            requested_at=listing.published_at or now,
            decided_at=listing.published_at or now,
        )
    )
    db.session.flush()
    return alliance


def _membership(alliance: Alliance, land_ags: str, *, lock: bool = False):
    if alliance.id is None:
        return None
    query = select(AllianceMembership).where(
        AllianceMembership.alliance_id == alliance.id, AllianceMembership.land_ags == land_ags
    )
    # OF: the joined-eager Land is on the nullable side of an outer join (PostgreSQL refuses).
    return db.session.scalar(query.with_for_update(of=AllianceMembership) if lock else query)


def _decision(alliance: Alliance, year, *, lock: bool = False) -> CostKeyDecision:
    if alliance.id is None or not is_id(year):
        raise NotFound()
    query = select(CostKeyDecision).where(
        CostKeyDecision.alliance_id == alliance.id, CostKeyDecision.year == year
    )
    decision = db.session.scalar(query.with_for_update(of=CostKeyDecision) if lock else query)
    if decision is None:
        raise NotFound()
    return decision


def _land_name(land_ags: str) -> str:
    land = db.session.get(Land, land_ags)
    return land.name if land else land_ags


def _link(listing: Listing) -> str:
    return f"/leistungen/{listing.id}/allianz"


def _editors(lands: Iterable[str], *, besides: User | None = None) -> list[User]:
    """The active editors acting for any of ``lands`` (one query), except ``besides``."""
    wanted = set(lands)
    if not wanted:
        return []
    users = db.session.scalars(
        select(User)
        .join(User.organisation)
        .where(
            Organisation.land_ags.in_(wanted),
            User.role == Role.EDITOR,
            User.active.is_(True),
        )
    )
    return [user for user in users if besides is None or user.id != besides.id]


def _conflict_on_race(use_case):
    """A concurrent writer surfaces as a unique violation (two first join requests, two
    proposals for one year) or a stale versioned row: both are a 409, never a 500."""

    @functools.wraps(use_case)
    def run(*args, **kwargs):
        try:
            return use_case(*args, **kwargs)
        except (IntegrityError, StaleDataError):
            db.session.rollback()
            raise Conflict(
                _(
                    "Jemand anderes hat die Allianz gleichzeitig geändert. Bitte laden Sie die Seite neu."
                )
            ) from None

    return run


# --- validation -----------------------------------------------------------------------------


def _text(value, name: str, maximum: int, errors: dict[str, list[str]]) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors[name] = [_("Bitte geben Sie einen Text an.")]
        return ""
    value = value.strip()
    if "\x00" in value:
        errors[name] = [_("Der Text enthält unzulässige Steuerzeichen.")]
    elif len(value) > maximum:
        errors[name] = [_("Bitte höchstens %(max)d Zeichen.", max=maximum)]
    return value


def _decimal(value) -> Decimal | None:
    """A number as given (int, Decimal, float, "12,5" or "12.5"); None if it is none."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(str(value))  # the number as written, not its binary approximation
    elif isinstance(value, str) and 0 < len(value.strip()) <= 40:
        try:
            number = Decimal(value.strip().replace(",", "."))
        except InvalidOperation:
            return None
    else:
        return None
    if not number.is_finite():
        return None
    # Weights are percentages or head counts: refuse absurd exponents before anything
    # formats the number out in full (1e-999999999 would be a gigabyte of digits).
    if number != 0 and not -12 <= number.adjusted() <= 18:
        return None
    return number


def _places(number: Decimal) -> int:
    exponent = number.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def plain(number: Decimal) -> str:
    """Decimal -> "50", "33.5": no exponent, no trailing zeros (stored JSON, messages)."""
    text = format(number, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _mixed_parameters(raw: dict, errors: dict[str, list[str]]) -> dict[str, str]:
    # Target-group weights are per Land and a mixed key has room for percentages only,
    # so a target-group component could never be computed.
    allowed = {key.value for key in CostKey if key not in (CostKey.MIXED, CostKey.TARGET_GROUP)}
    shares: dict[str, Decimal] = {}
    problems: list[str] = []
    for name, value in raw.items():
        if name not in allowed:
            problems.append(
                _(
                    "Unbekannter Schlüssel „%(key)s“; erlaubt: %(allowed)s.",
                    key=str(name)[:40],
                    allowed=", ".join(sorted(allowed)),
                )
            )
            continue
        number = _decimal(value)
        if number is None or not 0 <= number <= 100 or _places(number) > PERCENT_PLACES:
            problems.append(
                _(
                    "%(key)s: ein Anteil in Prozent zwischen 0 und 100 mit höchstens zwei Nachkommastellen.",
                    key=cost_key_label(name),
                )
            )
            continue
        shares[name] = number
    if not problems:
        total = sum(shares.values(), Decimal(0))
        if total != 100:
            problems.append(
                _(
                    "Die Anteile des Mischschlüssels müssen zusammen genau 100 %% ergeben; angegeben sind %(sum)s %%.",
                    sum=plain(total),
                )
            )
        elif sum(1 for share in shares.values() if share > 0) < 2:
            problems.append(_("Ein Mischschlüssel verbindet mindestens zwei Schlüssel."))
    if problems:
        errors["parameters"] = problems
    return {name: plain(share) for name, share in sorted(shares.items())}


def _target_group_parameters(raw: dict, errors: dict[str, list[str]]) -> dict[str, str]:
    weights: dict[str, Decimal] = {}
    problems: list[str] = []
    for code, value in raw.items():
        ags = land_ags_for(code)
        if ags is None:
            problems.append(
                _(
                    "Unbekanntes Land „%(code)s“: bitte AGS (z. B. 12) oder Kürzel (BB).",
                    code=str(code)[:40],
                )
            )
            continue
        number = _decimal(value)
        if (
            number is None
            or not 0 <= number < MAX_WEIGHT
            or _places(number) > WEIGHT_PLACES
            or ags in weights
        ):
            problems.append(
                _(
                    "%(land)s: ein Gewicht von 0 oder mehr mit höchstens fünf Nachkommastellen, einmal je Land.",
                    land=_land_name(ags),
                )
            )
            continue
        weights[ags] = number
    if not problems and not any(weight > 0 for weight in weights.values()):
        problems.append(_("Mindestens ein Land braucht ein Gewicht größer als 0."))
    if problems:
        errors["parameters"] = problems
    return {ags: plain(weight) for ags, weight in sorted(weights.items())}


def validate_proposal(
    year, key, funding_model, parameters=None, rationale=""
) -> tuple[int, CostKey, FundingModel, dict[str, str], str]:
    """Check a cost-key proposal; raise Invalid naming every wrong field, else return it clean
    (parameters as {name: plain decimal string}, the form they are stored in)."""
    errors: dict[str, list[str]] = {}
    if isinstance(year, str) and year.strip().isascii() and year.strip().isdigit():
        year = int(year.strip()) if len(year.strip()) < 6 else None
    latest = max_year()
    if isinstance(year, bool) or not isinstance(year, int) or not MIN_YEAR <= year <= latest:
        errors["year"] = [
            _("Bitte ein Jahr zwischen %(min)d und %(max)d.", min=MIN_YEAR, max=latest)
        ]
    try:
        key = CostKey(key)
    except ValueError:
        errors["key"] = [
            _(
                "Unbekannter Schlüssel. Erlaubt: %(values)s",
                values=", ".join(k.value for k in CostKey),
            )
        ]
        key = None
    try:
        funding_model = FundingModel(funding_model)
    except ValueError:
        errors["funding_model"] = [
            _(
                "Unbekanntes Finanzierungsmodell. Erlaubt: %(values)s",
                values=", ".join(m.value for m in FundingModel),
            )
        ]
        funding_model = None
    raw = parameters if parameters is not None else {}
    clean: dict[str, str] = {}
    if not isinstance(raw, dict):
        errors["parameters"] = [_("Die Parameter sind ein Objekt aus Namen und Zahlen.")]
    elif key == CostKey.MIXED:
        clean = _mixed_parameters(raw, errors)
    elif key == CostKey.TARGET_GROUP:
        clean = _target_group_parameters(raw, errors)
    elif raw and key is not None:
        errors["parameters"] = [
            _(
                "Der Schlüssel „%(key)s“ hat keine Parameter; nur Misch- und Zielgruppenschlüssel haben welche.",
                key=cost_key_label(key),
            )
        ]
    rationale = _text(rationale, "rationale", MAX_RATIONALE, errors)
    if errors:
        raise Invalid(errors=errors)
    return year, key, funding_model, clean, rationale


def parameters_of(decision: CostKeyDecision) -> dict[str, Decimal]:
    stored = json.loads(decision.key_parameters or "{}")
    return {name: Decimal(value) for name, value in stored.items()}


# --- membership -----------------------------------------------------------------------------


@_conflict_on_race
def request_join(actor, listing_id: int, message: str = "") -> AllianceMembership:
    """Permission JOIN_ALLIANCE (an editor of a Land other than the lead): ask to join.

    Raises NotFound (listing not visible), Forbidden, Invalid (message), Conflict (listing
    not published; the Land is a member or already waits for an answer). A Land that was
    declined or left asks again with its old row. Notifies the lead Land's editors."""
    listing, alliance = _load(actor, listing_id)
    require(actor, Permission.JOIN_ALLIANCE, alliance)
    errors: dict[str, list[str]] = {}
    message = _text(message, "message", MAX_MESSAGE, errors)
    if errors:
        raise Invalid(errors=errors)
    if listing.status != ListingStatus.PUBLISHED:
        raise Conflict(
            _("Einer Allianz können Sie nur bei einer veröffentlichten Leistung beitreten.")
        )
    membership = _membership(alliance, actor.land_ags, lock=True)
    if membership is not None and membership.status == MembershipStatus.MEMBER:
        raise Conflict(_("Ihr Land ist bereits Mitglied dieser Nachnutzungsallianz."))
    if membership is not None and membership.status == MembershipStatus.REQUESTED:
        raise Conflict(
            _(
                "Ihr Land hat den Beitritt bereits beantragt; die Leitung hat noch nicht entschieden."
            )
        )
    alliance = _store(alliance, listing)
    previous = membership.status.value if membership is not None else None
    if membership is None:
        membership = AllianceMembership(alliance_id=alliance.id, land_ags=actor.land_ags)
        db.session.add(membership)
    membership.status = MembershipStatus.REQUESTED
    membership.is_lead = False
    membership.requested_at = utcnow()
    membership.requested_by_id = actor.id
    membership.decided_at = None
    membership.decided_by_id = None
    membership.message = message
    db.session.flush()
    audit.record(
        actor,
        "alliance.join_requested",
        "alliance",
        alliance.id,
        land_ags=actor.land_ags,
        details={
            "listing": listing.id,
            "land": actor.land_ags,
            "message": message,
            "previous_status": previous,
        },
    )
    notifications.notify(
        _editors([alliance.lead_land_ags]),
        _(
            "Beitrittsanfrage: %(land)s möchte der Nachnutzungsallianz „%(title)s“ beitreten.",
            land=_land_name(actor.land_ags),
            title=listing.title,
        ),
        _link(listing),
    )
    db.session.commit()
    return membership


@_conflict_on_race
def decide_join(actor, listing_id: int, land_ags: str, accept: bool) -> AllianceMembership:
    """Permission LEAD_ALLIANCE (an editor of the lead Land): accept or decline a pending
    request. Raises NotFound (listing or Land unknown), Forbidden, Conflict (no pending
    request of that Land). Notifies the asking Land's editors."""
    listing, alliance = _load(actor, listing_id)
    require(actor, Permission.LEAD_ALLIANCE, alliance)
    land = db.session.get(Land, land_ags) if isinstance(land_ags, str) else None
    if land is None:
        raise NotFound()
    if not isinstance(accept, bool):
        raise Invalid(
            errors={"decision": [_("Bitte nehmen Sie die Anfrage an oder lehnen Sie sie ab.")]}
        )
    membership = _membership(alliance, land.ags, lock=True)
    if membership is None or membership.status != MembershipStatus.REQUESTED:
        raise Conflict(_("Von %(land)s liegt keine offene Beitrittsanfrage vor.", land=land.name))
    membership.status = MembershipStatus.MEMBER if accept else MembershipStatus.DECLINED
    membership.decided_at = utcnow()
    membership.decided_by_id = actor.id
    audit.record(
        actor,
        "alliance.join_accepted" if accept else "alliance.join_declined",
        "alliance",
        alliance.id,
        land_ags=land.ags,
        details={"listing": listing.id, "land": land.ags},
    )
    notifications.notify(
        _editors([land.ags]),
        _(
            "Ihr Land ist jetzt Mitglied der Nachnutzungsallianz „%(title)s“.",
            title=listing.title,
        )
        if accept
        else _(
            "Die Leitung der Nachnutzungsallianz „%(title)s“ hat Ihre Beitrittsanfrage abgelehnt.",
            title=listing.title,
        ),
        _link(listing),
    )
    db.session.commit()
    return membership


# --- cost key ---------------------------------------------------------------------------------


def _settle(decision: CostKeyDecision, members: set[str], approvals: set[str], objection: bool):
    """Close the decision once its outcome is certain; leave it open otherwise."""
    if objection:
        decision.status = DecisionStatus.REJECTED
        decision.outcome_key = DEFAULT_COST_KEY
    elif members <= approvals:
        decision.status = DecisionStatus.ADOPTED
        decision.outcome_key = decision.proposed_key
    else:
        return
    decision.decided_at = utcnow()


def _outcome_details(decision: CostKeyDecision) -> dict[str, Any]:
    return {
        "status": decision.status.value,
        "outcome_key": decision.outcome_key.value if decision.outcome_key else None,
    }


@_conflict_on_race
def propose_cost_key(
    actor,
    listing_id: int,
    year: int,
    key: str,
    funding_model: str,
    parameters: dict | None = None,
    rationale: str = "",
) -> CostKeyDecision:
    """Permission LEAD_ALLIANCE: propose the cost key of ``year``; the proposal is the lead's
    approval, so an alliance of the lead alone adopts it at once.

    Raises NotFound, Forbidden, Invalid (year, key, funding model, parameters, rationale),
    Conflict (a decision for that year exists; listing not published). Notifies the other
    members' editors."""
    listing, alliance = _load(actor, listing_id)
    require(actor, Permission.LEAD_ALLIANCE, alliance)
    year, key, funding_model, clean, rationale = validate_proposal(
        year, key, funding_model, parameters, rationale
    )
    if alliance.id is None and listing.status != ListingStatus.PUBLISHED:
        raise Conflict(_("Eine Allianz gibt es nur zu einer veröffentlichten Leistung."))
    if alliance.id is not None and db.session.scalar(
        select(CostKeyDecision.id).where(
            CostKeyDecision.alliance_id == alliance.id, CostKeyDecision.year == year
        )
    ):
        raise Conflict(
            _("Für %(year)d gibt es bereits einen Vorschlag zum Kostenschlüssel.", year=year)
        )
    alliance = _store(alliance, listing)
    decision = CostKeyDecision(
        alliance_id=alliance.id,
        year=year,
        proposed_key=key,
        key_parameters=json.dumps(clean, sort_keys=True),
        funding_model=funding_model,
        status=DecisionStatus.OPEN,
        proposed_by_id=actor.id,
        proposed_at=utcnow(),
        rationale=rationale,
    )
    db.session.add(decision)
    db.session.flush()
    db.session.add(
        CostKeyVote(
            decision_id=decision.id,
            land_ags=alliance.lead_land_ags,
            vote=Vote.APPROVE,
            voted_by_id=actor.id,
        )
    )
    members = alliance_member_lands(listing.id)
    _settle(decision, members, {alliance.lead_land_ags}, objection=False)
    audit.record(
        actor,
        "alliance.cost_key_proposed",
        "alliance",
        alliance.id,
        land_ags=alliance.lead_land_ags,
        details={
            "listing": listing.id,
            "decision": decision.id,
            "year": year,
            "key": key.value,
            "funding_model": funding_model.value,
            "parameters": clean,
            **_outcome_details(decision),
        },
    )
    notifications.notify(
        _editors(members - {alliance.lead_land_ags}),
        _(
            "Kostenschlüssel %(year)d der Nachnutzungsallianz „%(title)s“: Die Leitung schlägt „%(key)s“ vor. Bitte stimmen Sie zu oder widersprechen Sie.",
            year=year,
            title=listing.title,
            key=cost_key_label(key),
        ),
        _link(listing),
    )
    db.session.commit()
    return decision


@_conflict_on_race
def vote(actor, listing_id: int, year: int, vote: str, comment: str = "") -> CostKeyDecision:
    """Permission VOTE_COST_KEY (an editor of a member Land): approve or object, once.

    The last missing approval adopts the proposal; the first objection rejects it and the
    default key applies. Raises NotFound (no such decision), Forbidden, Invalid (vote,
    comment), Conflict (already decided; the Land has voted). The outcome is part of the
    vote's audit row. Notifies the lead, or every member once the decision is made."""
    listing, alliance = _load(actor, listing_id)
    require(actor, Permission.VOTE_COST_KEY, alliance)
    errors: dict[str, list[str]] = {}
    try:
        choice = Vote(vote)
    except ValueError:
        errors["vote"] = [_("Bitte stimmen Sie zu oder widersprechen Sie.")]
    comment = _text(comment, "comment", MAX_COMMENT, errors)
    # Locked: two last approvals at once must not each miss the other and leave it open.
    decision = _decision(alliance, year, lock=True)
    if errors:
        raise Invalid(errors=errors)
    if decision.status != DecisionStatus.OPEN:
        raise Conflict(
            _("Über den Kostenschlüssel %(year)d ist bereits entschieden.", year=decision.year)
        )
    # While a decision is open, every vote cast so far is an approval.
    approvals = set(
        db.session.scalars(
            select(CostKeyVote.land_ags).where(CostKeyVote.decision_id == decision.id)
        )
    )
    if actor.land_ags in approvals:
        raise Conflict(_("Ihr Land hat zu diesem Vorschlag bereits abgestimmt."))
    db.session.add(
        CostKeyVote(
            decision_id=decision.id,
            land_ags=actor.land_ags,
            vote=choice,
            comment=comment,
            voted_by_id=actor.id,
        )
    )
    if choice == Vote.APPROVE:
        approvals.add(actor.land_ags)
    members = alliance_member_lands(listing.id)
    _settle(decision, members, approvals, objection=choice == Vote.OBJECT)
    audit.record(
        actor,
        "alliance.cost_key_voted",
        "alliance",
        alliance.id,
        land_ags=actor.land_ags,
        details={
            "listing": listing.id,
            "decision": decision.id,
            "year": decision.year,
            "vote": choice.value,
            "comment": comment,
            **_outcome_details(decision),
        },
    )
    if decision.status == DecisionStatus.OPEN:
        recipients = _editors([alliance.lead_land_ags], besides=actor)
        message = _(
            "%(land)s hat dem Kostenschlüssel %(year)d der Nachnutzungsallianz „%(title)s“ zugestimmt.",
            land=_land_name(actor.land_ags),
            year=decision.year,
            title=listing.title,
        )
    else:
        recipients = _editors(members, besides=actor)
        message = (
            _(
                "Kostenschlüssel %(year)d der Nachnutzungsallianz „%(title)s“ einstimmig beschlossen: %(key)s.",
                year=decision.year,
                title=listing.title,
                key=cost_key_label(decision.proposed_key),
            )
            if decision.status == DecisionStatus.ADOPTED
            else _(
                "Kostenschlüssel %(year)d der Nachnutzungsallianz „%(title)s“: %(land)s hat widersprochen; es gilt der Standardschlüssel „Tatsächliche Nutzung“.",
                year=decision.year,
                title=listing.title,
                land=_land_name(actor.land_ags),
            )
        )
    notifications.notify(recipients, message, _link(listing))
    db.session.commit()
    return decision


def effective_cost_key(listing_id: int, year: int) -> EffectiveCostKey:
    """The key, funding model and parameters that apply to ``year`` (no permission: the
    cost-sharing computation asks). Without a decision, or while it is open, the default
    key "usage" with "participants" applies; ``decided`` says whether that is final."""
    return effective_cost_keys([listing_id], year)[listing_id]


def effective_cost_keys(listing_ids: Iterable[int], year: int) -> dict[int, EffectiveCostKey]:
    """``effective_cost_key`` for many listings of one year at once (one query)."""
    ids = list(listing_ids)
    decisions = dict(
        db.session.execute(
            select(Alliance.listing_id, CostKeyDecision)
            .join(Alliance, Alliance.id == CostKeyDecision.alliance_id)
            .where(Alliance.listing_id.in_(ids), CostKeyDecision.year == year)
        ).all()
    )
    return {listing_id: _effective(decisions.get(listing_id), year) for listing_id in ids}


def _effective(decision: CostKeyDecision | None, year: int) -> EffectiveCostKey:
    default = _("Standardschlüssel „Tatsächliche Nutzung“ (IT-Planungsrat, Beschluss 2021/24)")
    if decision is None:
        return EffectiveCostKey(
            DEFAULT_COST_KEY,
            DEFAULT_FUNDING_MODEL,
            {},
            False,
            _("Kein Beschluss der Allianz für %(year)d: %(default)s.", year=year, default=default),
        )
    if decision.status == DecisionStatus.OPEN:
        return EffectiveCostKey(
            DEFAULT_COST_KEY,
            DEFAULT_FUNDING_MODEL,
            {},
            False,
            _(
                "Die Abstimmung über %(year)d läuft noch; bis dahin gilt der %(default)s.",
                year=year,
                default=default,
            ),
        )
    decided_on = format_date(decision.decided_at, "medium") if decision.decided_at else ""
    if decision.status == DecisionStatus.ADOPTED:
        return EffectiveCostKey(
            decision.outcome_key or decision.proposed_key,
            decision.funding_model,
            parameters_of(decision),
            True,
            _("Einstimmiger Beschluss der Allianz vom %(date)s.", date=decided_on),
        )
    return EffectiveCostKey(
        DEFAULT_COST_KEY,
        DEFAULT_FUNDING_MODEL,
        {},
        True,
        _(
            "Vorschlag am %(date)s durch Widerspruch abgelehnt: %(default)s.",
            date=decided_on,
            default=default,
        ),
    )


# --- reading --------------------------------------------------------------------------------


def _all_memberships(alliance: Alliance) -> list[AllianceMembership]:
    """Every row of the alliance, whatever its status, with Land and requester (one query)."""
    if alliance.id is None:
        return []
    return list(
        db.session.scalars(
            select(AllianceMembership)
            .where(AllianceMembership.alliance_id == alliance.id)
            .options(joinedload(AllianceMembership.requested_by))
            .order_by(AllianceMembership.land_ags)
        )
    )


def _reuse_figures(listing_id: int) -> dict[str, tuple[ReuseStage, int, int]]:
    """Per adopter Land: its current reuse's stage, live and total rollouts (one query)."""
    live = func.count(case((Rollout.status == RolloutStatus.LIVE, Rollout.id)))
    rows = db.session.execute(
        select(Reuse.adopter_land_ags, Reuse.stage, live, func.count(Rollout.id))
        .outerjoin(Rollout, Rollout.reuse_id == Reuse.id)
        .where(Reuse.listing_id == listing_id)
        .group_by(Reuse.id, Reuse.adopter_land_ags, Reuse.stage)
        .order_by(Reuse.id)
    )
    # A closed reuse may be followed by a new one: the newest is the current.
    return {land: (stage, live_count, total) for land, stage, live_count, total in rows}


def _overview(
    actor, listing: Listing, alliance: Alliance, rows: list[AllianceMembership]
) -> MembersOverview:
    details = can(actor, Permission.VIEW_ALLIANCE_DETAILS, alliance)
    figures = _reuse_figures(listing.id)
    members = [row for row in rows if row.status == MembershipStatus.MEMBER]
    # (Land, is lead, member since, the user who asked to join)
    entries = [(row.land, row.is_lead, row.decided_at, row.requested_by) for row in members]
    if not entries:  # not stored yet: the lead alone
        entries = [(listing.provider_land, True, listing.published_at, None)]
    result = []
    for land, is_lead, since, requester in entries:
        stage, rollout_live, rollout_total = figures.get(land.ags, (None, 0, 0))
        # The provider runs the published service itself; adopters are live at stage "live".
        live = listing.status == ListingStatus.PUBLISHED if is_lead else stage == ReuseStage.LIVE
        if not details:
            result.append(Member(land=land, is_lead=is_lead, live=live))
            continue
        if is_lead:
            contact_name, contact_email = listing.contact_name, listing.contact_email
        elif requester is not None:
            contact_name, contact_email = requester.name, requester.email
        else:
            contact_name, contact_email = "", ""
        result.append(
            Member(
                land=land,
                is_lead=is_lead,
                live=live,
                since=since,
                stage=stage,
                rollout_live=rollout_live,
                rollout_total=rollout_total,
                contact_name=contact_name or "",
                contact_email=contact_email or "",
            )
        )
    # The lead first, then the Länder by name.
    result.sort(key=lambda member: (not member.is_lead, member.land.name))
    return MembersOverview(listing, alliance, details, result)


def members_overview(actor, listing_id: int) -> MembersOverview:
    """Permission VIEW_ALLIANCE: the member Länder and who of them is live; with
    VIEW_ALLIANCE_DETAILS also since when, reuse stage, rollout progress and contact.
    A fixed number of queries, whatever the number of members."""
    require(actor, Permission.VIEW_ALLIANCE)
    listing, alliance = _load(actor, listing_id)
    return _overview(actor, listing, alliance, _all_memberships(alliance))


def _pending(rows: list[AllianceMembership]) -> list[AllianceMembership]:
    pending = [row for row in rows if row.status == MembershipStatus.REQUESTED]
    return sorted(pending, key=lambda row: row.requested_at)


def pending_requests(actor, listing_id: int) -> list[AllianceMembership]:
    """Permission VIEW_ALLIANCE_DETAILS: join requests waiting for the lead, oldest first."""
    listing, alliance = _load(actor, listing_id)
    require(actor, Permission.VIEW_ALLIANCE_DETAILS, alliance, hide=True)
    return _pending(_all_memberships(alliance))


def _decision_views(
    actor, alliance: Alliance, members: set[str], may_vote: bool
) -> list[DecisionView]:
    if alliance.id is None:
        return []
    views = []
    for decision in db.session.scalars(
        select(CostKeyDecision)
        .where(CostKeyDecision.alliance_id == alliance.id)
        .options(selectinload(CostKeyDecision.votes))
        .order_by(CostKeyDecision.year.desc())
    ):
        voted = {cast.land_ags for cast in decision.votes}
        is_open = decision.status == DecisionStatus.OPEN
        views.append(
            DecisionView(
                decision=decision,
                parameters=parameters_of(decision),
                votes=list(decision.votes),
                waiting_for=sorted(members - voted) if is_open else [],
                may_vote=may_vote and is_open and actor.land_ags not in voted,
            )
        )
    return views


def decisions(actor, listing_id: int) -> list[DecisionView]:
    """Permission VIEW_ALLIANCE_DETAILS: the cost-key decisions, newest year first, with votes."""
    listing, alliance = _load(actor, listing_id)
    require(actor, Permission.VIEW_ALLIANCE_DETAILS, alliance, hide=True)
    rows = _all_memberships(alliance)
    members = {row.land_ags for row in rows if row.status == MembershipStatus.MEMBER}
    return _decision_views(actor, alliance, members, can(actor, Permission.VOTE_COST_KEY, alliance))


def alliance_page(actor, listing_id: int) -> AlliancePage:
    """Permission VIEW_ALLIANCE: everything the alliance page and the API show the actor, in a
    fixed number of queries. Details only with VIEW_ALLIANCE_DETAILS; a Land's own request
    always."""
    require(actor, Permission.VIEW_ALLIANCE)
    listing, alliance = _load(actor, listing_id)
    rows = _all_memberships(alliance)
    overview = _overview(actor, listing, alliance, rows)
    own_land = (
        getattr(actor, "land_ags", None) if getattr(actor, "is_authenticated", False) else None
    )
    own = next((row for row in rows if own_land and row.land_ags == own_land), None)
    may_vote = can(actor, Permission.VOTE_COST_KEY, alliance)
    page = AlliancePage(
        overview=overview,
        own=own,
        may_join=can(actor, Permission.JOIN_ALLIANCE, alliance)
        and listing.status == ListingStatus.PUBLISHED,
        may_lead=can(actor, Permission.LEAD_ALLIANCE, alliance),
        may_vote=may_vote,
    )
    if overview.details:
        members = {row.land_ags for row in rows if row.status == MembershipStatus.MEMBER}
        members = members or {alliance.lead_land_ags}
        page.pending = _pending(rows)
        page.decisions = _decision_views(actor, alliance, members, may_vote)
    return page
