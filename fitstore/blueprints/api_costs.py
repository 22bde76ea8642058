"""The cost part of the JSON API: cost plans, splits, simulations and Land statements.

- ``/listings/{listing_id}/costs/{year}``: who pays how many cents of a listing's yearly
  costs, with every intermediate figure (the split; VIEW_COST_SPLIT: the provider, the
  alliance's members, the participants, FITKO, admins). A split that cannot be computed
  (no plan, no participant, a year without key data, usage without figures, ...) is a
  422 problem naming the field to fix and saying how.
- ``.../items``: the year's cost plan, kept by the provider Land's editors
  (MANAGE_COST_PLAN). An item's ``ETag`` is its version; ``PATCH`` and ``DELETE``
  accept ``If-Match`` optionally, as the reuse API does (412 when stale). Two writers
  racing past the check still cannot both win: the version column makes the second
  write fail (409).
- ``.../simulation``: what-if, the same split with changed participants, months, key,
  funding model or total; computed, never stored.
- ``/lands/{land_ags}/statements/{year}``: what a Land pays in a year over all listings
  (VIEW_COST_STATEMENT: its own users, FITKO, admins; another Land's statement is 404).

Everything needs a bearer token; a listing whose costs the caller may not see answers
404, as if it did not exist. Every read and write goes through
``fitstore.services.cost_sharing``, whose exceptions the app's problem handler turns
into RFC 9457 responses. Money is integer cents; exact figures are decimal strings.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from flask import url_for
from flask_login import current_user
from marshmallow import EXCLUDE, RAISE

from fitstore import costs
from fitstore.blueprints.api import (
    BEARER,
    LAND_PARAMETER,
    LISTING_ID_PARAMETER,
    PREFIX,
    UNAUTHORIZED,
    ApiBlueprint,
    check_ids_and_body,
    etag_header,
    if_match_version,
    location_header,
)
from fitstore.errors import Invalid, NotFound
from fitstore.extensions import csrf
from fitstore.models import CostKey, CostPlanItem, FundingModel
from fitstore.permissions import Permission, policy
from fitstore.schemas import ApiQuery
from fitstore.schemas.costs import (
    EXACT_CENTS_PLACES,
    PERCENT_PLACES,
    SHARE_PLACES,
    WEIGHT_PLACES,
    PlanItemIn,
    PlanItemOut,
    PlanItemPatchIn,
    PlanOut,
    SimulationIn,
    SplitOut,
    StatementOut,
)
from fitstore.schemas.listings import INT32_MAX, LAND_AGS
from fitstore.schemas.reuses import IfMatchOptional
from fitstore.services import cost_sharing as service
from fitstore.services.alliances import plain

costs_api = ApiBlueprint(
    "api_costs",
    __name__,
    url_prefix=PREFIX,
    description="Cost sharing: cost plans, yearly splits, what-if simulations, statements",
)
# Bearer tokens, never cookies, authenticate the API: CSRF cannot apply.
csrf.exempt(costs_api)

# Plain ``int`` converters (see api_listings): the id range is checked in check_request,
# the year's by the service (422 naming "year").
SPLIT = "/listings/<int:listing_id>/costs/<int:year>"
ITEMS = f"{SPLIT}/items"
ONE_ITEM = f"{ITEMS}/<int:item_id>"
STATEMENT = "/lands/<land_ags>/statements/<int:year>"

# Path parameters, documented with examples that point at the demo data (Aufenthaltstitel,
# listing 1 of Brandenburg, has a cost plan for 2026).
LISTING_ID = LISTING_ID_PARAMETER
YEAR = {
    "in": "path",
    "name": "year",
    "required": True,
    "description": f"Calendar year, {service.MIN_YEAR} to {service.MAX_YEAR}",
    "schema": {"type": "integer", "minimum": service.MIN_YEAR, "maximum": service.MAX_YEAR},
    "example": 2026,
}
ITEM_ID = {
    "in": "path",
    "name": "item_id",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": INT32_MAX},
    "example": 1,
}
LAND = LAND_PARAMETER
LISTING_YEAR = [LISTING_ID, YEAR]
ETAG = etag_header("The item's version")
LOCATION = location_header("item")

NO_LAND = "Only users of a Land, FITKO and admins see costs"
NOT_VISIBLE = "No such listing, or its costs are not visible to the caller"
ITEM_NOT_FOUND = "No such listing or item in this year's plan, or not visible to the caller"
EDITORS_ONLY = "Only editors of the provider Land change the cost plan"
NOT_COMPUTABLE = (
    "Year out of range, unknown query parameter, or the split cannot be computed (no "
    "plan, no participant, no key data for the year, usage without figures, a target-group "
    "weight missing): `errors` names the field, `detail` says what to fix"
)

JSON_BODY = {"add_item", "update_item", "simulate"}


@costs_api.before_request
def check_request():
    check_ids_and_body(("listing_id", "item_id"), JSON_BODY)


# --- presentation -------------------------------------------------------------------------


def _text(value: Fraction, places: int) -> str:
    """An exact figure rounded half-even to ``places`` decimals, as a plain string."""
    return format(costs.to_decimal(value, places), "f")


def _exact_or_rounded(value: Fraction, places: int) -> str:
    """The exact value when it has at most ``places`` decimals ("3.03655"), otherwise
    rounded half-even to ``places``."""
    rounded = costs.to_decimal(value, places)
    return plain(rounded) if Fraction(rounded) == value else format(rounded, "f")


def _land(land) -> dict:
    return {"ags": land.ags, "iso": land.iso, "short": land.short, "name": land.name}


def _listing_ref(listing) -> dict:
    return {
        "id": listing.id,
        "url": url_for("api_listings.read", listing_id=listing.id),
        "title": listing.title,
        "provider": _land(listing.provider_land),
    }


def _item(item: CostPlanItem) -> dict:
    return {
        "id": item.id,
        "url": url_for(
            "api_costs.read_item", listing_id=item.listing_id, year=item.year, item_id=item.id
        ),
        "cost_type": item.cost_type,
        "description": item.description,
        "amount_cents": item.amount_cents,
        "version": item.lock_version,
    }


def _item_response(item: CostPlanItem, status: int = 200, headers: dict | None = None):
    return _item(item), status, {"ETag": f'"{item.lock_version}"', **(headers or {})}


def _participant(info: service.ParticipantInfo, contract_lands: set[str] | None) -> dict:
    # Another Land's contract stays with its parties (as in the reuse API): a caller
    # outside the alliance sees the months it is billed for, not the contract.
    shown = contract_lands is None or info.land_ags in contract_lands
    dated = shown or (info.own_use and not info.contracts)  # own use has no contract
    return {
        "land": info.land_ags,
        "name": service.payer_name(info.land_ags),
        "months": info.months,
        "months_in_force": list(info.month_numbers),
        "own_use": info.own_use,
        "contracts": list(info.contracts) if shown else [],
        "since": info.since if dated else None,
        "until": info.until if dated else None,
    }


def _line(line: costs.Line) -> dict:
    return {
        "payer": line.payer,
        "name": service.payer_name(line.payer),
        "weight": _exact_or_rounded(line.weight, WEIGHT_PLACES),
        "months": line.months,
        "share": _text(line.share, SHARE_PLACES),
        "share_percent": _text(line.share * 100, PERCENT_PLACES),
        "exact_cents": _text(line.exact_cents, EXACT_CENTS_PLACES),
        "floor_cents": line.floor_cents,
        "extra_cent": line.extra_cent,
        "cents": line.cents,
    }


def _pool(pool: costs.Pool) -> dict:
    return {
        "name": pool.name,
        "label": service.pool_label(pool.name),
        "cents": pool.cents,
        "exact_cents": _text(pool.exact_cents, EXACT_CENTS_PLACES),
        "lines": [_line(line) for line in pool.lines],
    }


def _split(result: service.ListingSplit) -> dict:
    """The split, or a 422 problem saying why it cannot be computed."""
    if result.split is None:
        problem = result.problem or ""
        raise Invalid(detail=problem, errors={result.problem_field or "split": [problem]})
    contract_lands = service.contract_lands(current_user, result.listing)
    return {
        "listing": _listing_ref(result.listing),
        "year": result.year,
        "total_cents": result.total_cents,
        "key": CostKey(result.key),
        "funding_model": FundingModel(result.funding_model),
        "parameters": {
            name: plain(Decimal(value)) for name, value in result.cost_key.parameters.items()
        },
        "decided": result.cost_key.decided,
        "source": str(result.cost_key.source),
        "simulated": result.simulated,
        "participants": [_participant(info, contract_lands) for info in result.participants],
        "items": [_item(item) for item in result.items],
        "pools": [_pool(pool) for pool in result.split.pools],
        "cents": dict(result.split.cents),
        "warnings": [str(warning) for warning in result.warnings],
    }


def _statement(statement: service.Statement) -> dict:
    def line(entry: service.StatementLine) -> dict:
        split, row = entry.split, entry.row
        return {
            "listing": _listing_ref(entry.listing),
            "key": CostKey(split.key),
            "funding_model": FundingModel(split.funding_model),
            "months": row.months,
            "share_percent": None if row.share is None else _text(row.share * 100, PERCENT_PLACES),
            "total_cents": split.total_cents,
            "participants_cents": row.participants_cents,
            "laender_cents": row.laender_cents,
            "cents": row.cents,
        }

    return {
        "land": _land(statement.land),
        "year": statement.year,
        "lines": [line(entry) for entry in statement.lines],
        "connection_costs": [
            {
                "listing": _listing_ref(cost.listing),
                "contract_number": cost.contract_number,
                "effective_date": cost.effective_date,
                "cents": cost.cents,
            }
            for cost in statement.connection_costs
        ],
        "open_items": [
            {
                "listing": _listing_ref(entry.listing),
                # A Land paying only the all-Länder pool gets the general note.
                "problem": entry.problem,
                "field": entry.split.problem_field if entry.taking_part else None,
            }
            for entry in statement.open_items
        ],
        "shared_cents": statement.shared_cents,
        "connection_cents": statement.connection_cents,
        "total_cents": statement.total_cents,
    }


def _plan_item(listing_id: int, year: int, item_id: int) -> CostPlanItem:
    """The item of the listing's plan of ``year`` (NotFound if it belongs to another year
    or listing, or the caller may not see the listing's costs)."""
    plan = service.get_plan(current_user, listing_id, year)
    item = next((item for item in plan.items if item.id == item_id), None)
    if item is None:
        raise NotFound()
    return item


