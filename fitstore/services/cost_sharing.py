"""Cost sharing: the yearly cost plans of the listings and who pays how many cents.

The provider Land keeps a cost plan per listing and calendar year: line items by cost
type (``CostPlanItem``). Its total is split by the pure engine ``fitstore.costs`` among
the payers of the year, with

- the **key and funding model** the listing's alliance adopted for the year, or the
  default "usage" / "participants" (``alliances.effective_cost_keys``);
- the **participants** of the year (domain rule 1): every Land whose SaaS contract is
  in force in some month of the year, counted in months (rule 3), and the provider when
  it runs the service itself (Eigennutzung, from its recorded start);
- the **key data** of exactly that year: Königsteiner Schlüssel and Einwohner
  (``CostKeyValue``), the usage figures of the listing (``UsageFigure``), or the
  target-group weights of the alliance's decision. A year without key data is refused,
  never computed with another year's figures, so a split stays reproducible.

``year_splits`` computes the splits of many listings of one year in a constant number
of queries; the listing page, the Land statement, the API and the benchmark all go
through it, so every output shows the same cents. ``simulate`` recomputes a listing's
split with changed participants, months, key or funding model and never writes.

Bad input (a missing plan, missing key data, no participant, ...) does not raise from
the read functions: the split carries a ``problem`` in words saying what to fix, so the
page can say it and the statement can list the listing as not computable.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm.exc import StaleDataError

from fitstore import costs
from fitstore.errors import Conflict, Invalid, NotFound, PreconditionFailed
from fitstore.extensions import db
from fitstore.models import (
    CostKeyValue,
    CostPlanItem,
    CostType,
    Land,
    Listing,
    Reuse,
    ReuseStage,
    UsageFigure,
)
from fitstore.models.alliance import CostKey, FundingModel
from fitstore.models.base import is_id, utcnow
from fitstore.models.reuse import Contract
from fitstore.permissions import Permission, alliance_member_lands, can, require
from fitstore.services import alliances as alliance_service
from fitstore.services import audit
from fitstore.services.cost_data import parse_year
from fitstore.services.exports import neutralise
from fitstore.services.listings import BIGINT_MAX

COST_TYPE_LABELS = {
    CostType.INFRASTRUCTURE: _l("Betrieb technische Infrastruktur"),
    CostType.DEVELOPMENT: _l("Fachliche Weiterentwicklung"),
    CostType.PLATFORM_FEES: _l("Plattformentgelte"),
    CostType.SERVICE_OPERATION: _l("Betrieb Online-Dienst"),
    CostType.DIRECT: _l("Direkte Kosten"),
}
POOL_LABELS = {
    "participants": _l("Beteiligte Länder nach Schlüssel"),
    "bund": _l("Bund"),
    "laender": _l("Alle 16 Länder nach Königsteiner Schlüssel"),
}
MIN_YEAR, MAX_YEAR = 2000, 2100
MAX_DESCRIPTION = 200
MAX_ITEMS_PER_PLAN = 100
# Own use counts from here when the provider recorded no start (never in practice).
_OWN_USE_STAGES = (ReuseStage.LIVE, ReuseStage.ON_HOLD, ReuseStage.TERMINATED)


def cost_type_label(cost_type: CostType | str) -> str:
    return str(COST_TYPE_LABELS.get(CostType(cost_type), cost_type))


def pool_label(name: str) -> str:
    return str(POOL_LABELS.get(name, name))


def payer_name(payer: str, lands: Mapping[str, str] | None = None) -> str:
    if payer == costs.BUND:
        return _("Bund")
    if lands and payer in lands:
        return lands[payer]
    return costs.LAENDER.get(payer, payer)


# --- results --------------------------------------------------------------------------


@dataclass(frozen=True)
class ParticipantInfo:
    """A participant of a year: why it takes part and in which months."""

    land_ags: str
    months: int
    #: the calendar months (1-12) of the year in force
    month_numbers: tuple[int, ...]
    own_use: bool
    #: contract numbers (or nothing for own use) that put the Land in force
    contracts: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None


@dataclass(frozen=True)
class PayerRow:
    """One payer's line of the split table, summed over the pools."""

    payer: str
    name: str
    participant: bool
    #: the key weight (the combined share for ``mixed``), exact
    weight: Fraction | None
    months: int | None
    #: renormalised share of the participants' pool, exact (0..1)
    share: Fraction | None
    participants_cents: int
    laender_cents: int
    bund_cents: int
    cents: int


