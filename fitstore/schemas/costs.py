"""marshmallow schemas of the cost API: plan items, the what-if simulation, the yearly
split of a listing and the statement of a Land.

Request bodies refuse unknown properties (``unknown=RAISE``): a client names a cost
type, an amount and a description, never a listing, a year, a version or who created
an item. The schemas check types and shapes and say what is wrong in German; the cost
service (``fitstore.services.cost_sharing``) then checks the domain rules. Amounts in
cents are checked only for their type here: whether one is negative or larger than a
``bigint`` holds (2^63-1) is the service's call, so its message ("zu groß", never a
truncated number) is what the client reads; the OpenAPI document still states the
bounds.

Exact figures (weights, shares, exact cents) are decimal strings, never JSON numbers:
a client must not lose a digit to a binary float, and the split is only checkable to
the cent with the digits after the second decimal place.
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from marshmallow import ValidationError, fields, validate, validates_schema

from fitstore.models import CostKey, CostType, FundingModel
from fitstore.schemas import LAND_CODES, JsonInteger, StrictSchema
from fitstore.schemas.listings import LandRefOut, Text
from fitstore.schemas.reuses import ListingRefOut
from fitstore.services.cost_sharing import MAX_DESCRIPTION
from fitstore.services.listings import BIGINT_MAX

#: Places of the exact figures (see the field descriptions).
WEIGHT_PLACES = 10
SHARE_PLACES = 10
PERCENT_PLACES = 5
EXACT_CENTS_PLACES = 6

_REQUIRED = _l("Bitte geben Sie dieses Feld an.")
_NULL = _l("Bitte geben Sie einen Wert an, nicht null.")
_CENTS = _l("Bitte geben Sie den Betrag in Cent als ganze Zahl an.")


# --- fields with German messages ---------------------------------------------------------


class _GermanMessages:
    """Field errors in the request's language: the lazy messages are turned into text
    (and their ``{placeholders}`` filled) only when an error is raised."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.error_messages.update({"required": _REQUIRED, "null": _NULL})

    def make_error(self, key: str, **kwargs) -> ValidationError:
        message = self.error_messages.get(key)
        if message is None:
            return super().make_error(key, **kwargs)
        return ValidationError(str(message).format(**kwargs))


class _Choice(_GermanMessages, Text):
    """One of ``choices`` (an enum in the OpenAPI document), as a plain string."""

    def __init__(self, choices, message, **kwargs):
        super().__init__(
            validate=validate.OneOf(list(choices), error=message),
            error_messages={"invalid": _l("Bitte geben Sie einen Text an.")},
            **kwargs,
        )


class AmountCents(_GermanMessages, JsonInteger):
    """Euro cents as a JSON integer. Only the type is checked here; the range is the
    service's (its German message says what is allowed), documented as such."""

    def __init__(self, description: str, **kwargs):
        super().__init__(
            error_messages={"invalid": _CENTS},
            metadata={
                "description": f"{description}; 0 to 2^63-1 (what a bigint of cents holds). "
                "Larger amounts are refused with 422 (never truncated).",
                "minimum": 0,
                "maximum": BIGINT_MAX,
            },
            **kwargs,
        )


class _Months(_GermanMessages, JsonInteger):
    def __init__(self, **kwargs):
        super().__init__(
            validate=validate.Range(
                min=0, max=12, error=_l("Monate als ganze Zahl von {min} bis {max}.")
            ),
            error_messages={"invalid": _l("Monate als ganze Zahl von 0 bis 12.")},
            **kwargs,
        )


def _flat(messages, prefix: str = "") -> list[str]:
    """marshmallow's nested messages as one list of strings ("2: land: message", "usage:
    message"), as ``ProblemOut`` documents ``errors``: item numbers count from 1, and the
    ``key``/``value`` level of a dict's errors and a nested object's ``_schema`` are left
    out. Lazy messages become text here, in the request's language."""
    if isinstance(messages, str | LazyString):
        return [f"{prefix}{messages}"]
    if isinstance(messages, dict):
        flat: list[str] = []
        for key, value in messages.items():
            if key in ("key", "value", "_schema"):
                label = prefix
            else:
                label = f"{prefix}{key + 1 if isinstance(key, int) else key}: "
            flat.extend(_flat(value, label))
        return flat
    return [item for message in messages for item in _flat(message, prefix)]


class _Flat:
    """Errors of the items or properties inside read as one list of strings."""

    def deserialize(self, *args, **kwargs):
        try:
            return super().deserialize(*args, **kwargs)
        except ValidationError as error:
            raise ValidationError(_flat(error.messages)) from None


