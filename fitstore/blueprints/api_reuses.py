"""The reuse part of the JSON API: reuses (/api/v1/reuses), their onboarding checklist and
rollout, and the contracts (/api/v1/contracts) with FITKO's four-eyes check.

Everything needs a bearer token. A reuse or contract the caller may not see answers
404, as if it did not exist (``fitstore.services.reuses.get_reuse``/``get_contract``).
Every write goes through ``fitstore.services.reuses``, whose exceptions the app's
problem handler turns into RFC 9457 responses: an illegal move is 409, the wrong
party 403, bad input 422.

Optimistic concurrency as in the listings API: a reuse's and a contract's ``ETag`` is
its ``lock_version``; the writes accept ``If-Match`` optionally (412 when stale). Two
writers racing past the check still cannot both win: the version columns make the
second UPDATE fail (409).
"""

from __future__ import annotations

from datetime import date

from flask import url_for
from flask_login import current_user
from marshmallow import EXCLUDE, RAISE

from fitstore.blueprints.api import (
    BEARER,
    PREFIX,
    UNAUTHORIZED,
    ApiBlueprint,
    check_ids_and_body,
    etag_header,
    if_match_version,
    location_header,
)
from fitstore.errors import Invalid
from fitstore.extensions import csrf
from fitstore.models import ConditionModel, Contract, OnboardingItem, Reuse
from fitstore.permissions import Permission, can, policy
from fitstore.schemas import ApiQuery
from fitstore.schemas.listings import LAND_AGS
from fitstore.schemas.reuses import (
    AddedOut,
    CheckIn,
    ConditionsIn,
    ContractOut,
    ContractPageOut,
    ContractQuery,
    CountersignIn,
    IfMatchOptional,
    OnboardingIn,
    OnboardingItemOut,
    ReuseIn,
    ReuseOut,
    ReusePageOut,
    ReuseQuery,
    RolloutAddIn,
    RolloutPageOut,
    RolloutQuery,
    RolloutUpdateIn,
    TransitionIn,
    UpdatedOut,
)
from fitstore.services import reuses as service

reuses_api = ApiBlueprint(
    "api_reuses",
    __name__,
    url_prefix=PREFIX,
    description="Reuses (Nachnutzung): stages, conditions, onboarding checklist, rollout",
)
contracts_api = ApiBlueprint(
    "api_contracts",
    __name__,
    url_prefix=PREFIX,
    description="SaaS-Nachnutzungsverträge: FITKO checks, a second FITKO user countersigns",
)
# Bearer tokens, never cookies, authenticate the API: CSRF cannot apply.
csrf.exempt(reuses_api)
csrf.exempt(contracts_api)

# Plain ``int`` converters (see api_listings): the range is checked in check_request.
ONE = "/reuses/<int:reuse_id>"
ONE_CONTRACT = "/contracts/<int:contract_id>"
ONBOARDING_KEYS = ", ".join(key for key, _label in service.ONBOARDING_ITEMS)

ETAG = etag_header("The version")
LOCATION = location_header("reuse")
REUSE_NOT_FOUND = "No such reuse, or not visible to the caller"
CONTRACT_NOT_FOUND = "No such contract, or not visible to the caller"

# Endpoints (of either blueprint) that read a JSON body.
JSON_BODY = {
    "create",
    "propose_conditions",
    "transition",
    "update_onboarding",
    "add_rollout",
    "update_rollout",
    "check",
    "countersign",
}


# --- request checks that must come before the body is parsed -----------------------


def check_request():
    check_ids_and_body(("reuse_id", "contract_id"), JSON_BODY)


reuses_api.before_request(check_request)
contracts_api.before_request(check_request)


def _reuse_version(reuse_id: int) -> int | None:
    return if_match_version(lambda: service.get_reuse(current_user, reuse_id).lock_version)


def _contract_version(contract_id: int) -> int | None:
    return if_match_version(lambda: service.get_contract(current_user, contract_id).lock_version)


# --- presentation -----------------------------------------------------------------------


def _land(land) -> dict:
    return {"ags": land.ags, "iso": land.iso, "short": land.short, "name": land.name}