@dataclass
class ListingSplit:
    """A listing's cost split of one year, with everything that explains it."""

    listing: Listing
    year: int
    total_cents: int
    cost_key: alliance_service.EffectiveCostKey
    participants: list[ParticipantInfo]
    key_data: dict[str, dict[str, Decimal]]
    items: list[CostPlanItem] = field(default_factory=list)
    has_plan: bool = False
    split: costs.Split | None = None
    problem: str | None = None
    problem_field: str | None = None
    warnings: list[str] = field(default_factory=list)
    simulated: bool = False

    @property
    def key(self) -> str:
        return str(self.cost_key.key)

    @property
    def funding_model(self) -> str:
        return str(self.cost_key.funding_model)

    @property
    def mix(self) -> dict[str, Decimal]:
        return dict(self.cost_key.parameters) if self.key == CostKey.MIXED else {}

    def rows(self) -> list[PayerRow]:
        """Participants by AGS, then other Länder paying only the all-Länder pool, then
        the Bund (empty without a split)."""
        if self.split is None:
            return []
        per_pool: dict[str, dict[str, costs.Line]] = {
            pool.name: {line.payer: line for line in pool.lines} for pool in self.split.pools
        }
        taking_part = per_pool.get("participants", {})
        rows = []
        for payer, cents in self.split.cents.items():
            line = taking_part.get(payer)
            rows.append(
                PayerRow(
                    payer=payer,
                    name=payer_name(payer),
                    participant=line is not None,
                    weight=line.weight if line else None,
                    months=line.months if line else None,
                    share=line.share if line else None,
                    participants_cents=line.cents if line else 0,
                    laender_cents=_cents_of(per_pool.get("laender", {}), payer),
                    bund_cents=_cents_of(per_pool.get("bund", {}), payer),
                    cents=cents,
                )
            )
        rows.sort(key=lambda row: (not row.participant, row.payer == costs.BUND, row.payer))
        return rows

    def cents_of(self, payer: str) -> int:
        return self.split.cents.get(payer, 0) if self.split else 0


def _cents_of(lines: Mapping[str, costs.Line], payer: str) -> int:
    line = lines.get(payer)
    return line.cents if line else 0


# --- participants ---------------------------------------------------------------------


def _months_in_force(start: date, end: date | None, year: int) -> set[int]:
    count = costs.month_count(start, end, year)
    if not count:
        return set()
    first = start.month if start.year == year else 1
    return set(range(first, first + count))


def _participants_of(listing_ids: list[int], year: int) -> dict[int, list[ParticipantInfo]]:
    """Participants per listing for ``year`` (one query). A Land with several contracts
    in the year (one terminated, a new one later) counts each month once."""
    rows = db.session.execute(
        select(
            Reuse.listing_id,
            Reuse.adopter_land_ags,
            Reuse.stage,
            Reuse.planned_start,
            Reuse.terminated_on,
            Reuse.created_at,
            Listing.provider_land_ags,
            Contract.number,
            Contract.effective_date,
            Contract.ended_on,
        )
        .join(Listing, Listing.id == Reuse.listing_id)
        .outerjoin(Contract, Contract.reuse_id == Reuse.id)
        .where(
            Reuse.listing_id.in_(listing_ids),
            or_(
                Contract.effective_date.is_not(None),
                Reuse.adopter_land_ags == Listing.provider_land_ags,
            ),
        )
        .order_by(Reuse.listing_id, Reuse.adopter_land_ags, Reuse.id)
    )
    months: dict[tuple[int, str], set[int]] = defaultdict(set)
    numbers: dict[tuple[int, str], list[str]] = defaultdict(list)
    own: set[tuple[int, str]] = set()
    spans: dict[tuple[int, str], list[tuple[date, date | None]]] = defaultdict(list)
    for row in rows:
        pair = (row.listing_id, row.adopter_land_ags)
        if row.adopter_land_ags == row.provider_land_ags and row.effective_date is None:
            if row.stage not in _OWN_USE_STAGES:
                continue
            start = row.planned_start or row.created_at.date()
            end = row.terminated_on
            is_own = True
        else:
            start = row.effective_date
            end = row.ended_on or row.terminated_on
            is_own = False
        in_force = _months_in_force(start, end, year)
        if not in_force:
            continue
        months[pair] |= in_force
        spans[pair].append((start, end))
        if is_own:
            own.add(pair)
        else:
            numbers[pair].append(row.number)
    result: dict[int, list[ParticipantInfo]] = {listing_id: [] for listing_id in listing_ids}
    for (listing_id, ags), in_force in sorted(months.items()):
        starts = [start for start, _end in spans[(listing_id, ags)]]
        ends = [end for _start, end in spans[(listing_id, ags)]]
        result[listing_id].append(
            ParticipantInfo(
                land_ags=ags,
                months=len(in_force),
                month_numbers=tuple(sorted(in_force)),
                own_use=(listing_id, ags) in own,
                contracts=tuple(numbers.get((listing_id, ags), ())),
                since=min(starts),
                until=None if any(end is None for end in ends) else max(ends),
            )
        )
    return result


# --- key data -------------------------------------------------------------------------