class _List(_Flat, _GermanMessages, fields.List):
    def __init__(self, *args, **kwargs):
        super().__init__(
            *args, error_messages={"invalid": _l("Erwartet wird eine Liste.")}, **kwargs
        )


class _Nested(_Flat, _GermanMessages, fields.Nested):
    def __init__(self, *args, **kwargs):
        super().__init__(
            *args, error_messages={"type": _l("Erwartet wird ein JSON-Objekt.")}, **kwargs
        )


_DECIMAL_TEXT = re.compile(r"-?[0-9]{1,20}(\.[0-9]{1,20})?")


class _Decimal(_GermanMessages, fields.Decimal):
    """A number as a JSON number or a decimal string ("33.5", as the API writes them)."""

    def __init__(self, **kwargs):
        super().__init__(
            allow_nan=False,
            error_messages={
                "invalid": _l("Bitte eine Zahl angeben."),
                "special": _l("Bitte eine endliche Zahl angeben."),
                "too_large": _l("Die Zahl ist zu groß."),
            },
            metadata={
                "type": ["number", "string"],
                "pattern": f"^{_DECIMAL_TEXT.pattern}$",
            },
            **kwargs,
        )

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or (
            isinstance(value, str) and _DECIMAL_TEXT.fullmatch(value) is None
        ):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class CostSchema(StrictSchema):
    """A strict request body whose own errors are German too."""

    error_messages = {
        "unknown": _l("Unbekanntes Feld."),
        "type": _l("Erwartet wird ein JSON-Objekt."),
    }


#: The keys a mixed key combines: every key but the mixed and the target-group key (a
#: target group has weights per Land, not one figure to weigh).
MIXABLE_KEYS = tuple(
    key.value for key in CostKey if key not in (CostKey.MIXED, CostKey.TARGET_GROUP)
)

# The parameters of a cost key name either keys (a mixed key: percent per key) or Länder
# (a target-group key: weight per Land, by AGS, ISO or short code); every other name is
# refused, and the OpenAPI document lists them all.
KeyParametersIn = CostSchema.from_dict(
    {name: _Decimal() for name in (*MIXABLE_KEYS, *LAND_CODES)}, name="KeyParametersIn"
)


def key_parameters(description: str, **kwargs) -> _Nested:
    """The ``parameters`` of a cost key; the alliances and cost services check the
    numbers (percentages summing to 100, weights, each Land once)."""
    return _Nested(KeyParametersIn, metadata={"description": description}, **kwargs)


def _cost_type(**kwargs) -> _Choice:
    return _Choice(
        [cost_type.value for cost_type in CostType],
        _l("Unbekannte Kostenart. Erlaubt: {choices}."),
        metadata={
            "description": "infrastructure: Betrieb technische Infrastruktur; development: "
            "fachliche Weiterentwicklung; platform_fees: Plattformentgelte; "
            "service_operation: Betrieb Online-Dienst; direct: direkte Kosten. One-off "
            "Anbindungskosten are no cost type: the adopter pays them alone (contract)."
        },
        **kwargs,
    )


class _Text(_GermanMessages, Text):
    """A text whose errors come as a list of messages in the request's language."""


def _description(**kwargs) -> Text:
    return _Text(
        validate=validate.Length(max=MAX_DESCRIPTION, error=_l("Bitte höchstens {max} Zeichen.")),
        error_messages={"invalid": _l("Bitte geben Sie einen Text an.")},
        **kwargs,
    )


# --- request bodies -----------------------------------------------------------------------


class PlanItemIn(CostSchema):
    """A new line item of the year's cost plan (the provider Land's editors)."""

    cost_type = _cost_type(required=True)
    amount_cents = AmountCents("The amount in euro cents", required=True)
    description = _description(load_default="")


class PlanItemPatchIn(CostSchema):
    """The fields of a line item to change; the others stay as they are."""

    # At least one field (``_something``), stated in the OpenAPI document's request body
    # by ``fitstore.blueprints.api.ApiBlueprint``.
    JSON_SCHEMA = {"minProperties": 1}

    cost_type = _cost_type()
    amount_cents = AmountCents("The amount in euro cents")
    description = _description()

    @validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ValidationError(
                str(
                    _l(
                        "Bitte geben Sie an, was sich ändert: cost_type, amount_cents oder description."
                    )
                )
            )


class SimulatedLandIn(CostSchema):
    land = _Choice(
        LAND_CODES,
        _l("Unbekanntes Land: AGS (z. B. 12), ISO-Code (DE-BB) oder Kürzel (BB)."),
        required=True,
        metadata={"description": "AGS (13), ISO code (DE-MV) or short code (MV)"},
    )
    months = _Months(
        load_default=12,
        metadata={
            "description": "Months of the year in force (default 12), counted back from "
            "December: 9 = from April"
        },
    )