def _listing_ref(listing) -> dict:
    return {
        "id": listing.id,
        "url": url_for("api_listings.read", listing_id=listing.id),
        "title": listing.title,
        "provider": _land(listing.provider_land),
    }


def _contract_ref(contract: Contract) -> dict:
    return {
        "id": contract.id,
        "url": url_for("api_contracts.read", contract_id=contract.id),
        "number": contract.number,
        "status": contract.status,
        "effective_date": contract.effective_date,
    }


def _progress(progress) -> dict:
    return {
        "planned": progress.planned,
        "connecting": progress.connecting,
        "live": progress.live,
        "total": progress.total,
    }


def _onboarding_item(item: OnboardingItem, listing) -> dict:
    return {
        "key": item.key,
        "label": service.onboarding_label(item, listing),
        "mandatory": item.mandatory,
        "done": item.done,
        "done_on": item.done_on,
        "note": item.note,
    }


def _reuse_summary(reuse: Reuse) -> dict:
    return {
        "id": reuse.id,
        "url": url_for("api_reuses.read", reuse_id=reuse.id),
        "stage": reuse.stage,
        "resume_stage": reuse.resume_stage,
        "stage_since": reuse.stage_since,
        "adopter": _land(reuse.adopter_land),
        "listing": _listing_ref(reuse.listing),
        "waiting_for": service.waiting_for(reuse),
        "updated_at": reuse.updated_at,
    }


def _reuse_full(reuse: Reuse) -> dict:
    # Alliance members may read another member's reuse (stage, conditions, rollout); the
    # contract, the checklist and the named history stay with the parties.
    party = can(current_user, Permission.VIEW_CONTRACT, reuse)
    conditions = None
    if reuse.has_conditions:
        conditions = {
            "condition_model": reuse.condition_model,
            "annual_fee_cents": reuse.annual_fee_cents,
            "share_rule": reuse.share_rule,
            "connection_cost_cents": reuse.connection_cost_cents,
            "scope": reuse.scope,
            "conditions_start": reuse.conditions_start,
            "proposed_at": reuse.conditions_proposed_at,
        }
    return {
        **_reuse_summary(reuse),
        "planned_start": reuse.planned_start,
        "expected_usage": reuse.expected_usage,
        "note": reuse.interest_note,
        "conditions": conditions,
        "contract": _contract_ref(reuse.contract) if party and reuse.contract is not None else None,
        "onboarding": [_onboarding_item(item, reuse.listing) for item in reuse.onboarding_items]
        if party
        else [],
        "rollout": _progress(service.rollout_progress([reuse.id])[reuse.id]),
        "history": [
            {
                "from_stage": step.from_stage,
                "to_stage": step.to_stage,
                "at": step.occurred_at,
                "actor": step.actor.name if step.actor is not None else None,
                "comment": step.comment,
            }
            for step in (service.history(reuse) if party else [])
        ],
        "available_actions": [
            action.name for action in service.available_actions(current_user, reuse)
        ],
        "lock_version": reuse.lock_version,
    }


def _reuse_response(reuse: Reuse, status: int = 200, headers: dict | None = None):
    return _reuse_full(reuse), status, {"ETag": f'"{reuse.lock_version}"', **(headers or {})}


def _contract_summary(contract: Contract) -> dict:
    reuse = contract.reuse
    return {
        **_contract_ref(contract),
        "reuse": {
            "id": reuse.id,
            "url": url_for("api_reuses.read", reuse_id=reuse.id),
            "stage": reuse.stage,
        },
        "adopter": _land(reuse.adopter_land),
        "listing": _listing_ref(reuse.listing),
        "ordered_at": contract.ordered_at,
    }


def _snapshot(contract: Contract) -> dict:
    """The conditions as ordered (stored as canonical JSON) in their API types."""
    values = service.contract_conditions(contract)
    model = values.get("condition_model")
    start = values.get("conditions_start")
    return {
        "condition_model": ConditionModel(model) if model else None,
        "annual_fee_cents": values.get("annual_fee_cents"),
        "share_rule": values.get("share_rule") or "",
        "connection_cost_cents": values.get("connection_cost_cents"),
        "scope": values.get("scope") or "",
        "conditions_start": date.fromisoformat(start) if start else None,
    }


