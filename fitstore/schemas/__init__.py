"""marshmallow schemas for the API: separate query and output schemas, unknown fields refused."""

from flask_babel import lazy_gettext as _l
from marshmallow import RAISE, Schema, fields, validate


class StrictSchema(Schema):
    class Meta:
        unknown = RAISE
        ordered = True


class OrganisationOut(StrictSchema):
    id = fields.Integer(dump_only=True)
    kind = fields.String(dump_only=True)
    name = fields.String(dump_only=True)
    short_name = fields.String(dump_only=True)
    land_ags = fields.String(dump_only=True, allow_none=True)


class MeOut(StrictSchema):
    id = fields.Integer(dump_only=True)
    email = fields.String(dump_only=True)
    name = fields.String(dump_only=True)
    role = fields.String(dump_only=True)
    organisation = fields.Nested(OrganisationOut, dump_only=True)


class LandOut(StrictSchema):
    ags = fields.String(
        dump_only=True,
        metadata={"description": "Amtlicher Gemeindeschlüssel des Landes (2 Ziffern)"},
    )
    iso = fields.String(dump_only=True, metadata={"description": "ISO 3166-2:DE"})
    short = fields.String(dump_only=True)
    name = fields.String(dump_only=True)


class AuthorityOut(StrictSchema):
    ags = fields.String(dump_only=True)
    ars = fields.String(dump_only=True, allow_none=True)
    name = fields.String(dump_only=True)
    level = fields.String(dump_only=True)
    type = fields.String(dump_only=True)
    kreis_ags = fields.String(dump_only=True)
    land_ags = fields.String(dump_only=True)


class PageQuery(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class AuthorityQuery(PageQuery):
    land = fields.String(
        validate=validate.Length(max=5),
        metadata={"description": "AGS (12), ISO-Code (DE-BB) oder Kürzel (BB)"},
    )
    q = fields.String(
        validate=validate.Length(max=100), metadata={"description": "Name, AGS- oder ARS-Anfang"}
    )
    ags = fields.String(
        validate=validate.Regexp(
            r"^\d{2}(\d{3})?(\d{3})?$",
            error=_l("Der AGS besteht aus 2, 5 oder 8 Ziffern. / An AGS has 2, 5 or 8 digits."),
        )
    )
    ars = fields.String(
        validate=validate.Regexp(
            r"^\d{12}$",
            error=_l("Der ARS besteht aus genau 12 Ziffern. / An ARS has exactly 12 digits."),
        )
    )
    level = fields.String(validate=validate.OneOf(["kreis", "gemeinde"]))


class PageOut(StrictSchema):
    page = fields.Integer(dump_only=True)
    page_size = fields.Integer(dump_only=True)
    total = fields.Integer(dump_only=True)
    pages = fields.Integer(dump_only=True)


class AuthorityPageOut(PageOut):
    items = fields.List(fields.Nested(AuthorityOut), dump_only=True)


class ProblemOut(Schema):
    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    instance = fields.String()
    request_id = fields.String()
    errors = fields.Dict()