# --- routes -------------------------------------------------------------------------------

READ_PROBLEMS = {401: UNAUTHORIZED, 403: NO_LAND}
WRITE_PROBLEMS = {
    400: "The body is not valid JSON",
    401: UNAUTHORIZED,
    413: "Body too large",
    415: "The body is not application/json",
}


@costs_api.route(SPLIT, methods=["GET"], parameters=LISTING_YEAR)
@policy(Permission.VIEW_COST_SPLIT)
@costs_api.arguments(ApiQuery, location="query", unknown=RAISE, as_kwargs=True)
@costs_api.response(200, SplitOut)
@costs_api.problems(READ_PROBLEMS, {404: NOT_VISIBLE, 422: NOT_COMPUTABLE})
@costs_api.doc(security=BEARER)
def split(listing_id: int, year: int, lang=None):
    """Who pays how many cents of the listing's costs of the year, with every figure

    The key and funding model the alliance adopted for the year (or the default
    "usage"), the participants with their months in force, the plan items, and per pool
    each payer's weight, months, share, exact cents, floor and left-over cent: enough to
    check every cent. `exact_cents` are decimal strings with six places, since two
    places may not show which fractional part is larger.
    """
    return _split(service.listing_split(current_user, listing_id, year))


@costs_api.route(ITEMS, methods=["GET"], parameters=LISTING_YEAR)
@policy(Permission.VIEW_COST_SPLIT)
@costs_api.arguments(ApiQuery, location="query", unknown=RAISE, as_kwargs=True)
@costs_api.response(200, PlanOut)
@costs_api.problems(
    READ_PROBLEMS, {404: NOT_VISIBLE, 422: "Year out of range, or unknown parameter"}
)
@costs_api.doc(security=BEARER)
def items(listing_id: int, year: int, lang=None):
    """The listing's cost plan of the year: its line items and their total"""
    plan = service.get_plan(current_user, listing_id, year)
    return {
        "listing": _listing_ref(plan.listing),
        "year": plan.year,
        "items": [_item(item) for item in plan.items],
        "total_cents": plan.total_cents,
        "may_edit": plan.may_edit,
    }