def _key_data_of_year(year: int) -> dict[str, dict[str, Decimal]]:
    """Königsteiner Schlüssel and Einwohner of exactly ``year`` (one query)."""
    data: dict[str, dict[str, Decimal]] = defaultdict(dict)
    for key, ags, value in db.session.execute(
        select(CostKeyValue.key, CostKeyValue.land_ags, CostKeyValue.value).where(
            CostKeyValue.year == year
        )
    ):
        data[key][ags] = Decimal(value)
    return dict(data)


def _usage_of(listing_ids: list[int], year: int) -> dict[int, dict[str, Decimal]]:
    usage: dict[int, dict[str, Decimal]] = defaultdict(dict)
    for listing_id, ags, cases in db.session.execute(
        select(UsageFigure.listing_id, UsageFigure.land_ags, UsageFigure.cases).where(
            UsageFigure.listing_id.in_(listing_ids), UsageFigure.year == year
        )
    ):
        usage[listing_id][ags] = Decimal(cases)
    return usage


def _components(key: str, mix: Mapping[str, Decimal]) -> list[str]:
    if key == CostKey.MIXED:
        return [name for name, percent in sorted(mix.items()) if percent > 0]
    return [key]


def _check_inputs(result: ListingSplit, year_data: Mapping[str, Mapping[str, Decimal]]):
    """The bad input the engine would refuse, said in the words of this application:
    what is missing and who can supply it. Sets ``problem`` (and returns False) or fills
    ``key_data`` with what the split reads and adds ``warnings``."""
    year = result.year
    if not result.has_plan and not result.simulated:
        return _refuse(
            result,
            "plan",
            _(
                "Für %(year)d gibt es noch keinen Kostenplan. Das bereitstellende Land "
                "erfasst die Kostenpositionen unter „Kostenplan“.",
                year=year,
            ),
        )
    if not any(p.months for p in result.participants):
        return _refuse(
            result,
            "participants",
            _(
                "Im Jahr %(year)d ist kein Nachnutzungsvertrag in Kraft und keine "
                "Eigennutzung erfasst: es gibt niemanden, auf den die Kosten verteilt "
                "werden könnten.",
                year=year,
            ),
        )
    taking_part = [p.land_ags for p in result.participants if p.months]
    needed = set(_components(result.key, result.mix))
    if result.funding_model == FundingModel.EFA_2024:
        needed.add(CostKey.KOENIGSTEIN)
    for key in sorted(needed):
        if key in (CostKey.KOENIGSTEIN, CostKey.POPULATION):
            values = dict(year_data.get(key, {}))
            if not values:
                return _refuse(
                    result,
                    "year",
                    _(
                        "Für %(year)d liegen keine Schlüsseldaten „%(key)s“ vor. Eine "
                        "Administratorin oder ein Administrator lädt sie unter "
                        "„Verwaltung → Schlüsseldaten“ hoch; bis dahin ist keine "
                        "Aufteilung möglich.",
                        year=year,
                        key=alliance_service.cost_key_label(key),
                    ),
                )
            result.key_data[key] = values
        elif key == CostKey.USAGE:
            values = dict(result.key_data.get(CostKey.USAGE, {}))
            if not any(values.get(ags, 0) > 0 for ags in taking_part):
                return _refuse(
                    result,
                    "usage",
                    _(
                        "Der Schlüssel „Tatsächliche Nutzung“ braucht Nutzungszahlen, "
                        "aber für %(year)d hat kein beteiligtes Land eine Zahl über 0 "
                        "erfasst. Die Länder tragen sie unter „Nutzungszahlen“ ein, oder "
                        "FITKO importiert sie als CSV.",
                        year=year,
                    ),
                )
            missing = [ags for ags in taking_part if ags not in values]
            if missing:
                result.warnings.append(
                    _(
                        "Ohne Nutzungszahl für %(year)d, daher mit 0 gezählt: %(lands)s.",
                        year=year,
                        lands=", ".join(payer_name(ags) for ags in missing),
                    )
                )
        elif key == CostKey.TARGET_GROUP:
            values = {
                ags: weight
                for ags, weight in result.cost_key.parameters.items()
                if result.key == CostKey.TARGET_GROUP
            }
            missing = [ags for ags in taking_part if ags not in values]
            if not missing and not any(values[ags] > 0 for ags in taking_part):
                return _refuse(
                    result,
                    "parameters",
                    _(
                        "Der Zielgruppenschlüssel gibt allen beteiligten Ländern das Gewicht 0; "
                        "so lässt sich nichts verteilen. Das federführende Land schlägt ihn mit "
                        "Gewichten über 0 neu vor."
                    ),
                )
            if missing:
                return _refuse(
                    result,
                    "parameters",
                    _(
                        "Der Zielgruppenschlüssel nennt kein Gewicht für %(lands)s. Das "
                        "federführende Land schlägt ihn mit Gewichten für alle "
                        "beteiligten Länder neu vor.",
                        lands=", ".join(payer_name(ags) for ags in missing),
                    ),
                )
            result.key_data[key] = values
    return True


def _refuse(result: ListingSplit, field_name: str, message: str) -> bool:
    result.problem = message
    result.problem_field = field_name
    return False


