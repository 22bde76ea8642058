"""marshmallow schemas of the reuse API: reuses, contracts, onboarding and rollout.

Request bodies refuse unknown properties (``unknown=RAISE``): a client can never
set ``stage``, ``adopter``, ``lock_version``, a contract's status or who checked
it. The schemas check types and shapes (money as integer cents, dates as ISO
``YYYY-MM-DD`` strings, Länder as AGS, ISO or short code, ids up to INT32_MAX);
``fitstore.services.reuses`` then checks the domain rules (stage, party, four
eyes, dates against the contract).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate

from fitstore.models import (
    AuthorityLevel,
    ConditionModel,
    ContractStatus,
    EligibilityBasis,
    ReuseStage,
    RolloutStatus,
)
from fitstore.schemas import LAND_CODES, FullMatch, JsonInteger, PageOut, PageQuery, StrictSchema
from fitstore.schemas.listings import (
    INT32_MAX,
    Cents,
    FlatList,
    LandRefOut,
    StrictBoolean,
    Text,
    UtcDateTime,
)
from fitstore.services.listings import BIGINT_MAX
from fitstore.services.reuses import ACTIONS, MAX_BULK, MAX_COMMENT

_ISO_DATE = FullMatch(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
ROLLOUT_TARGETS = (RolloutStatus.CONNECTING.value, RolloutStatus.LIVE.value)


# --- fields ---------------------------------------------------------------------------


class IsoDate(fields.Date):
    """A calendar date as ``YYYY-MM-DD`` only.

    ``date.fromisoformat`` also takes ``20250101`` and week dates (``2025-W01-1``),
    which the OpenAPI ``format: date`` does not allow: refuse them here.
    """

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise self.make_error("invalid")
        try:
            _ISO_DATE(value)
        except ValidationError:
            raise self.make_error("invalid") from None
        return super()._deserialize(value, attr, data, **kwargs)


def _id_field(description: str, **kwargs) -> JsonInteger:
    return JsonInteger(
        validate=validate.Range(min=1, max=INT32_MAX),
        metadata={"description": description},
        **kwargs,
    )


def _authorities() -> FlatList:
    return FlatList(
        Text(
            validate=FullMatch(
                r"^[0-9]{5}([0-9]{3})?$",
                error=_l("Erwartet wird ein Kreisschlüssel (5 Ziffern) oder ein AGS (8 Ziffern)."),
            )
        ),
        required=True,
        validate=validate.Length(min=1, max=MAX_BULK),
        metadata={
            "description": "Authorities of the adopter Land: Kreis key (5 digits) or "
            f"Gemeinde AGS (8 digits); at most {MAX_BULK}"
        },
    )


# --- queries --------------------------------------------------------------------------


class ReuseQuery(PageQuery):
    listing = fields.Integer(
        validate=validate.Range(min=1, max=INT32_MAX),
        metadata={"description": "Only reuses of this listing (id)"},
    )
    land = fields.String(
        validate=validate.OneOf(
            LAND_CODES,
            error=_l("Unbekanntes Land: AGS (z. B. 12), ISO-Code (DE-BB) oder Kürzel (BB)."),
        ),
        metadata={"description": "Adopter Land: AGS (12), ISO code (DE-BB) or short code (BB)"},
    )
    stage = fields.Enum(ReuseStage, by_value=True)
    side = fields.String(
        validate=validate.OneOf(["adopter", "provider"]),
        metadata={
            "description": "adopter: the caller's Land reuses; provider: the caller's Land "
            "provides the listing (ignored for callers without a Land)"
        },
    )


class ContractQuery(PageQuery):
    status = fields.Enum(ContractStatus, by_value=True)


class RolloutQuery(PageQuery):
    status = fields.Enum(RolloutStatus, by_value=True)
    q = Text(
        validate=[
            validate.Length(max=100),
            FullMatch(
                r"^[^\u0000-\u001f\u007f]*$",
                error=_l("Der Suchbegriff enthält Steuerzeichen."),
            ),
        ],
        metadata={"description": "Part of the authority's name, or its exact AGS"},
    )


class IfMatchOptional(Schema):
    if_match = fields.String(
        data_key="If-Match",
        metadata={
            "description": "The ETag as last read; if given and stale, 412",
            "example": '"3"',
        },
    )


# --- request bodies -------------------------------------------------------------------


class ReuseIn(StrictSchema):
    """Interessenbekundung: the caller's Land wants to reuse a published listing."""

    listing_id = _id_field("The published listing of another Land", required=True)
    planned_start = IsoDate(allow_none=True, load_default=None)
    expected_usage = JsonInteger(
        allow_none=True,
        load_default=None,
        validate=validate.Range(min=0, max=INT32_MAX),
        metadata={"description": "Expected cases per year"},
    )
    note = Text(load_default="", validate=validate.Length(max=MAX_COMMENT))