@costs_api.route(ITEMS, methods=["POST"], parameters=LISTING_YEAR)
@policy(Permission.MANAGE_COST_PLAN)
@costs_api.arguments(ApiQuery, location="query", unknown=RAISE, as_kwargs=True)
@costs_api.arguments(PlanItemIn)
@costs_api.response(201, PlanItemOut, headers={**ETAG, **LOCATION})
@costs_api.problems(
    WRITE_PROBLEMS,
    {
        403: EDITORS_ONLY,
        404: NOT_VISIBLE,
        422: "Invalid or unknown field: amount negative, not an integer or above 2^63-1, "
        "unknown cost type, description too long, year out of range, plan full or its sum "
        "too large",
    },
)
@costs_api.doc(security=BEARER)
def add_item(data, listing_id: int, year: int, lang=None):
    """Add a line item to the listing's cost plan of the year (an editor of the provider Land)"""
    item = service.add_plan_item(
        current_user,
        listing_id,
        year,
        data["cost_type"],
        data["amount_cents"],
        data["description"],
    )
    location = url_for("api_costs.read_item", listing_id=listing_id, year=year, item_id=item.id)
    return _item_response(item, 201, {"Location": location})


@costs_api.route(ONE_ITEM, methods=["GET"], parameters=[*LISTING_YEAR, ITEM_ID])
@policy(Permission.VIEW_COST_SPLIT)
@costs_api.arguments(ApiQuery, location="query", unknown=RAISE, as_kwargs=True)
@costs_api.response(200, PlanItemOut, headers=ETAG)
@costs_api.problems(
    READ_PROBLEMS, {404: ITEM_NOT_FOUND, 422: "Year out of range, or unknown parameter"}
)
@costs_api.doc(security=BEARER)
def read_item(listing_id: int, year: int, item_id: int, lang=None):
    """A line item of the listing's cost plan, with its version as ETag"""
    return _item_response(_plan_item(listing_id, year, item_id))