def _name(user) -> str | None:
    return user.name if user is not None else None


def _contract_full(contract: Contract) -> dict:
    return {
        **_contract_summary(contract),
        "conditions": _snapshot(contract),
        "ordered_by": _name(contract.ordered_by),
        "checked_at": contract.checked_at,
        "checked_by": _name(contract.checked_by),
        "eligibility_basis": contract.eligibility_basis,
        "legal_basis": contract.legal_basis,
        "check_remarks": contract.check_remarks,
        "countersigned_at": contract.countersigned_at,
        "countersigned_by": _name(contract.countersigned_by),
        "ended_on": contract.ended_on,
        "lock_version": contract.lock_version,
    }


def _contract_response(contract: Contract):
    return _contract_full(contract), 200, {"ETag": f'"{contract.lock_version}"'}


def _page(page, items: list) -> dict:
    return {
        "items": items,
        "page": page.page,
        "page_size": page.per_page,
        "total": page.total,
        "pages": page.pages,
    }


# --- reuses -------------------------------------------------------------------------------


@reuses_api.route("/reuses", methods=["GET"])
@policy(Permission.VIEW_REUSES)
@reuses_api.arguments(ReuseQuery, location="query", unknown=RAISE)
@reuses_api.response(200, ReusePageOut)
@reuses_api.problem(401, UNAUTHORIZED)
@reuses_api.problem(422, "Invalid filter or unknown parameter")
@reuses_api.doc(security=BEARER)
def index(query):
    """The reuses the caller may see, newest change first; filterable, paginated

    FITKO and admins see all; users of a Land the reuses their Land adopts or
    provides, and those of listings whose alliance their Land belongs to.
    """
    land = query.get("land")
    page = service.list_reuses(
        current_user,
        listing_id=query.get("listing"),
        land=LAND_AGS[land] if land else None,
        stage=query.get("stage"),
        side=query.get("side"),
        page=query["page"],
        per_page=query["page_size"],
    )
    return _page(page, [_reuse_summary(reuse) for reuse in page.items])


@reuses_api.route("/reuses", methods=["POST"])
@policy(Permission.EXPRESS_INTEREST)
@reuses_api.arguments(ApiQuery, location="query", unknown=RAISE, as_kwargs=True)
@reuses_api.arguments(ReuseIn)
@reuses_api.response(201, ReuseOut, headers={**ETAG, **LOCATION})
@reuses_api.problem(400, "The body is not valid JSON")
@reuses_api.problem(401, UNAUTHORIZED)
@reuses_api.problem(403, "Only editors of a Land express interest")
@reuses_api.problem(404, "No such listing, or not visible to the caller")
@reuses_api.problem(
    409,
    "The listing is not published, is the caller's own Land's, or the Land already has an "
    "open reuse of it",
)
@reuses_api.problem(413, "Body too large")
@reuses_api.problem(415, "The body is not application/json")
@reuses_api.problem(422, "Invalid or unknown field")
@reuses_api.doc(security=BEARER)
def create(data, lang=None):
    """Express the caller's Land's interest in reusing a published listing (Interessenbekundung)"""
    reuse = service.express_interest(current_user, data["listing_id"], data)
    location = url_for("api_reuses.read", reuse_id=reuse.id)
    return _reuse_response(reuse, 201, {"Location": location})


@reuses_api.route(ONE, methods=["GET"])
@policy(Permission.VIEW_REUSE)
@reuses_api.arguments(ApiQuery, location="query", unknown=RAISE, as_kwargs=True)
@reuses_api.response(200, ReuseOut, headers=ETAG)
@reuses_api.problem(401, UNAUTHORIZED)
@reuses_api.problem(403, "Only users of a Land, FITKO and admins see reuses")
@reuses_api.problem(404, REUSE_NOT_FOUND)
@reuses_api.problem(422, "Unknown query parameter")
@reuses_api.doc(security=BEARER)
def read(reuse_id: int, lang=None):
    """A reuse: stage, who acts next, conditions, contract, onboarding, rollout, history"""
    return _reuse_response(service.get_reuse(current_user, reuse_id))


