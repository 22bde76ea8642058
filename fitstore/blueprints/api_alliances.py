"""The alliance part of the JSON API under /api/v1/listings/<id>/alliance.

Reading is public: anybody who may see the listing sees which Länder are members
and which of them are live; a bearer token of a member, the lead, FITKO or an admin
adds stages, rollout progress, contacts, join requests and cost-key decisions.
Every write needs a bearer token and goes through ``fitstore.services.alliances``,
whose exceptions the app's problem handler turns into RFC 9457 responses.

Land codes in paths are AGS ("12"), ISO ("DE-BB") or short codes ("BB"), as
elsewhere in the API.
"""

from __future__ import annotations

from flask_login import current_user
from marshmallow import RAISE

from fitstore.blueprints.api import BEARER, PREFIX, UNAUTHORIZED, ApiBlueprint, check_ids_and_body
from fitstore.extensions import csrf
from fitstore.models import AllianceMembership, CostKeyDecision
from fitstore.permissions import Permission, policy
from fitstore.schemas import LAND_CODES, ApiQuery
from fitstore.schemas.alliances import (
    AllianceOut,
    CostKeyDecisionIn,
    CostKeyDecisionOut,
    JoinIn,
    MembershipOut,
    RequestDecisionIn,
    VoteIn,
)
from fitstore.services import alliances as service
from fitstore.services import reference

alliances_api = ApiBlueprint(
    "api_alliances",
    __name__,
    url_prefix=PREFIX,
    description="Nachnutzungsallianzen: members, join requests, cost-key decisions",
)
csrf.exempt(alliances_api)

ONE = "/listings/<int:listing_id>/alliance"
OPTIONAL_BEARER = [{}, *BEARER]

JSON_BODY = {"join", "decide_request", "propose", "vote"}
# The Land of a join request, in any of the codes the API accepts elsewhere.
LAND_CODE = {
    "in": "path",
    "name": "land_code",
    "required": True,
    "description": "The asking Land: AGS (09), ISO code (DE-BY) or short code (BY)",
    "schema": {"type": "string", "enum": list(LAND_CODES)},
}


@alliances_api.before_request
def check_request():
    check_ids_and_body(("listing_id",), JSON_BODY)


# --- presentation -------------------------------------------------------------------------


def _land(land) -> dict:
    return {"ags": land.ags, "iso": land.iso, "short": land.short, "name": land.name}


def _membership(row: AllianceMembership) -> dict:
    return {
        "land": _land(row.land),
        "status": row.status,
        "is_lead": row.is_lead,
        "requested_at": row.requested_at,
        "decided_at": row.decided_at,
        "message": row.message,
    }


def _decision(view: service.DecisionView) -> dict:
    decision = view.decision
    return {
        "year": decision.year,
        "proposed_key": decision.proposed_key,
        "parameters": {name: service.plain(value) for name, value in view.parameters.items()},
        "funding_model": decision.funding_model,
        "status": decision.status,
        "outcome_key": decision.outcome_key,
        "rationale": decision.rationale,
        "proposed_at": decision.proposed_at,
        "decided_at": decision.decided_at,
        "votes": [
            {
                "land_ags": cast.land_ags,
                "vote": cast.vote,
                "comment": cast.comment,
                "voted_at": cast.voted_at,
            }
            for cast in view.votes
        ],
        "waiting_for": view.waiting_for,
    }


def _alliance(page: service.AlliancePage) -> dict:
    details = page.details

    def member(m: service.Member) -> dict:
        return {
            "land": _land(m.land),
            "is_lead": m.is_lead,
            "live": m.live,
            "since": m.since if details else None,
            "stage": m.stage if details else None,
            "rollout": {"live": m.rollout_live, "total": m.rollout_total} if details else None,
            "contact": {"name": m.contact_name, "email": m.contact_email} if details else None,
        }

    return {
        "listing_id": page.listing.id,
        "lead": _land(page.listing.provider_land),
        "details": details,
        "members": [member(m) for m in page.overview.members],
        "own_membership": _membership(page.own) if page.own else None,
        "pending_requests": [_membership(row) for row in page.pending] if details else None,
        "cost_key_decisions": [_decision(view) for view in page.decisions] if details else None,
    }


def _decision_response(listing_id: int, decision: CostKeyDecision) -> dict:
    views = service.decisions(current_user, listing_id)
    return next(_decision(view) for view in views if view.decision.id == decision.id)


# --- routes ---------------------------------------------------------------------------------

WRITE_PROBLEMS = {
    400: "The body is not valid JSON",
    401: UNAUTHORIZED,
    413: "Body too large",
    415: "The body is not application/json",
}