@costs_api.route(ONE_ITEM, methods=["PATCH"], parameters=[*LISTING_YEAR, ITEM_ID])
@policy(Permission.MANAGE_COST_PLAN)
@costs_api.arguments(ApiQuery, location="query", unknown=RAISE, as_kwargs=True)
@costs_api.arguments(IfMatchOptional, location="headers", unknown=EXCLUDE, as_kwargs=True)
@costs_api.arguments(PlanItemPatchIn)
@costs_api.response(200, PlanItemOut, headers=ETAG)
@costs_api.problems(
    WRITE_PROBLEMS,
    {
        403: EDITORS_ONLY,
        404: ITEM_NOT_FOUND,
        409: "Concurrent change",
        412: "If-Match does not name the current version",
        422: "Invalid or unknown field, or nothing to change",
    },
)
@costs_api.doc(security=BEARER)
def update_item(data, listing_id: int, year: int, item_id: int, lang=None, if_match=None):
    """Change a line item (an editor of the provider Land); the fields not sent stay"""
    item = _plan_item(listing_id, year, item_id)
    version = if_match_version(lambda: item.lock_version)
    item = service.update_plan_item(
        current_user,
        listing_id,
        item_id,
        data.get("cost_type", item.cost_type),
        data.get("amount_cents", item.amount_cents),
        data.get("description", item.description),
        version=version,
    )
    return _item_response(item)