@reuses_api.route(f"{ONE}/conditions", methods=["POST"])
@policy(Permission.ACT_AS_PROVIDER)
@reuses_api.arguments(ApiQuery, location="query", unknown=RAISE, as_kwargs=True)
@reuses_api.arguments(IfMatchOptional, location="headers", unknown=EXCLUDE, as_kwargs=True)
@reuses_api.arguments(ConditionsIn)
@reuses_api.response(200, ReuseOut, headers=ETAG)
@reuses_api.problem(400, "The body is not valid JSON")
@reuses_api.problem(401, UNAUTHORIZED)
@reuses_api.problem(403, "Only editors of the provider Land propose conditions")
@reuses_api.problem(404, REUSE_NOT_FOUND)
@reuses_api.problem(409, "The reuse is not in coordination; concurrent change")
@reuses_api.problem(412, "If-Match does not name the current version")
@reuses_api.problem(413, "Body too large")
@reuses_api.problem(415, "The body is not application/json")
@reuses_api.problem(422, "Invalid or unknown field (e.g. annual fee missing for annual_fee)")
@reuses_api.doc(security=BEARER)
def propose_conditions(data, reuse_id: int, lang=None, if_match=None):
    """Propose (or revise) the conditions while the reuse is in coordination (provider)"""
    reuse = service.propose_conditions(current_user, reuse_id, data, _reuse_version(reuse_id))
    return _reuse_response(reuse)


@reuses_api.route(f"{ONE}/transitions", methods=["POST"])
@policy(Permission.VIEW_REUSE)
@reuses_api.arguments(ApiQuery, location="query", unknown=RAISE, as_kwargs=True)
@reuses_api.arguments(IfMatchOptional, location="headers", unknown=EXCLUDE, as_kwargs=True)
@reuses_api.arguments(TransitionIn)
@reuses_api.response(200, ReuseOut, headers=ETAG)
@reuses_api.problem(400, "The body is not valid JSON")
@reuses_api.problem(401, UNAUTHORIZED)
@reuses_api.problem(403, "The caller's Land is not the party that takes this step")
@reuses_api.problem(404, REUSE_NOT_FOUND)
@reuses_api.problem(
    409,
    "Not possible in the current stage (nothing can be skipped), ordering without "
    "conditions, open mandatory onboarding items; concurrent change",
)
@reuses_api.problem(412, "If-Match does not name the current version")
@reuses_api.problem(413, "Body too large")
@reuses_api.problem(415, "The body is not application/json")
@reuses_api.problem(422, "Unknown action, comment too long, or unknown field")
@reuses_api.doc(security=BEARER)
def transition(data, reuse_id: int, lang=None, if_match=None):
    """Move the reuse on by one named step

    start_coordination and decline (provider); order, start_connecting,
    start_testing, go_live and withdraw (adopter); hold, resume and terminate
    (adopter or FITKO). The contract comes into force by FITKO's countersignature
    (POST /contracts/{contract_id}/countersign), not by a transition.
    """
    reuse = service.transition(
        current_user, reuse_id, data["action"], data.get("comment"), _reuse_version(reuse_id)
    )
    return _reuse_response(reuse)


@reuses_api.route(f"{ONE}/onboarding/<any({ONBOARDING_KEYS}):key>", methods=["PUT"])
@policy(Permission.ACT_AS_ADOPTER)
@reuses_api.arguments(ApiQuery, location="query", unknown=RAISE, as_kwargs=True)
@reuses_api.arguments(OnboardingIn)
@reuses_api.response(200, OnboardingItemOut)
@reuses_api.problem(400, "The body is not valid JSON")
@reuses_api.problem(401, UNAUTHORIZED)
@reuses_api.problem(403, "Only editors of the adopter Land tick the checklist")
@reuses_api.problem(404, "No such reuse or checklist item, or not visible to the caller")
@reuses_api.problem(409, "The reuse is not in technical onboarding; concurrent change")
@reuses_api.problem(413, "Body too large")
@reuses_api.problem(415, "The body is not application/json")
@reuses_api.problem(422, "Date before the contract or in the future, or unknown field")
@reuses_api.doc(security=BEARER)
def update_onboarding(data, reuse_id: int, key: str, lang=None):
    """Tick an item of the technical onboarding checklist done (with its date) or open it again"""
    item = service.update_onboarding_item(
        current_user, reuse_id, key, data["done"], data.get("done_on"), data.get("note")
    )
    return _onboarding_item(item, item.reuse.listing)