def _compute(result: ListingSplit, year_data: Mapping[str, Mapping[str, Decimal]]) -> None:
    if not _check_inputs(result, year_data):
        return
    request = costs.SplitRequest(
        total_cents=result.total_cents,
        participants=[costs.Participant(p.land_ags, p.months) for p in result.participants],
        key=result.key,
        funding_model=result.funding_model,
        key_data=result.key_data,
        mix=result.mix,
        year=result.year,
    )
    try:
        result.split = costs.split(request)
    except costs.CostError as error:  # what the checks above do not foresee
        _refuse(result, error.field, error.message)


# --- computing --------------------------------------------------------------------------


def _year_or_invalid(year: Any) -> int:
    errors: dict[str, list[str]] = {}
    value = parse_year(year, errors, MIN_YEAR, MAX_YEAR)
    if errors:
        raise Invalid(errors=errors)
    return value


def plan_totals(year: int, listing_ids: Iterable[int] | None = None) -> dict[int, int]:
    """The plan total per listing of ``year`` (one query; listings without items absent)."""
    query = (
        select(CostPlanItem.listing_id, func.sum(CostPlanItem.amount_cents))
        .where(CostPlanItem.year == year)
        .group_by(CostPlanItem.listing_id)
    )
    if listing_ids is not None:
        query = query.where(CostPlanItem.listing_id.in_(list(listing_ids)))
    return {listing_id: int(total) for listing_id, total in db.session.execute(query)}


def year_splits(year: int, listing_ids: Iterable[int] | None = None) -> dict[int, ListingSplit]:
    """The splits of ``year`` for the given listings, or for every listing with a cost
    plan in that year (no permission: callers check it; six queries whatever the
    number of listings)."""
    totals = plan_totals(year, listing_ids)
    ids = sorted(totals) if listing_ids is None else sorted(set(listing_ids))
    if not ids:
        return {}
    listings = {
        listing.id: listing
        for listing in db.session.scalars(select(Listing).where(Listing.id.in_(ids)))
    }
    ids = [listing_id for listing_id in ids if listing_id in listings]
    keys = alliance_service.effective_cost_keys(ids, year)
    participants = _participants_of(ids, year)
    usage = _usage_of(ids, year)
    year_data = _key_data_of_year(year)
    results = {}
    for listing_id in ids:
        result = ListingSplit(
            listing=listings[listing_id],
            year=year,
            total_cents=totals.get(listing_id, 0),
            cost_key=keys[listing_id],
            participants=participants[listing_id],
            key_data={CostKey.USAGE.value: usage.get(listing_id, {})},
            has_plan=listing_id in totals,
        )
        _compute(result, year_data)
        results[listing_id] = result
    return results


def _visible_listing(actor, listing_id: int) -> Listing:
    # The parties of a listing's costs keep seeing them after it is withdrawn: they are
    # billed for the year. Anybody else gets no hint that the costs exist.
    listing = db.session.get(Listing, listing_id) if is_id(listing_id) else None
    if listing is None or not can(actor, Permission.VIEW_COST_SPLIT, listing):
        raise NotFound()
    return listing


def contract_lands(actor, listing: Listing) -> set[str] | None:
    """Whose contract numbers and dates the actor may read beside a split's participants:
    all (None) for FITKO, admins, the provider and the alliance's members, who see the
    reuses anyway; otherwise only its own Land's, as on the reuse pages and API."""
    own = getattr(actor, "land_ags", None)
    if own is None or own == listing.provider_land_ags:
        return None  # FITKO and admins (who may see a split at all); a Land user has a Land
    if own in alliance_member_lands(listing.id):
        return None
    return {own}


def _items(listing_id: int, year: int) -> list[CostPlanItem]:
    return list(
        db.session.scalars(
            select(CostPlanItem)
            .where(CostPlanItem.listing_id == listing_id, CostPlanItem.year == year)
            .order_by(CostPlanItem.cost_type, CostPlanItem.id)
        )
    )


def listing_split(actor, listing_id: int, year: Any) -> ListingSplit:
    """The split of one listing and year with its plan items.

    Permission: VIEW_COST_SPLIT (provider, alliance members, participants, FITKO,
    admins); anyone else gets NotFound. Raises Invalid for a malformed year."""
    require(actor, Permission.VIEW_COST_SPLIT)
    listing = _visible_listing(actor, listing_id)
    year = _year_or_invalid(year)
    result = year_splits(year, [listing.id])[listing.id]
    result.items = _items(listing.id, year)
    return result


def plan_years(listing_id: int) -> list[int]:
    """The years for which a listing has a cost plan, newest first (one query)."""
    return list(
        db.session.scalars(
            select(CostPlanItem.year)
            .where(CostPlanItem.listing_id == listing_id)
            .distinct()
            .order_by(CostPlanItem.year.desc())
        )
    )


# --- simulation ---------------------------------------------------------------------