@costs_api.route(ONE_ITEM, methods=["DELETE"], parameters=[*LISTING_YEAR, ITEM_ID])
@policy(Permission.MANAGE_COST_PLAN)
@costs_api.arguments(ApiQuery, location="query", unknown=RAISE, as_kwargs=True)
@costs_api.arguments(IfMatchOptional, location="headers", unknown=EXCLUDE, as_kwargs=True)
@costs_api.response(204, description="Removed")
@costs_api.problems(
    {401: UNAUTHORIZED},
    {
        403: EDITORS_ONLY,
        404: ITEM_NOT_FOUND,
        409: "Concurrent change",
        412: "If-Match does not name the current version",
        422: "Year out of range, or unknown parameter",
    },
)
@costs_api.doc(security=BEARER)
def delete_item(listing_id: int, year: int, item_id: int, lang=None, if_match=None):
    """Remove a line item from the plan (an editor of the provider Land)"""
    item = _plan_item(listing_id, year, item_id)
    version = if_match_version(lambda: item.lock_version)
    service.delete_plan_item(current_user, listing_id, item_id, version=version)
    return None


@costs_api.route(f"{SPLIT}/simulation", methods=["POST"], parameters=LISTING_YEAR)
@policy(Permission.VIEW_COST_SPLIT)
@costs_api.arguments(ApiQuery, location="query", unknown=RAISE, as_kwargs=True)
@costs_api.arguments(SimulationIn)
@costs_api.response(200, SplitOut, description="The split as it would be; nothing is stored")
@costs_api.problems(
    {**WRITE_PROBLEMS, 403: NO_LAND},
    {
        404: NOT_VISIBLE,
        422: "Invalid or unknown field (unknown Land, months outside 0-12, a Land twice, a "
        "negative total, mixed percentages not summing to 100, ...), or the split cannot be "
        "computed (e.g. no key data for the year): `errors` names the field",
    },
)
@costs_api.doc(security=BEARER)
def simulate(data, listing_id: int, year: int, lang=None):
    """What if: the split with other participants, months, key, funding model or total

    Anything given replaces the stored value for this computation only; `participants`
    is the whole list of paying Länder. Computed live and never stored (`simulated`
    is true).
    """
    participants = data.get("participants")
    if participants is not None:
        participants = [{"land": LAND_AGS[p["land"]], "months": p["months"]} for p in participants]
    result = service.simulate(
        current_user,
        listing_id,
        year,
        participants=participants,
        key=data.get("key"),
        funding_model=data.get("funding_model"),
        parameters=data.get("parameters"),
        total_cents=data.get("total_cents"),
    )
    return _split(result)


@costs_api.route(STATEMENT, methods=["GET"], parameters=[LAND, YEAR])
@policy(Permission.VIEW_COST_STATEMENT)
@costs_api.arguments(ApiQuery, location="query", unknown=RAISE, as_kwargs=True)
@costs_api.response(200, StatementOut)
@costs_api.problems(
    READ_PROBLEMS,
    {
        404: "No such Land, or another Land's statement (only FITKO and admins see every Land's)",
        422: "Year out of range, or unknown parameter",
    },
)
@costs_api.doc(security=BEARER)
def statement(land_ags: str, year: int, lang=None):
    """What a Land pays in a year over all listings, with one-off Anbindungskosten

    A line per listing it takes part in (under efa_2024 also the listings whose all-Länder pool it pays),
    the one-off connection costs of its contracts that took effect in the year (billed
    to it alone, never shared), and the listings it takes part in whose split cannot be
    computed yet (`open_items`, with the reason).
    """
    ags = LAND_AGS.get(land_ags)
    if ags is None:
        raise NotFound()
    return _statement(service.land_statement(current_user, ags, year))