# --- rollout --------------------------------------------------------------------------------


@reuses_api.route(f"{ONE}/rollout", methods=["GET"])
@policy(Permission.VIEW_REUSE)
@reuses_api.arguments(RolloutQuery, location="query", unknown=RAISE)
@reuses_api.response(200, RolloutPageOut)
@reuses_api.problem(401, UNAUTHORIZED)
@reuses_api.problem(403, "Only users of a Land, FITKO and admins see reuses")
@reuses_api.problem(404, REUSE_NOT_FOUND)
@reuses_api.problem(422, "Invalid filter or unknown parameter")
@reuses_api.doc(security=BEARER)
def rollout(query, reuse_id: int):
    """The adopter's authorities and how far each is, with the progress counts"""
    reuse, page = service.list_rollouts(
        current_user,
        reuse_id,
        status=query.get("status"),
        q=query.get("q"),
        page=query["page"],
        per_page=query["page_size"],
    )
    rows = [
        {
            "ags": row.authority.ags,
            "name": row.authority.name,
            "level": row.authority.level,
            "kreis_ags": row.kreis_ags,
            "status": row.status,
            "status_on": row.status_on,
            "live_on": row.live_on,
        }
        for row in page.items
    ]
    return {
        **_page(page, rows),
        "progress": _progress(service.rollout_progress([reuse.id])[reuse.id]),
    }


@reuses_api.route(f"{ONE}/rollout", methods=["POST"])
@policy(Permission.MANAGE_ROLLOUT)
@reuses_api.arguments(ApiQuery, location="query", unknown=RAISE, as_kwargs=True)
@reuses_api.arguments(RolloutAddIn)
@reuses_api.response(200, AddedOut)
@reuses_api.problem(400, "The body is not valid JSON")
@reuses_api.problem(401, UNAUTHORIZED)
@reuses_api.problem(403, "Only editors of the adopter Land manage the rollout")
@reuses_api.problem(404, REUSE_NOT_FOUND)
@reuses_api.problem(409, "No contract in force yet; concurrent change")
@reuses_api.problem(413, "Body too large")
@reuses_api.problem(415, "The body is not application/json")
@reuses_api.problem(
    422, "Unknown authority or one of another Land, date before the contract or in the future"
)
@reuses_api.doc(security=BEARER)
def add_rollout(data, reuse_id: int, lang=None):
    """Plan authorities of the adopter Land (all or nothing; planned ones stay as they are)"""
    try:
        added = service.add_rollout_authorities(
            current_user, reuse_id, data["authorities"], data.get("planned_on")
        )
    except Invalid as error:
        # The service names the date "date" (as in its form); here the field is planned_on.
        if "date" in error.errors:
            error.errors["planned_on"] = error.errors.pop("date")
        raise
    return {"added": added}


@reuses_api.route(f"{ONE}/rollout", methods=["PATCH"])
@policy(Permission.MANAGE_ROLLOUT)
@reuses_api.arguments(ApiQuery, location="query", unknown=RAISE, as_kwargs=True)
@reuses_api.arguments(RolloutUpdateIn)
@reuses_api.response(200, UpdatedOut)
@reuses_api.problem(400, "The body is not valid JSON")
@reuses_api.problem(401, UNAUTHORIZED)
@reuses_api.problem(403, "Only editors of the adopter Land manage the rollout")
@reuses_api.problem(404, REUSE_NOT_FOUND)
@reuses_api.problem(
    409,
    "No contract in force, a step would be skipped, live before the reuse is live; "
    "concurrent change",
)
@reuses_api.problem(413, "Body too large")
@reuses_api.problem(415, "The body is not application/json")
@reuses_api.problem(
    422, "Authority not in the rollout, date before the contract or the last step, or future"
)
@reuses_api.doc(security=BEARER)
def update_rollout(data, reuse_id: int, lang=None):
    """Move many authorities one step on (planned → connecting → live) on one date"""
    updated = service.update_rollout(
        current_user, reuse_id, data["authorities"], data["status"], data["date"]
    )
    return {"updated": updated}