class ConditionsIn(StrictSchema):
    """The provider's conditions; the adopter orders on exactly these terms."""

    condition_model = fields.Enum(ConditionModel, by_value=True, required=True)
    annual_fee_cents = Cents(
        metadata={"description": "Annual fee in euro cents; required for annual_fee"}
    )
    share_rule = Text(
        load_default="",
        validate=validate.Length(max=MAX_COMMENT),
        metadata={"description": "The share rule; required for share_rule"},
    )
    connection_cost_cents = JsonInteger(
        required=True,
        validate=validate.Range(
            min=0, max=BIGINT_MAX, error=_l("Ein Betrag in Cent liegt zwischen {min} und {max}.")
        ),
        metadata={"description": "One-off connection cost (Anbindungskosten) in euro cents"},
    )
    scope = Text(required=True, validate=validate.Length(min=3, max=5000))
    conditions_start = IsoDate(required=True)


class TransitionIn(StrictSchema):
    action = fields.String(
        required=True,
        validate=validate.OneOf(list(ACTIONS), error=_l("Unbekannter Schritt. Erlaubt: {choices}")),
    )
    comment = Text(allow_none=True, load_default=None, validate=validate.Length(max=MAX_COMMENT))


class OnboardingIn(StrictSchema):
    done = StrictBoolean(required=True)
    done_on = IsoDate(
        allow_none=True,
        load_default=None,
        metadata={"description": "When it was done (default today); not before the contract"},
    )
    note = Text(allow_none=True, load_default=None, validate=validate.Length(max=500))


class CheckIn(StrictSchema):
    eligibility_basis = fields.Enum(EligibilityBasis, by_value=True, required=True)
    legal_basis = Text(required=True, validate=validate.Length(min=3, max=200))
    remarks = Text(load_default="", validate=validate.Length(max=MAX_COMMENT))


class CountersignIn(StrictSchema):
    effective_date = IsoDate(
        required=True, metadata={"description": "Not before the order; the contract's start"}
    )


class RolloutAddIn(StrictSchema):
    authorities = _authorities()
    planned_on = IsoDate(
        allow_none=True,
        load_default=None,
        metadata={"description": "Default today; not before the contract, not in the future"},
    )


class RolloutUpdateIn(StrictSchema):
    authorities = _authorities()
    status = fields.String(
        required=True,
        validate=validate.OneOf(ROLLOUT_TARGETS),
        metadata={"description": "The next step: planned → connecting → live"},
    )
    date = IsoDate(
        required=True, metadata={"description": "Not before the contract, not in the future"}
    )


# --- output ---------------------------------------------------------------------------


class ListingRefOut(StrictSchema):
    id = fields.Integer(dump_only=True)
    url = fields.String(dump_only=True)
    title = fields.String(dump_only=True)
    provider = fields.Nested(LandRefOut, dump_only=True)


class ReuseRefOut(StrictSchema):
    id = fields.Integer(dump_only=True)
    url = fields.String(dump_only=True)
    stage = fields.Enum(ReuseStage, by_value=True, dump_only=True)


class ConditionsOut(StrictSchema):
    condition_model = fields.Enum(ConditionModel, by_value=True, dump_only=True)
    annual_fee_cents = fields.Integer(dump_only=True, allow_none=True)
    share_rule = fields.String(dump_only=True)
    connection_cost_cents = fields.Integer(dump_only=True, allow_none=True)
    scope = fields.String(dump_only=True)
    conditions_start = fields.Date(dump_only=True, allow_none=True)


class ProposedConditionsOut(ConditionsOut):
    proposed_at = UtcDateTime(dump_only=True)


class ContractRefOut(StrictSchema):
    id = fields.Integer(dump_only=True)
    url = fields.String(dump_only=True)
    number = fields.String(dump_only=True)
    status = fields.Enum(ContractStatus, by_value=True, dump_only=True)
    effective_date = fields.Date(dump_only=True, allow_none=True)


class OnboardingItemOut(StrictSchema):
    key = fields.String(dump_only=True)
    label = fields.String(dump_only=True)
    mandatory = fields.Boolean(dump_only=True)
    done = fields.Boolean(dump_only=True)
    done_on = fields.Date(dump_only=True, allow_none=True)
    note = fields.String(dump_only=True)


class ProgressOut(StrictSchema):
    planned = fields.Integer(dump_only=True)
    connecting = fields.Integer(dump_only=True)
    live = fields.Integer(dump_only=True)
    total = fields.Integer(dump_only=True)