def _simulated_participants(raw: Any, errors: dict[str, list[str]]) -> list[ParticipantInfo]:
    if not isinstance(raw, list | tuple):
        errors["participants"] = [_("Bitte geben Sie die teilnehmenden Länder als Liste an.")]
        return []
    seen: dict[str, ParticipantInfo] = {}
    problems = []
    for entry in raw:
        land = entry.get("land") if isinstance(entry, Mapping) else None
        months = entry.get("months", 12) if isinstance(entry, Mapping) else None
        ags = alliance_service.land_ags_for(land) if isinstance(land, str) else None
        if ags is None:
            problems.append(
                _(
                    "Unbekanntes Land „%(code)s“: bitte AGS (z. B. 12) oder Kürzel (BB).",
                    code=str(land)[:40],
                )
            )
            continue
        if isinstance(months, bool) or not isinstance(months, int) or not 0 <= months <= 12:
            problems.append(
                _("%(land)s: Monate als ganze Zahl von 0 bis 12.", land=payer_name(ags))
            )
            continue
        if ags in seen:
            problems.append(_("%(land)s ist doppelt angegeben.", land=payer_name(ags)))
            continue
        seen[ags] = ParticipantInfo(
            land_ags=ags,
            months=months,
            month_numbers=tuple(range(13 - months, 13)),
            own_use=False,
        )
    if problems:
        errors["participants"] = problems
    return [seen[ags] for ags in sorted(seen)]


def simulate(
    actor,
    listing_id: int,
    year: Any,
    *,
    participants: Any = None,
    key: Any = None,
    funding_model: Any = None,
    parameters: Any = None,
    total_cents: Any = None,
) -> ListingSplit:
    """What-if: the listing's split of ``year`` with changed participants (a list of
    ``{"land": "13", "months": 9}``: the whole list, months counted from the end of the
    year), key, funding model, key parameters or total. Anything not given stays as it
    is. Never writes anything.

    Permission: VIEW_COST_SPLIT on the listing. Raises NotFound and Invalid (the field
    names of the arguments). An input the split cannot use (e.g. a year without key data)
    comes back as ``problem``, as for the real split."""
    require(actor, Permission.VIEW_COST_SPLIT)
    listing = _visible_listing(actor, listing_id)
    year = _year_or_invalid(year)
    result = year_splits(year, [listing.id])[listing.id]
    result.items = _items(listing.id, year)
    result.simulated = True
    result.problem = result.problem_field = None
    result.warnings = []
    result.split = None
    errors: dict[str, list[str]] = {}
    if participants is not None:
        result.participants = _simulated_participants(participants, errors)
    if total_cents is not None:
        if isinstance(total_cents, bool) or not isinstance(total_cents, int):
            errors["total_cents"] = [_("Bitte geben Sie den Betrag in Cent als ganze Zahl an.")]
        elif total_cents < 0:
            errors["total_cents"] = [_("Der Betrag darf nicht negativ sein.")]
        elif total_cents > BIGINT_MAX:
            errors["total_cents"] = [_too_large()]
        else:
            result.total_cents = total_cents
    if key is not None or funding_model is not None or parameters is not None:
        chosen_key = key if key is not None else result.key
        chosen_model = funding_model if funding_model is not None else result.funding_model
        chosen_parameters = parameters
        if chosen_parameters is None and chosen_key == result.key:
            chosen_parameters = {
                name: str(value) for name, value in result.cost_key.parameters.items()
            }
        try:
            _year, clean_key, clean_model, clean_parameters, _rationale = (
                # Any year with key data may be simulated, not only the years an alliance
                # may still vote on: validate the key with a year that always passes.
                alliance_service.validate_proposal(
                    alliance_service.MIN_YEAR,
                    chosen_key,
                    chosen_model,
                    chosen_parameters or {},
                    "",
                )
            )
        except Invalid as invalid:
            errors.update(invalid.errors or {})
        else:
            result.cost_key = alliance_service.EffectiveCostKey(
                clean_key,
                clean_model,
                {name: Decimal(value) for name, value in clean_parameters.items()},
                False,
                _("Simulation: nicht beschlossen."),
            )
    if errors:
        raise Invalid(errors=errors)
    if result.total_cents == 0 and not result.has_plan and total_cents is None:
        _refuse(
            result,
            "total_cents",
            _(
                "Für %(year)d gibt es noch keinen Kostenplan; geben Sie für die Simulation "
                "einen Gesamtbetrag an.",
                year=year,
            ),
        )
        return result
    _compute(result, _key_data_of_year(year))
    return result


def _max_cents() -> str:
    """The largest storable amount in cents, grouped for the page's language."""
    return format_decimal(BIGINT_MAX, format="#,##0")


def _too_large() -> str:
    return _(
        "Der Betrag ist zu groß: höchstens %(max)s Cent (der größte Wert, den die "
        "Datenbank genau speichert).",
        max=_max_cents(),
    )


# --- cost plan: editing -----------------------------------------------------------------