# --- contracts ------------------------------------------------------------------------------


@contracts_api.route("/contracts", methods=["GET"], endpoint="index")
@policy(Permission.VIEW_CONTRACT)
@contracts_api.arguments(ContractQuery, location="query", unknown=RAISE)
@contracts_api.response(200, ContractPageOut)
@contracts_api.problem(401, UNAUTHORIZED)
@contracts_api.problem(403, "Only users of a Land, FITKO and admins see contracts")
@contracts_api.problem(422, "Invalid filter or unknown parameter")
@contracts_api.doc(security=BEARER)
def contract_index(query):
    """The contracts the caller may see, newest order first; paginated

    FITKO and admins see all; users of a Land the contracts of the reuses their
    Land adopts or provides.
    """
    page = service.list_contracts(
        current_user,
        status=query.get("status"),
        page=query["page"],
        per_page=query["page_size"],
    )
    return _page(page, [_contract_summary(contract) for contract in page.items])


@contracts_api.route(ONE_CONTRACT, methods=["GET"], endpoint="read")
@policy(Permission.VIEW_CONTRACT)
@contracts_api.arguments(ApiQuery, location="query", unknown=RAISE, as_kwargs=True)
@contracts_api.response(200, ContractOut, headers=ETAG)
@contracts_api.problem(401, UNAUTHORIZED)
@contracts_api.problem(403, "Only users of a Land, FITKO and admins see contracts")
@contracts_api.problem(404, CONTRACT_NOT_FOUND)
@contracts_api.problem(422, "Unknown query parameter")
@contracts_api.doc(security=BEARER)
def contract_read(contract_id: int, lang=None):
    """A contract: the conditions as ordered, the check, the countersignature"""
    return _contract_response(service.get_contract(current_user, contract_id))


def _contract_action(rule: str, permission: Permission, schema, summary: str, forbidden: str):
    """Register one FITKO step on a contract: POST with a JSON body, If-Match optional."""

    def decorate(view):
        decorators = [
            contracts_api.route(f"{ONE_CONTRACT}/{rule}", methods=["POST"]),
            policy(permission),
            contracts_api.arguments(ApiQuery, location="query", unknown=RAISE, as_kwargs=True),
            contracts_api.arguments(
                IfMatchOptional, location="headers", unknown=EXCLUDE, as_kwargs=True
            ),
            contracts_api.arguments(schema),
            contracts_api.response(200, ContractOut, headers=ETAG),
            contracts_api.problem(400, "The body is not valid JSON"),
            contracts_api.problem(401, UNAUTHORIZED),
            contracts_api.problem(403, forbidden),
            contracts_api.problem(404, CONTRACT_NOT_FOUND),
            contracts_api.problem(
                409, "The contract does not wait for this step; concurrent change"
            ),
            contracts_api.problem(412, "If-Match does not name the current version"),
            contracts_api.problem(413, "Body too large"),
            contracts_api.problem(415, "The body is not application/json"),
            contracts_api.problem(422, "Invalid or unknown field"),
            contracts_api.doc(security=BEARER, summary=summary),
        ]
        for decorator in reversed(decorators):
            view = decorator(view)
        return view

    return decorate


@_contract_action(
    "check",
    Permission.CHECK_CONTRACT,
    CheckIn,
    "Record the in-house eligibility check of an ordered contract (FITKO)",
    "Only FITKO staff check contracts",
)
def check(data, contract_id: int, lang=None, if_match=None):
    contract = service.check_contract(
        current_user, contract_id, data, _contract_version(contract_id)
    )
    return _contract_response(contract)


@_contract_action(
    "countersign",
    Permission.COUNTERSIGN_CONTRACT,
    CountersignIn,
    "Countersign a checked contract: it takes effect, the reuse is contracted "
    "(a second FITKO user)",
    "Only FITKO staff countersign, and never the person who checked (four eyes)",
)
def countersign(data, contract_id: int, lang=None, if_match=None):
    contract = service.countersign_contract(
        current_user, contract_id, data, _contract_version(contract_id)
    )
    return _contract_response(contract)