@alliances_api.route(ONE, methods=["GET"])
@policy(Permission.PUBLIC)  # the service shows what VIEW_ALLIANCE(_DETAILS) allow
@alliances_api.arguments(ApiQuery, location="query", unknown=RAISE, as_kwargs=True)
@alliances_api.response(200, AllianceOut)
@alliances_api.problem(404, "No such listing, or not visible to the caller")
@alliances_api.problem(422, "Unknown query parameter")
@alliances_api.doc(security=OPTIONAL_BEARER)
def read(listing_id: int, lang=None):
    """The alliance of a listing: members and who is live; details for members"""
    return _alliance(service.alliance_page(current_user, listing_id))


@alliances_api.route(f"{ONE}/join", methods=["POST"])
@policy(Permission.JOIN_ALLIANCE)
@alliances_api.arguments(ApiQuery, location="query", unknown=RAISE, as_kwargs=True)
@alliances_api.arguments(JoinIn, as_kwargs=True)
@alliances_api.response(201, MembershipOut, description="The join request, waiting for the lead")
@alliances_api.problems(
    WRITE_PROBLEMS,
    {
        403: "Only editors of a Land other than the lead may ask to join",
        404: "No such listing, or not visible to the caller",
        409: "The Land is a member or waits for an answer; the listing is not published",
        422: "Invalid or unknown field",
    },
)
@alliances_api.doc(security=BEARER)
def join(listing_id: int, message: str = "", lang=None):
    """Ask to join the alliance for the caller's Land (an editor of a Land other than the lead)"""
    return _membership(service.request_join(current_user, listing_id, message)), 201


@alliances_api.route(f"{ONE}/requests/<land_code>", methods=["POST"], parameters=[LAND_CODE])
@policy(Permission.LEAD_ALLIANCE)
@alliances_api.arguments(ApiQuery, location="query", unknown=RAISE, as_kwargs=True)
@alliances_api.arguments(RequestDecisionIn, as_kwargs=True)
@alliances_api.response(200, MembershipOut, description="The decided membership")
@alliances_api.problems(
    WRITE_PROBLEMS,
    {
        403: "Only editors of the lead Land decide",
        404: "No such listing or Land, or the listing is not visible to the caller",
        409: "The Land has no pending request",
        422: "Invalid or unknown field",
    },
)
@alliances_api.doc(security=BEARER)
def decide_request(listing_id: int, land_code: str, decision: str, lang=None):
    """Accept or decline a Land's join request (an editor of the lead Land)"""
    land = reference.get_land(land_code)
    row = service.decide_join(current_user, listing_id, land.ags, decision == "accept")
    return _membership(row)


@alliances_api.route(f"{ONE}/cost-key-decisions", methods=["POST"])
@policy(Permission.LEAD_ALLIANCE)
@alliances_api.arguments(ApiQuery, location="query", unknown=RAISE, as_kwargs=True)
@alliances_api.arguments(CostKeyDecisionIn)
@alliances_api.response(
    201,
    CostKeyDecisionOut,
    description="The proposal with the lead's approval; adopted at once if the lead is alone",
)
@alliances_api.problems(
    WRITE_PROBLEMS,
    {
        403: "Only editors of the lead Land propose",
        404: "No such listing, or not visible to the caller",
        409: "The year has a proposal already; the listing is not published",
        422: "Invalid or unknown field: year out of range, percentages not summing to 100, …",
    },
)
@alliances_api.doc(security=BEARER)
def propose(data, listing_id: int, lang=None):
    """Propose the cost key of a year (an editor of the lead Land)"""
    decision = service.propose_cost_key(
        current_user,
        listing_id,
        data["year"],
        data["key"].value,
        data["funding_model"].value,
        data["parameters"],
        data["rationale"],
    )
    return _decision_response(listing_id, decision), 201


@alliances_api.route(f"{ONE}/cost-key-decisions/<int:year>/votes", methods=["POST"])
@policy(Permission.VOTE_COST_KEY)
@alliances_api.arguments(ApiQuery, location="query", unknown=RAISE, as_kwargs=True)
@alliances_api.arguments(VoteIn, as_kwargs=True)
@alliances_api.response(201, CostKeyDecisionOut, description="The decision after the vote")
@alliances_api.problems(
    WRITE_PROBLEMS,
    {
        403: "Only editors of member Länder vote",
        404: "No such listing or decision, or not visible to the caller",
        409: "Already decided, or the Land has voted",
        422: "Invalid or unknown field",
    },
)
@alliances_api.doc(security=BEARER)
def vote(listing_id: int, year: int, vote, comment: str = "", lang=None):
    """Approve or object to the cost key of a year, once per Land (an editor of a member Land)"""
    decision = service.vote(current_user, listing_id, year, vote.value, comment)
    return _decision_response(listing_id, decision), 201