@dataclass
class CostPlan:
    listing: Listing
    year: int
    items: list[CostPlanItem]
    may_edit: bool

    @property
    def total_cents(self) -> int:
        return sum(item.amount_cents for item in self.items)

    def totals_by_type(self) -> list[tuple[CostType, int]]:
        sums: dict[CostType, int] = defaultdict(int)
        for item in self.items:
            sums[item.cost_type] += item.amount_cents
        return [(cost_type, sums[cost_type]) for cost_type in CostType if cost_type in sums]


def get_plan(actor, listing_id: int, year: Any) -> CostPlan:
    """A listing's cost plan of one year (Permission: VIEW_COST_SPLIT)."""
    require(actor, Permission.VIEW_COST_SPLIT)
    listing = _visible_listing(actor, listing_id)
    year = _year_or_invalid(year)
    return CostPlan(
        listing, year, _items(listing.id, year), can(actor, Permission.MANAGE_COST_PLAN, listing)
    )


def _editable_listing(actor, listing_id: int) -> Listing:
    listing = _visible_listing(actor, listing_id)
    require(actor, Permission.MANAGE_COST_PLAN, listing)
    return listing


def _item_fields(
    cost_type: Any, amount_cents: Any, description: Any, errors: dict[str, list[str]]
) -> tuple[CostType | None, int | None, str]:
    try:
        clean_type = CostType(cost_type)
    except ValueError:
        clean_type = None
        errors["cost_type"] = [
            _(
                "Bitte wählen Sie eine Kostenart: %(types)s.",
                types=", ".join(cost_type_label(t) for t in CostType),
            )
        ]
    clean_amount = None
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int):
        errors["amount_cents"] = [_("Bitte geben Sie den Betrag in Cent als ganze Zahl an.")]
    elif amount_cents < 0:
        errors["amount_cents"] = [_("Der Betrag darf nicht negativ sein.")]
    elif amount_cents > BIGINT_MAX:
        errors["amount_cents"] = [_too_large()]
    else:
        clean_amount = amount_cents
    if description is None:
        description = ""
    if not isinstance(description, str) or "\x00" in description:
        errors["description"] = [_("Bitte geben Sie einen Text an.")]
        description = ""
    description = description.strip()
    if len(description) > MAX_DESCRIPTION:
        errors["description"] = [_("Bitte höchstens %(max)d Zeichen.", max=MAX_DESCRIPTION)]
    return clean_type, clean_amount, description


def _check_plan_total(listing_id: int, year: int, change: int, errors) -> None:
    current = plan_totals(year, [listing_id]).get(listing_id, 0)
    if current + change > BIGINT_MAX:
        errors["amount_cents"] = [
            _(
                "Mit diesem Betrag überstiege die Summe des Kostenplans den größten Betrag, "
                "den die Datenbank genau speichert (%(max)s Cent). Bitte prüfen Sie den "
                "Betrag.",
                max=_max_cents(),
            )
        ]


def _item_details(item: CostPlanItem) -> dict[str, Any]:
    return {
        "year": item.year,
        "cost_type": str(item.cost_type),
        "amount_cents": item.amount_cents,
        "description": item.description,
    }


def add_plan_item(
    actor, listing_id: int, year: Any, cost_type: Any, amount_cents: Any, description: Any = ""
) -> CostPlanItem:
    """Add a line item to the listing's plan of ``year``.

    Permission: MANAGE_COST_PLAN (an editor of the provider Land). Raises NotFound,
    Forbidden and Invalid (``year``, ``cost_type``, ``amount_cents``, ``description``).
    One audit row."""
    listing = _editable_listing(actor, listing_id)
    year = _year_or_invalid(year)
    errors: dict[str, list[str]] = {}
    clean_type, amount, description = _item_fields(cost_type, amount_cents, description, errors)
    if amount is not None:
        _check_plan_total(listing.id, year, amount, errors)
    count = db.session.scalar(
        select(func.count(CostPlanItem.id)).where(
            CostPlanItem.listing_id == listing.id, CostPlanItem.year == year
        )
    )
    if count >= MAX_ITEMS_PER_PLAN:
        errors["cost_type"] = [
            _("Ein Kostenplan hat höchstens %(max)d Positionen.", max=MAX_ITEMS_PER_PLAN)
        ]
    if errors:
        raise Invalid(errors=errors)
    item = CostPlanItem(
        listing_id=listing.id,
        year=year,
        cost_type=clean_type,
        amount_cents=amount,
        description=description,
        created_by_id=actor.id,
    )
    db.session.add(item)
    db.session.flush()
    audit.record(
        actor,
        "cost_plan.item_added",
        "listing",
        listing.id,
        land_ags=listing.provider_land_ags,
        details={"item": item.id, **_item_details(item)},
    )
    db.session.commit()
    return item


