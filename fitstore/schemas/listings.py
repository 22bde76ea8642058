"""marshmallow schemas of the listings API: the catalogue query, the content body, the outputs.

The request body (``ListingIn``) names the content fields only
(``fitstore.services.listings.CONTENT_FIELDS``) and refuses anything else
(``unknown=RAISE``): a client can never set ``id``, ``status``, the provider
Land, ``lock_version``, ``published_version`` or timestamps. It checks types and
shapes (and documents them in the OpenAPI document); the service then checks
the domain rules (Themenfeld exists, operator is an IT-Dienstleister, ...).

Every error message is a flat list of strings per field, as ``ProblemOut``
documents it: list items and checklist entries report inside their field.
"""

from __future__ import annotations

import re
from datetime import UTC

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate

from fitstore.models import ListingStatus, RevisionStatus, Transport, UserAccount
from fitstore.schemas import (
    LAENDER,
    LAND_CODES,
    FullMatch,
    JsonInteger,
    PageOut,
    PageQuery,
    StrictSchema,
)
from fitstore.services.listings import BIGINT_MAX, criteria

INT32_MAX = 2**31 - 1
# Lone surrogates cannot be encoded as UTF-8 (the database refuses them), NUL
# cannot be stored in PostgreSQL text: JSON can carry both, so refuse them here.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# The same rule as a pattern of the OpenAPI document (ECMA-262, which Python's re reads
# too). It names NUL only: a lone surrogate is no Unicode character at all (RFC 8259,
# 8.2), and regex engines that work on characters (Rust's, in JSON Schema validators)
# refuse a pattern that names one.
STORABLE_TEXT = r"^[^\u0000]*$"
# Every accepted ``land`` value (AGS, ISO, short code) -> the Land's AGS, without a query.
LAND_AGS = {code: ags for ags, iso, short in LAENDER for code in (ags, iso, short)}


# --- fields ---------------------------------------------------------------------------


def _flatten(messages, prefix: str = "") -> list[str]:
    """marshmallow's nested messages ({index or key: [...]}) as one list of strings."""
    if isinstance(messages, str):
        return [f"{prefix}{messages}"]
    if isinstance(messages, dict):
        flat: list[str] = []
        for key, value in messages.items():
            label = f"{key + 1}" if isinstance(key, int) else str(key)
            flat.extend(_flatten(value, f"{prefix}{label}: "))
        return flat
    return [item for message in messages for item in _flatten(message, prefix)]


class _FlatErrorsMixin:
    def deserialize(self, *args, **kwargs):
        try:
            return super().deserialize(*args, **kwargs)
        except ValidationError as error:
            raise ValidationError(_flatten(error.messages)) from None


class FlatList(_FlatErrorsMixin, fields.List):
    """A list whose item errors read "2: message" instead of a nested {1: [...]} dict."""


class FlatNested(_FlatErrorsMixin, fields.Nested):
    """A nested object whose errors read "key: message" inside the field's own list."""


class Text(fields.String):
    """A string the database can store: no NUL, no lone surrogates.

    The OpenAPI document says so with a pattern, unless the field's own pattern or
    choices already rule them out."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        if not any(isinstance(rule, validate.Regexp | validate.OneOf) for rule in self.validators):
            self.metadata = {"pattern": STORABLE_TEXT, **self.metadata}

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if _UNSTORABLE.search(value):
            raise ValidationError(str(_l("Der Text enthält unzulässige Zeichen.")))
        return value


class StrictBoolean(fields.Boolean):
    """``true`` or ``false`` only: not 1, "yes" or "on"."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class Cents(JsonInteger):
    """An amount in euro cents: a JSON integer from 0 to the largest BIGINT, or null."""

    def __init__(self, **kwargs):
        super().__init__(
            allow_none=True,
            load_default=None,
            validate=validate.Range(
                min=0,
                max=BIGINT_MAX,
                error=_l("Ein Betrag in Cent liegt zwischen {min} und {max}."),
            ),
            **kwargs,
        )