class SimulationIn(CostSchema):
    """What-if: anything given replaces the stored value for this computation only."""

    participants = _List(
        _Nested(SimulatedLandIn),
        validate=validate.Length(max=16, error=_l("Höchstens {max} Länder.")),
        metadata={
            "description": "The whole list of paying Länder with their months (replaces "
            "the participants of the year; each Land once)"
        },
    )
    key = _Choice(
        [key.value for key in CostKey],
        _l("Unbekannter Schlüssel. Erlaubt: {choices}."),
        metadata={"description": "The cost key to try (default: the year's key)"},
    )
    funding_model = _Choice(
        [model.value for model in FundingModel],
        _l("Unbekanntes Finanzierungsmodell. Erlaubt: {choices}."),
        metadata={
            "description": "participants: 100 % among the participants; efa_2024: 50 % "
            "participants, 25 % Bund, 25 % all 16 Länder by Königsteiner Schlüssel"
        },
    )
    parameters = key_parameters(
        "mixed: {key: percent} summing to exactly 100 (e.g. "
        '{"usage": 50, "koenigstein": 50}); target_group: {Land: weight}; other keys: none. '
        "Default: the year's parameters when the key stays the same"
    )
    total_cents = AmountCents("The annual cost to split (default: the plan's total)")


# --- output -------------------------------------------------------------------------------


class PlanItemOut(StrictSchema):
    id = fields.Integer(dump_only=True)
    url = fields.String(dump_only=True, metadata={"description": "Path of the item"})
    cost_type = fields.Enum(CostType, by_value=True, dump_only=True)
    description = fields.String(dump_only=True)
    amount_cents = fields.Integer(dump_only=True)
    version = fields.Integer(
        dump_only=True, metadata={"description": "The item's ETag; send it back in If-Match"}
    )


class PlanOut(StrictSchema):
    listing = fields.Nested(ListingRefOut, dump_only=True)
    year = fields.Integer(dump_only=True)
    items = fields.List(fields.Nested(PlanItemOut), dump_only=True)
    total_cents = fields.Integer(dump_only=True, metadata={"description": "Sum of the items"})
    may_edit = fields.Boolean(
        dump_only=True, metadata={"description": "The caller may change the plan"}
    )


class ParticipantOut(StrictSchema):
    land = fields.String(dump_only=True, metadata={"description": "AGS of the Land"})
    name = fields.String(dump_only=True)
    months = fields.Integer(dump_only=True, metadata={"description": "Months in force, 0-12"})
    months_in_force = fields.List(
        fields.Integer(validate=validate.Range(min=1, max=12)),
        dump_only=True,
        metadata={"description": "The calendar months (1-12) of the year in force"},
    )
    own_use = fields.Boolean(
        dump_only=True, metadata={"description": "The provider runs the service itself"}
    )
    contracts = fields.List(
        fields.String(),
        dump_only=True,
        metadata={"description": "Numbers of the contracts that put the Land in force"},
    )
    since = fields.Date(dump_only=True, allow_none=True)
    until = fields.Date(dump_only=True, allow_none=True)


class LineOut(StrictSchema):
    payer = fields.String(dump_only=True, metadata={"description": 'AGS of a Land, or "bund"'})
    name = fields.String(dump_only=True)
    weight = fields.String(
        dump_only=True,
        metadata={
            "description": "The key weight as a decimal string (for mixed: the combined "
            f"share); exact when it has at most {WEIGHT_PLACES} decimal places, otherwise "
            f"rounded half-even to {WEIGHT_PLACES}"
        },
    )
    months = fields.Integer(dump_only=True)
    share = fields.String(
        dump_only=True,
        metadata={
            "description": "Renormalised share of the pool (weight × months / 12 over the "
            f"pool's sum), 0 to 1, rounded half-even to {SHARE_PLACES} decimal places",
        },
    )
    share_percent = fields.String(
        dump_only=True,
        metadata={
            "description": f"The share in percent, rounded half-even to {PERCENT_PLACES} "
            "decimal places",
        },
    )
    exact_cents = fields.String(
        dump_only=True,
        metadata={
            "description": "The exact amount before rounding (pool cents × share) in cents, "
            f"rounded half-even to {EXACT_CENTS_PLACES} decimal places: two places could hide "
            "which fractional part is larger",
        },
    )
    floor_cents = fields.Integer(dump_only=True)
    extra_cent = fields.Boolean(
        dump_only=True,
        metadata={
            "description": "A left-over cent went here (largest fractional parts first, ties "
            "to the smaller AGS)"
        },
    )
    cents = fields.Integer(
        dump_only=True, metadata={"description": "floor_cents + extra_cent: the amount billed"}
    )