def _item(actor, listing_id: int, item_id: int) -> tuple[Listing, CostPlanItem]:
    listing = _editable_listing(actor, listing_id)
    # is_id: PostgreSQL fails on an id beyond its integer instead of finding nothing.
    item = db.session.get(CostPlanItem, item_id) if is_id(item_id) else None
    if item is None or item.listing_id != listing.id:
        raise NotFound()
    return listing, item


def _check_version(item: CostPlanItem, version: Any) -> None:
    if version is not None and version != item.lock_version:
        raise PreconditionFailed(
            _(
                "Die Position wurde inzwischen geändert. Bitte laden Sie die Seite neu und "
                "prüfen Sie den aktuellen Stand."
            )
        )


def update_plan_item(
    actor,
    listing_id: int,
    item_id: int,
    cost_type: Any,
    amount_cents: Any,
    description: Any = "",
    *,
    version: Any = None,
) -> CostPlanItem:
    """Change a line item (Permission: MANAGE_COST_PLAN). ``version`` is the item's
    ``lock_version`` the editor saw (412 when stale); a concurrent change answers 409.
    One audit row with the values before and after."""
    listing, item = _item(actor, listing_id, item_id)
    errors: dict[str, list[str]] = {}
    clean_type, amount, description = _item_fields(cost_type, amount_cents, description, errors)
    if amount is not None:
        _check_plan_total(listing.id, item.year, amount - item.amount_cents, errors)
    if errors:
        raise Invalid(errors=errors)
    # After the input checks (RFC 9110, 13.2.1): a request that fails anyway is not
    # answered as merely stale.
    _check_version(item, version)
    before = _item_details(item)
    item.cost_type = clean_type
    item.amount_cents = amount
    item.description = description
    item.updated_at = utcnow()
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise Conflict(_("Die Position wurde eben gleichzeitig geändert.")) from None
    audit.record(
        actor,
        "cost_plan.item_changed",
        "listing",
        listing.id,
        land_ags=listing.provider_land_ags,
        details={"item": item.id, "before": before, "after": _item_details(item)},
    )
    db.session.commit()
    return item


def delete_plan_item(actor, listing_id: int, item_id: int, *, version: Any = None) -> None:
    """Remove a line item (Permission: MANAGE_COST_PLAN). One audit row with its values."""
    listing, item = _item(actor, listing_id, item_id)
    _check_version(item, version)
    details = {"item": item.id, **_item_details(item)}
    db.session.delete(item)
    try:
        db.session.flush()
    except StaleDataError:
        db.session.rollback()
        raise Conflict(_("Die Position wurde eben gleichzeitig geändert.")) from None
    audit.record(
        actor,
        "cost_plan.item_removed",
        "listing",
        listing.id,
        land_ags=listing.provider_land_ags,
        details=details,
    )
    db.session.commit()


# --- the statement of a Land -----------------------------------------------------------


@dataclass(frozen=True)
class StatementLine:
    """What one Land pays for one listing in a year."""

    listing: Listing
    split: ListingSplit
    row: PayerRow | None
    #: False for a Land that only pays the all-Länder pool of an ``efa_2024`` listing
    taking_part: bool = True

    @property
    def cents(self) -> int:
        return self.row.cents if self.row else 0

    @property
    def problem(self) -> str:
        """Why the split cannot be computed. A Land that only pays the all-Länder pool
        may not see the split, whose message can name other Länder: it gets a general
        note."""
        if self.split.problem is None:
            return ""
        if self.taking_part:
            return self.split.problem
        return _(
            "Die Aufteilung ist noch nicht berechenbar; das bereitstellende Land und FITKO "
            "sind informiert."
        )


@dataclass(frozen=True)
class ConnectionCost:
    """One-off Anbindungskosten of a contract that took effect in the year: billed to the
    adopter alone, never shared."""

    listing: Listing
    contract_number: str
    effective_date: date
    cents: int


@dataclass
class Statement:
    land: Land
    year: int
    lines: list[StatementLine]
    #: listings the Land takes part in whose split cannot be computed, and why
    open_items: list[StatementLine]
    connection_costs: list[ConnectionCost]

    @property
    def shared_cents(self) -> int:
        return sum(line.cents for line in self.lines)

    @property
    def connection_cents(self) -> int:
        return sum(cost.cents for cost in self.connection_costs)

    @property
    def total_cents(self) -> int:
        return self.shared_cents + self.connection_cents


def _land(land_ags: Any) -> Land:
    land = db.session.get(Land, land_ags) if isinstance(land_ags, str) else None
    if land is None:
        raise NotFound()
    return land