class TransitionOut(StrictSchema):
    from_stage = fields.Enum(
        ReuseStage, by_value=True, dump_only=True, allow_none=True, data_key="from"
    )
    to_stage = fields.Enum(ReuseStage, by_value=True, dump_only=True, data_key="to")
    at = UtcDateTime(dump_only=True)
    actor = fields.String(dump_only=True, allow_none=True, metadata={"description": "Name"})
    comment = fields.String(dump_only=True)


class ReuseSummaryOut(StrictSchema):
    id = fields.Integer(dump_only=True)
    url = fields.String(dump_only=True, metadata={"description": "Path of the full reuse"})
    stage = fields.Enum(ReuseStage, by_value=True, dump_only=True)
    resume_stage = fields.Enum(
        ReuseStage,
        by_value=True,
        dump_only=True,
        allow_none=True,
        metadata={"description": "On hold: the stage it resumes to"},
    )
    stage_since = UtcDateTime(dump_only=True)
    adopter = fields.Nested(LandRefOut, dump_only=True)
    listing = fields.Nested(ListingRefOut, dump_only=True)
    waiting_for = fields.String(
        dump_only=True,
        allow_none=True,
        validate=validate.OneOf(["adopter", "provider", "fitko"]),
        metadata={"description": "Who acts next; null when live or closed"},
    )
    updated_at = UtcDateTime(dump_only=True)


class ReuseOut(ReuseSummaryOut):
    planned_start = fields.Date(dump_only=True, allow_none=True)
    expected_usage = fields.Integer(dump_only=True, allow_none=True)
    note = fields.String(dump_only=True)
    conditions = fields.Nested(
        ProposedConditionsOut,
        dump_only=True,
        allow_none=True,
        metadata={"description": "The provider's conditions; null until proposed"},
    )
    contract = fields.Nested(ContractRefOut, dump_only=True, allow_none=True)
    onboarding = fields.List(fields.Nested(OnboardingItemOut), dump_only=True)
    rollout = fields.Nested(ProgressOut, dump_only=True)
    history = fields.List(fields.Nested(TransitionOut), dump_only=True)
    available_actions = fields.List(
        fields.String(validate=validate.OneOf(list(ACTIONS))),
        dump_only=True,
        metadata={"description": "The transitions the caller could make now"},
    )
    lock_version = fields.Integer(dump_only=True)


class ReusePageOut(PageOut):
    items = fields.List(fields.Nested(ReuseSummaryOut), dump_only=True)


class ContractSummaryOut(ContractRefOut):
    reuse = fields.Nested(ReuseRefOut, dump_only=True)
    adopter = fields.Nested(LandRefOut, dump_only=True)
    listing = fields.Nested(ListingRefOut, dump_only=True)
    ordered_at = UtcDateTime(dump_only=True)


class ContractOut(ContractSummaryOut):
    conditions = fields.Nested(
        ConditionsOut, dump_only=True, metadata={"description": "The conditions as ordered"}
    )
    ordered_by = fields.String(dump_only=True, allow_none=True)
    checked_at = UtcDateTime(dump_only=True, allow_none=True)
    checked_by = fields.String(dump_only=True, allow_none=True)
    eligibility_basis = fields.Enum(
        EligibilityBasis, by_value=True, dump_only=True, allow_none=True
    )
    legal_basis = fields.String(dump_only=True)
    check_remarks = fields.String(dump_only=True)
    countersigned_at = UtcDateTime(dump_only=True, allow_none=True)
    countersigned_by = fields.String(dump_only=True, allow_none=True)
    ended_on = fields.Date(dump_only=True, allow_none=True)
    lock_version = fields.Integer(dump_only=True)


class ContractPageOut(PageOut):
    items = fields.List(fields.Nested(ContractSummaryOut), dump_only=True)


class RolloutRowOut(StrictSchema):
    ags = fields.String(dump_only=True, metadata={"description": "The authority's AGS"})
    name = fields.String(dump_only=True)
    level = fields.Enum(AuthorityLevel, by_value=True, dump_only=True)
    kreis_ags = fields.String(dump_only=True)
    status = fields.Enum(RolloutStatus, by_value=True, dump_only=True)
    status_on = fields.Date(dump_only=True, metadata={"description": "Reached the status on"})
    live_on = fields.Date(dump_only=True, allow_none=True)


class RolloutPageOut(PageOut):
    items = fields.List(fields.Nested(RolloutRowOut), dump_only=True)
    progress = fields.Nested(
        ProgressOut, dump_only=True, metadata={"description": "Counts over the whole rollout"}
    )


class AddedOut(StrictSchema):
    added = fields.Integer(dump_only=True, metadata={"description": "Authorities newly planned"})


class UpdatedOut(StrictSchema):
    updated = fields.Integer(dump_only=True, metadata={"description": "Authorities moved on"})