class UtcDateTime(fields.DateTime):
    """The models keep naive UTC; the API says so (RFC 3339 with offset)."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return super()._serialize(value, attr, obj, **kwargs)


# --- catalogue query ------------------------------------------------------------------


class ListingQuery(PageQuery):
    q = Text(
        validate=[
            validate.Length(max=100),
            FullMatch(
                r"^[^\u0000-\u001f\u007f]*$",
                error=_l("Der Suchbegriff enthält Steuerzeichen."),
            ),
        ],
        metadata={
            "description": "Full-text search with German word forms "
            "(“Aufenthaltstitels” finds “Aufenthaltstitel”)"
        },
    )
    themenfeld = FlatList(
        fields.Integer(validate=validate.Range(min=1, max=14)),
        metadata={"description": "Themenfeld number 1–14; repeat for several"},
    )
    land = FlatList(
        fields.String(
            validate=validate.OneOf(
                LAND_CODES,
                error=_l("Unbekanntes Land: AGS (z. B. 12), ISO-Code (DE-BB) oder Kürzel (BB)."),
            )
        ),
        metadata={"description": "Provider Land: AGS (12), ISO code (DE-BB) or short code (BB)"},
    )
    reifegrad = FlatList(
        fields.Integer(validate=validate.Range(min=0, max=4)),
        metadata={"description": "Reifegrad 0–4; repeat for several"},
    )
    transport = FlatList(
        fields.Enum(Transport, by_value=True),
        metadata={"description": "Connection requirement (transport)"},
    )
    status = FlatList(
        fields.Enum(ListingStatus, by_value=True),
        metadata={
            "description": "Lifecycle status. Only for users of a Land, FITKO and admins; "
            "everyone else only ever gets published listings."
        },
    )
    sort = fields.String(
        load_default="relevance",
        validate=validate.OneOf(["relevance", "title", "date"]),
        metadata={"description": "relevance (with q, else title), title, or date (newest first)"},
    )


# --- request bodies -------------------------------------------------------------------


def _criterion_field(criterion) -> StrictBoolean:
    return StrictBoolean(
        load_default=False,
        metadata={"description": f"{criterion.level} ({criterion.group}): {criterion.text}"},
    )


# One property per criterion of the shipped EfA-Mindestanforderungen, so the
# OpenAPI document lists them and an unknown key is refused.
ChecklistIn = StrictSchema.from_dict(
    {criterion.key: _criterion_field(criterion) for criterion in criteria()}, name="ChecklistIn"
)


class ListingIn(StrictSchema):
    """The content of a listing: every field of a create (POST) or full replacement (PUT)."""

    title = Text(required=True, validate=validate.Length(min=3, max=200))
    ozg_name = Text(
        required=True,
        validate=validate.Length(min=3, max=200),
        metadata={"description": "Name of the OZG-Leistung"},
    )
    ozg_id = Text(
        required=True,
        validate=FullMatch(
            r"^[0-9]{1,10}$", error=_l("Die OZG-ID besteht nur aus Ziffern (z. B. 10255).")
        ),
        metadata={"description": "OZG-ID, digits only", "example": "10255"},
    )
    leika_keys = FlatList(
        Text(
            validate=FullMatch(
                r"^[0-9]{14}$", error=_l("Ein Leistungsschlüssel hat genau 14 Ziffern.")
            )
        ),
        required=True,
        validate=validate.Length(min=1, max=50),
        metadata={"description": "Leistungsschlüssel (LeiKa), 14 digits each"},
    )
    themenfeld_number = JsonInteger(
        required=True,
        validate=validate.Range(min=1, max=14, error=_l("Es gibt die Themenfelder 1 bis 14.")),
    )
    reifegrad = JsonInteger(
        required=True,
        validate=validate.Range(min=0, max=4, error=_l("Der Reifegrad liegt zwischen 0 und 4.")),
    )
    operator_id = JsonInteger(
        allow_none=True,
        load_default=None,
        validate=validate.Range(min=1, max=INT32_MAX),
        metadata={"description": "Id of the operating IT-Dienstleister organisation"},
    )
    description = Text(
        load_default="",
        validate=validate.Length(max=20_000),
        metadata={"description": "Markdown; rendered sanitised on the listing page"},
    )
    transport = fields.Enum(Transport, by_value=True, required=True)
    xoev_standard = Text(load_default="", validate=validate.Length(max=80))
    user_account = fields.Enum(UserAccount, by_value=True, load_default=UserAccount.NONE)
    payment = Text(load_default="", validate=validate.Length(max=80))
    requirements_note = Text(load_default="", validate=validate.Length(max=5_000))
    checklist = FlatNested(
        ChecklistIn,
        load_default=dict,
        metadata={"description": "EfA-Mindestanforderungen: criterion key → fulfilled"},
    )
    annual_cost_cents = Cents(metadata={"description": "Annual operating cost in euro cents"})
    connection_cost_cents = Cents(metadata={"description": "One-off connection cost in euro cents"})
    contact_name = Text(load_default="", validate=validate.Length(max=120))
    contact_email = Text(load_default="", validate=validate.Length(max=254))


class IfMatchRequired(Schema):
    if_match = fields.String(
        data_key="If-Match",
        required=True,
        metadata={"description": "The ETag of the listing as last read", "example": '"3"'},
    )


class IfMatchOptional(Schema):
    if_match = fields.String(
        data_key="If-Match",
        metadata={
            "description": "The ETag of the listing as last read; if given and stale, 412",
            "example": '"3"',
        },
    )


class ReasonIn(StrictSchema):
    reason = Text(
        required=True,
        validate=validate.Length(min=5, max=2000),
        metadata={"description": "Why FITKO returns the listing or refuses the change"},
    )


# --- output ---------------------------------------------------------------------------


class LandRefOut(StrictSchema):
    ags = fields.String(dump_only=True)
    iso = fields.String(dump_only=True)
    short = fields.String(dump_only=True)
    name = fields.String(dump_only=True)


class OperatorOut(StrictSchema):
    id = fields.Integer(dump_only=True)
    name = fields.String(dump_only=True)
    short_name = fields.String(dump_only=True)


class ThemenfeldOut(StrictSchema):
    number = fields.Integer(dump_only=True)
    name = fields.String(dump_only=True)


class CriterionOut(StrictSchema):
    key = fields.String(dump_only=True)
    group = fields.String(dump_only=True)
    text = fields.String(dump_only=True)
    level = fields.String(dump_only=True, validate=validate.OneOf(["MUSS", "SOLL", "KANN"]))
    fulfilled = fields.Boolean(dump_only=True)


class DocumentOut(StrictSchema):
    id = fields.Integer(dump_only=True)
    title = fields.String(dump_only=True)
    filename = fields.String(dump_only=True)
    size = fields.Integer(dump_only=True, metadata={"description": "Bytes"})
    sha256 = fields.String(dump_only=True)
    url = fields.String(dump_only=True, metadata={"description": "Download path (PDF)"})


class ListingSummaryOut(StrictSchema):
    id = fields.Integer(dump_only=True)
    url = fields.String(dump_only=True, metadata={"description": "Path of the full listing"})
    status = fields.Enum(ListingStatus, by_value=True, dump_only=True)
    title = fields.String(dump_only=True)
    ozg_name = fields.String(dump_only=True)
    ozg_id = fields.String(dump_only=True)
    themenfeld = fields.Nested(ThemenfeldOut, dump_only=True)
    reifegrad = fields.Integer(dump_only=True)
    transport = fields.Enum(Transport, by_value=True, dump_only=True)
    provider = fields.Nested(LandRefOut, dump_only=True)
    operator = fields.Nested(OperatorOut, dump_only=True, allow_none=True)
    published_version = fields.Integer(dump_only=True)
    published_at = UtcDateTime(dump_only=True, allow_none=True)
    updated_at = UtcDateTime(dump_only=True)


class ListingOut(ListingSummaryOut):
    leika_keys = fields.List(fields.String(), dump_only=True)
    description = fields.String(dump_only=True, metadata={"description": "Markdown source"})
    xoev_standard = fields.String(dump_only=True)
    user_account = fields.Enum(UserAccount, by_value=True, dump_only=True)
    payment = fields.String(dump_only=True)
    requirements_note = fields.String(dump_only=True)
    checklist = fields.List(fields.Nested(CriterionOut), dump_only=True)
    annual_cost_cents = fields.Integer(dump_only=True, allow_none=True)
    connection_cost_cents = fields.Integer(dump_only=True, allow_none=True)
    contact_name = fields.String(dump_only=True)
    contact_email = fields.String(dump_only=True)
    documents = fields.List(fields.Nested(DocumentOut), dump_only=True)
    pending_revision = fields.Boolean(
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "A change waits for FITKO's decision; null for callers outside "
            "the provider Land and FITKO"
        },
    )
    rejection_reason = fields.String(dump_only=True, allow_none=True)
    created_at = UtcDateTime(dump_only=True)
    submitted_at = UtcDateTime(dump_only=True, allow_none=True)
    withdrawn_at = UtcDateTime(dump_only=True, allow_none=True)


class ContentOut(StrictSchema):
    """The content fields as a client sends them (``ListingIn``)."""

    title = fields.String(dump_only=True)
    ozg_name = fields.String(dump_only=True)
    ozg_id = fields.String(dump_only=True)
    leika_keys = fields.List(fields.String(), dump_only=True)
    themenfeld_number = fields.Integer(dump_only=True)
    reifegrad = fields.Integer(dump_only=True)
    operator_id = fields.Integer(dump_only=True, allow_none=True)
    description = fields.String(dump_only=True)
    transport = fields.Enum(Transport, by_value=True, dump_only=True)
    xoev_standard = fields.String(dump_only=True)
    user_account = fields.Enum(UserAccount, by_value=True, dump_only=True)
    payment = fields.String(dump_only=True)
    requirements_note = fields.String(dump_only=True)
    checklist = fields.Dict(keys=fields.String(), values=fields.Boolean(), dump_only=True)
    annual_cost_cents = fields.Integer(dump_only=True, allow_none=True)
    connection_cost_cents = fields.Integer(dump_only=True, allow_none=True)
    contact_name = fields.String(dump_only=True)
    contact_email = fields.String(dump_only=True)


class RevisionOut(StrictSchema):
    id = fields.Integer(dump_only=True)
    listing_id = fields.Integer(dump_only=True)
    status = fields.Enum(RevisionStatus, by_value=True, dump_only=True)
    created_at = UtcDateTime(dump_only=True)
    content = fields.Nested(ContentOut, dump_only=True)


class _FacetValueOut(Schema):
    class Meta:
        ordered = True

    label = fields.String(dump_only=True)
    count = fields.Integer(dump_only=True)
    selected = fields.Boolean(dump_only=True, metadata={"description": "Filtered by this value"})


class IntFacetValueOut(_FacetValueOut):
    value = fields.Integer(dump_only=True)


class StrFacetValueOut(_FacetValueOut):
    value = fields.String(dump_only=True)


class FacetsOut(StrictSchema):
    """Counts of the matching listings per value; each facet ignores its own filter."""

    themenfeld = fields.List(fields.Nested(IntFacetValueOut), dump_only=True)
    land = fields.List(fields.Nested(StrFacetValueOut), dump_only=True)
    reifegrad = fields.List(fields.Nested(IntFacetValueOut), dump_only=True)
    transport = fields.List(fields.Nested(StrFacetValueOut), dump_only=True)
    status = fields.List(
        fields.Nested(StrFacetValueOut),
        dump_only=True,
        metadata={"description": "Only for users who may filter by status"},
    )


class ListingPageOut(PageOut):
    items = fields.List(fields.Nested(ListingSummaryOut), dump_only=True)
    facets = fields.Nested(FacetsOut, dump_only=True)
