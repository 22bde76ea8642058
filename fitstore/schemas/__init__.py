"""marshmallow schemas for the API: separate query and output schemas, unknown fields refused."""

from flask_babel import lazy_gettext as _l
from marshmallow import RAISE, Schema, fields, validate

from fitstore.models import AuthorityLevel, OrganisationKind, Role
from fitstore.services.reference import shipped_land_codes

# Every accepted ``land`` value (AGS, ISO 3166-2, short code), read from the
# shipped reference data, so the OpenAPI document lists them as an enum instead
# of answering 422 to values it allows; a test checks it against the database.
LAENDER = shipped_land_codes()
LAND_CODES = tuple(code for land in LAENDER for code in land)


class FullMatch(validate.Regexp):
    """``Regexp`` that must match the whole value.

    ``re.match`` with ``$`` accepts a trailing newline ("12\\n"), which the
    ECMA-262 pattern in the OpenAPI document rejects; ``fullmatch`` agrees with it.
    The pattern must use ``[0-9]``, not ``\\d``: Python's ``\\d`` accepts any
    Unicode digit, ECMA-262's only ASCII.
    """

    def __call__(self, value):
        if self.regex.fullmatch(value) is None:
            raise validate.ValidationError(self._format_error(value))
        return value


class JsonInteger(fields.Integer):
    """An integer in a JSON body as JSON Schema defines one: ``3`` and ``3.0`` alike
    (JSON has a single number type, and the OpenAPI document's ``type: integer`` accepts
    both), never ``"3"``, ``true`` or ``3.5``."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)

    def _validated(self, value):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return super()._validated(value)


class StrictSchema(Schema):
    """A request body or output object: unknown properties are refused, which the
    OpenAPI document states as ``additionalProperties: false`` (apispec emits it for
    ``unknown = RAISE``)."""

    class Meta:
        unknown = RAISE
        ordered = True


class OrganisationOut(StrictSchema):
    id = fields.Integer(dump_only=True)
    kind = fields.Enum(OrganisationKind, by_value=True, dump_only=True)
    name = fields.String(dump_only=True)
    short_name = fields.String(dump_only=True)
    land_ags = fields.String(dump_only=True, allow_none=True)


class MeOut(StrictSchema):
    id = fields.Integer(dump_only=True)
    email = fields.String(dump_only=True)
    name = fields.String(dump_only=True)
    role = fields.Enum(Role, by_value=True, dump_only=True)
    organisation = fields.Nested(OrganisationOut, dump_only=True)


class LandOut(StrictSchema):
    ags = fields.String(
        dump_only=True,
        metadata={"description": "Official key (AGS) of the Land, 2 digits"},
    )
    iso = fields.String(dump_only=True, metadata={"description": "ISO 3166-2:DE"})
    short = fields.String(dump_only=True)
    name = fields.String(dump_only=True)


class AuthorityOut(StrictSchema):
    ags = fields.String(dump_only=True)
    ars = fields.String(dump_only=True, allow_none=True)
    name = fields.String(dump_only=True)
    level = fields.Enum(AuthorityLevel, by_value=True, dump_only=True)
    type = fields.String(dump_only=True)
    kreis_ags = fields.String(dump_only=True)
    land_ags = fields.String(dump_only=True)


class ApiQuery(StrictSchema):
    """Query parameters every API operation accepts.

    The API refuses unknown query parameters (``unknown=RAISE`` where the view
    declares its arguments), so the language switch the locale selector reads
    must be declared to stay usable.
    """

    lang = fields.String(
        validate=validate.OneOf(["de", "en"]),
        metadata={"description": "Language of error messages (default: German)"},
    )


class PageQuery(ApiQuery):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class AuthorityQuery(PageQuery):
    land = fields.String(
        validate=validate.OneOf(
            LAND_CODES,
            error=_l("Unbekanntes Land: AGS (z. B. 12), ISO-Code (DE-BB) oder Kürzel (BB)."),
        ),
        metadata={"description": "AGS (12), ISO code (DE-BB) or short code (BB)"},
    )
    q = fields.String(
        # NUL cannot be stored in or compared with PostgreSQL text; control
        # characters never occur in a name or key, so refuse them all.
        validate=[
            validate.Length(max=100),
            FullMatch(
                r"^[^\u0000-\u001f\u007f]*$",
                error=_l("Der Suchbegriff enthält Steuerzeichen."),
            ),
        ],
        metadata={"description": "Name, or the beginning of an AGS or ARS"},
    )
    ags = fields.String(
        validate=FullMatch(
            r"^[0-9]{2}([0-9]{3})?([0-9]{3})?$",
            error=_l("Der AGS besteht aus 2, 5 oder 8 Ziffern."),
        )
    )
    ars = fields.String(
        validate=FullMatch(
            r"^[0-9]{12}$",
            error=_l("Der ARS besteht aus genau 12 Ziffern."),
        )
    )
    level = fields.Enum(AuthorityLevel, by_value=True)


class PageOut(StrictSchema):
    page = fields.Integer(dump_only=True)
    page_size = fields.Integer(dump_only=True)
    total = fields.Integer(dump_only=True)
    pages = fields.Integer(dump_only=True)


class AuthorityPageOut(PageOut):
    items = fields.List(fields.Nested(AuthorityOut), dump_only=True)


class ProblemOut(Schema):
    """An RFC 9457 problem body, as ``fitstore.errors.problem`` builds it."""

    class Meta:
        ordered = True

    type = fields.String(required=True, metadata={"example": "about:blank"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    instance = fields.String(required=True, metadata={"description": "Path of the request"})
    request_id = fields.String(
        required=True,
        metadata={"description": "Also in the X-Request-ID header; quote it to support"},
    )
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "Field name → error messages"},
    )