class PoolOut(StrictSchema):
    name = fields.String(
        dump_only=True,
        validate=validate.OneOf(["participants", "bund", "laender"]),
        metadata={
            "description": "participants: the participating Länder by the key; under "
            "efa_2024 also bund (25 %) and laender (25 %, all 16 by Königsteiner Schlüssel)"
        },
    )
    label = fields.String(dump_only=True)
    cents = fields.Integer(dump_only=True)
    exact_cents = fields.String(
        dump_only=True,
        metadata={
            "description": "The pool's exact part of the total in cents before rounding, "
            f"rounded half-even to {EXACT_CENTS_PLACES} decimal places"
        },
    )
    lines = fields.List(fields.Nested(LineOut), dump_only=True)


class SplitOut(StrictSchema):
    listing = fields.Nested(ListingRefOut, dump_only=True)
    year = fields.Integer(dump_only=True)
    total_cents = fields.Integer(dump_only=True, metadata={"description": "The amount split"})
    key = fields.Enum(CostKey, by_value=True, dump_only=True)
    funding_model = fields.Enum(FundingModel, by_value=True, dump_only=True)
    parameters = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        dump_only=True,
        metadata={
            "description": "mixed: percentages per key; target_group: weights per Land (AGS); "
            "exact decimal strings"
        },
    )
    decided = fields.Boolean(
        dump_only=True,
        metadata={"description": "The alliance has decided the key of the year (final)"},
    )
    source = fields.String(dump_only=True, metadata={"description": "Where the key comes from"})
    simulated = fields.Boolean(
        dump_only=True, metadata={"description": "A what-if result: nothing was stored"}
    )
    participants = fields.List(fields.Nested(ParticipantOut), dump_only=True)
    items = fields.List(fields.Nested(PlanItemOut), dump_only=True)
    pools = fields.List(fields.Nested(PoolOut), dump_only=True)
    cents = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        dump_only=True,
        metadata={
            "description": 'Cents per payer (AGS, or "bund"), summed over the pools; they sum '
            "to total_cents exactly"
        },
    )
    warnings = fields.List(fields.String(), dump_only=True)


class StatementLineOut(StrictSchema):
    listing = fields.Nested(ListingRefOut, dump_only=True)
    key = fields.Enum(CostKey, by_value=True, dump_only=True)
    funding_model = fields.Enum(FundingModel, by_value=True, dump_only=True)
    months = fields.Integer(
        dump_only=True,
        allow_none=True,
        metadata={"description": "Months in force; null if the Land only pays the all-Länder pool"},
    )
    share_percent = fields.String(
        dump_only=True,
        allow_none=True,
        metadata={
            "description": "Share of the participants' pool in percent, rounded half-even to "
            f"{PERCENT_PLACES} places; null if the Land does not participate"
        },
    )
    total_cents = fields.Integer(dump_only=True, metadata={"description": "The listing's total"})
    participants_cents = fields.Integer(dump_only=True)
    laender_cents = fields.Integer(
        dump_only=True, metadata={"description": "efa_2024: the all-Länder pool's part"}
    )
    cents = fields.Integer(dump_only=True, metadata={"description": "What the Land pays"})


class ConnectionCostOut(StrictSchema):
    listing = fields.Nested(ListingRefOut, dump_only=True)
    contract_number = fields.String(dump_only=True)
    effective_date = fields.Date(dump_only=True)
    cents = fields.Integer(
        dump_only=True, metadata={"description": "One-off Anbindungskosten, never shared"}
    )


class OpenItemOut(StrictSchema):
    listing = fields.Nested(ListingRefOut, dump_only=True)
    problem = fields.String(dump_only=True, metadata={"description": "Why it cannot be split"})
    field = fields.String(dump_only=True, allow_none=True)


class StatementOut(StrictSchema):
    land = fields.Nested(LandRefOut, dump_only=True)
    year = fields.Integer(dump_only=True)
    lines = fields.List(fields.Nested(StatementLineOut), dump_only=True)
    connection_costs = fields.List(fields.Nested(ConnectionCostOut), dump_only=True)
    open_items = fields.List(
        fields.Nested(OpenItemOut),
        dump_only=True,
        metadata={"description": "Listings the Land takes part in whose split cannot be computed"},
    )
    shared_cents = fields.Integer(dump_only=True, metadata={"description": "Sum of the lines"})
    connection_cents = fields.Integer(dump_only=True)
    total_cents = fields.Integer(dump_only=True)
