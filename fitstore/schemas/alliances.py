"""marshmallow schemas of the alliance API: request bodies and the alliance as the caller sees it.

Request bodies name only what a client decides (``unknown=RAISE``): never the Land
(always the caller's own), a status, an outcome or a vote on someone else's behalf.
The schemas check types and shapes; the alliances service checks the domain rules
(the year's range, percentages summing to 100, weights, one vote per Land).

Every error message is a flat list of strings per field, as ``ProblemOut`` documents
it: errors inside ``parameters`` report as "key: message". ``parameters`` names only
cost keys and Länder (see ``fitstore.schemas.costs.KeyParametersIn``).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import fields, validate

from fitstore.models import CostKey, DecisionStatus, FundingModel, MembershipStatus, ReuseStage
from fitstore.models import Vote as VoteChoice
from fitstore.schemas import JsonInteger, StrictSchema
from fitstore.schemas.costs import key_parameters
from fitstore.schemas.listings import LandRefOut, Text, UtcDateTime

# The service narrows this to 2020 .. this year + 5; the schema only keeps absurd numbers out.
YEAR_RANGE = validate.Range(
    min=2000, max=2100, error=_l("Bitte ein Jahr zwischen {min} und {max}.")
)


# --- request bodies -------------------------------------------------------------------


class JoinIn(StrictSchema):
    message = Text(
        load_default="",
        validate=validate.Length(max=2000),
        metadata={"description": "For the lead: planned start, expected usage, …"},
    )


class RequestDecisionIn(StrictSchema):
    decision = fields.String(
        required=True,
        validate=validate.OneOf(["accept", "decline"]),
        metadata={"description": "accept: the Land becomes a member; decline: refused"},
    )


class CostKeyDecisionIn(StrictSchema):
    year = JsonInteger(
        required=True,
        validate=YEAR_RANGE,
        metadata={"description": "Calendar year, 2020 to the current year + 5", "example": 2027},
    )
    key = fields.Enum(CostKey, by_value=True, required=True)
    funding_model = fields.Enum(
        FundingModel,
        by_value=True,
        required=True,
        metadata={
            "description": "participants: 100 % among the participating Länder; efa_2024 "
            "(IT-Planungsrat 2023/35): 50 % participants, 25 % Bund, 25 % all Länder"
        },
    )
    parameters = key_parameters(
        "mixed: {key: percent} over the other keys, summing to exactly 100 "
        '(e.g. {"usage": 50, "koenigstein": 50}); target_group: {Land (AGS, ISO or short '
        "code): weight}, weights ≥ 0, at least one > 0; other keys: none",
        load_default=dict,
    )
    rationale = Text(load_default="", validate=validate.Length(max=2000))


class VoteIn(StrictSchema):
    vote = fields.Enum(VoteChoice, by_value=True, required=True)
    comment = Text(load_default="", validate=validate.Length(max=1000))


# --- output -----------------------------------------------------------------------------


class ContactOut(StrictSchema):
    name = fields.String(dump_only=True)
    email = fields.String(dump_only=True)


class RolloutOut(StrictSchema):
    live = fields.Integer(dump_only=True, metadata={"description": "Authorities live"})
    total = fields.Integer(dump_only=True, metadata={"description": "Authorities planned"})


class MemberOut(StrictSchema):
    land = fields.Nested(LandRefOut, dump_only=True)
    is_lead = fields.Boolean(dump_only=True)
    live = fields.Boolean(
        dump_only=True,
        metadata={"description": "Adopters: reuse stage live; the lead: the listing is published"},
    )
    since = UtcDateTime(dump_only=True, allow_none=True)
    stage = fields.Enum(ReuseStage, by_value=True, dump_only=True, allow_none=True)
    rollout = fields.Nested(RolloutOut, dump_only=True, allow_none=True)
    contact = fields.Nested(ContactOut, dump_only=True, allow_none=True)


class MembershipOut(StrictSchema):
    land = fields.Nested(LandRefOut, dump_only=True)
    status = fields.Enum(MembershipStatus, by_value=True, dump_only=True)
    is_lead = fields.Boolean(dump_only=True)
    requested_at = UtcDateTime(dump_only=True)
    decided_at = UtcDateTime(dump_only=True, allow_none=True)
    message = fields.String(dump_only=True)


class VoteOut(StrictSchema):
    land_ags = fields.String(dump_only=True)
    vote = fields.Enum(VoteChoice, by_value=True, dump_only=True)
    comment = fields.String(dump_only=True)
    voted_at = UtcDateTime(dump_only=True)


class CostKeyDecisionOut(StrictSchema):
    year = fields.Integer(dump_only=True)
    proposed_key = fields.Enum(CostKey, by_value=True, dump_only=True)
    parameters = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        dump_only=True,
        metadata={"description": "As proposed; numbers as exact decimal strings"},
    )
    funding_model = fields.Enum(FundingModel, by_value=True, dump_only=True)
    status = fields.Enum(DecisionStatus, by_value=True, dump_only=True)
    outcome_key = fields.Enum(
        CostKey,
        by_value=True,
        dump_only=True,
        allow_none=True,
        metadata={"description": "The key that applies once decided (rejected: usage)"},
    )
    rationale = fields.String(dump_only=True)
    proposed_at = UtcDateTime(dump_only=True)
    decided_at = UtcDateTime(dump_only=True, allow_none=True)
    votes = fields.List(fields.Nested(VoteOut), dump_only=True)
    waiting_for = fields.List(
        fields.String(),
        dump_only=True,
        metadata={"description": "AGS of the members who have not voted on an open decision"},
    )


class AllianceOut(StrictSchema):
    listing_id = fields.Integer(dump_only=True)
    lead = fields.Nested(LandRefOut, dump_only=True)
    details = fields.Boolean(
        dump_only=True,
        metadata={
            "description": "The caller sees details (members, the lead, FITKO, admins); "
            "otherwise only who is a member and who is live, and the detail fields are null"
        },
    )
    members = fields.List(fields.Nested(MemberOut), dump_only=True)
    own_membership = fields.Nested(
        MembershipOut,
        dump_only=True,
        allow_none=True,
        metadata={"description": "The caller's Land's membership or join request"},
    )
    pending_requests = fields.List(fields.Nested(MembershipOut), dump_only=True, allow_none=True)
    cost_key_decisions = fields.List(
        fields.Nested(CostKeyDecisionOut), dump_only=True, allow_none=True
    )