def land_statement(actor, land_ags: Any, year: Any) -> Statement:
    """What a Land pays in ``year`` over all listings: its share of every listing's plan
    it takes part in (or, under ``efa_2024``, pays the all-Länder pool of), and the
    one-off Anbindungskosten of its contracts that took effect in the year.

    Permission: VIEW_COST_STATEMENT (the Land's own users, FITKO, admins); another
    Land's statement is NotFound. Constant number of queries."""
    require(actor, Permission.VIEW_COST_STATEMENT)
    if not can(actor, Permission.VIEW_COST_STATEMENT, land_ags):
        raise NotFound()
    land = _land(land_ags)
    year = _year_or_invalid(year)
    lines, open_items = [], []
    # Every listing with a plan in the year (efa_2024 makes any Land a payer), and the
    # Land's own reuses with a contract or own use: a missing plan is an open item too.
    own = db.session.scalars(
        select(Reuse.listing_id)
        .join(Listing, Listing.id == Reuse.listing_id)
        .outerjoin(Contract, Contract.reuse_id == Reuse.id)
        .where(
            Reuse.adopter_land_ags == land.ags,
            or_(
                Contract.effective_date.is_not(None),
                Reuse.adopter_land_ags == Listing.provider_land_ags,
            ),
        )
    )
    listing_ids = set(plan_totals(year)) | set(own)
    for result in year_splits(year, listing_ids).values():
        taking_part = any(p.land_ags == land.ags and p.months for p in result.participants)
        if result.split is None:
            if taking_part or result.funding_model == FundingModel.EFA_2024:
                open_items.append(StatementLine(result.listing, result, None, taking_part))
            continue
        row = next((row for row in result.rows() if row.payer == land.ags), None)
        if row is not None and (taking_part or row.cents):
            lines.append(StatementLine(result.listing, result, row, taking_part))
    connection = [
        ConnectionCost(listing, number, effective, cents)
        for listing, number, effective, cents in db.session.execute(
            select(Listing, Contract.number, Contract.effective_date, Reuse.connection_cost_cents)
            .join(Reuse, Reuse.listing_id == Listing.id)
            .join(Contract, Contract.reuse_id == Reuse.id)
            .where(
                Reuse.adopter_land_ags == land.ags,
                Reuse.connection_cost_cents > 0,
                Contract.effective_date >= date(year, 1, 1),
                Contract.effective_date <= date(year, 12, 31),
            )
            .order_by(Contract.effective_date, Contract.number)
        )
    ]
    return Statement(
        land, year, sorted(lines, key=_by_title), sorted(open_items, key=_by_title), connection
    )


def _by_title(line: StatementLine) -> tuple[str, int]:
    return line.listing.title.casefold(), line.listing.id


def visible_statement_lands(actor) -> list[Land]:
    """The Länder whose statement the actor may open (one query)."""
    require(actor, Permission.VIEW_COST_STATEMENT)
    query = select(Land).order_by(Land.ags)
    own = getattr(actor, "land_ags", None)
    if own is not None:  # a Land's users see their own statement only
        query = query.where(Land.ags == own)
    return list(db.session.scalars(query))


_CSV_COLUMNS = (
    "jahr",
    "land_ags",
    "art",
    "leistung_id",
    "leistung",
    "schluessel",
    "finanzierungsmodell",
    "monate",
    "anteil_prozent",
    "gesamtkosten_cent",
    "betrag_cent",
    "betrag_eur",
    "hinweis",
)


def statement_csv(statement: Statement) -> str:
    """The statement as CSV (``;``, decimal comma as German spreadsheets expect, amounts
    also in cents so a machine never has to parse a formatted number). Listing titles
    are neutralised like every CSV export: a title starting with "=" is never a formula."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(_CSV_COLUMNS)

    def row(kind: str, listing: Listing | None = None, cents: int | None = None, **cells):
        values = {
            "jahr": statement.year,
            "land_ags": statement.land.ags,
            "art": kind,
            "leistung_id": listing.id if listing else "",
            "leistung": neutralise(listing.title) if listing else "",
            "betrag_cent": "" if cents is None else cents,
            "betrag_eur": "" if cents is None else _decimal_comma(Decimal(cents).scaleb(-2)),
            **cells,
        }
        writer.writerow([values.get(column, "") for column in _CSV_COLUMNS])

    for line in statement.lines:
        split, share = line.split, line.row.share
        row(
            "kostenanteil",
            line.listing,
            line.row.cents,
            schluessel=split.key,
            finanzierungsmodell=split.funding_model,
            monate="" if line.row.months is None else line.row.months,
            anteil_prozent=""
            if share is None
            else _decimal_comma(costs.to_decimal(share * 100, 5)),
            gesamtkosten_cent=split.total_cents,
        )
    for cost in statement.connection_costs:
        row("anbindungskosten", cost.listing, cost.cents)
    # Listings that cannot be computed yet are not in the sum, but never silently missing.
    for line in statement.open_items:
        row(
            "nicht_berechenbar",
            line.listing,
            schluessel=line.split.key,
            finanzierungsmodell=line.split.funding_model,
            gesamtkosten_cent=line.split.total_cents,
            hinweis=neutralise(line.problem),
        )
    row("summe", cents=statement.total_cents)
    return out.getvalue()


def _decimal_comma(value: Decimal) -> str:
    return f"{value:f}".replace(".", ",")
