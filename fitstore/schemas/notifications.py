"""marshmallow schemas of the notifications API: the caller's own inbox."""

from __future__ import annotations

from marshmallow import fields

from fitstore.schemas import PageOut, PageQuery, StrictSchema
from fitstore.schemas.listings import UtcDateTime


class NotificationQuery(PageQuery):
    unread = fields.Boolean(
        # Exactly the two spellings the OpenAPI boolean allows in a query string;
        # marshmallow would otherwise also take 1, "yes", "on", ...
        truthy={"true"},
        falsy={"false"},
        load_default=False,
        metadata={"description": "Only the notices not yet marked read"},
    )


class NotificationOut(StrictSchema):
    id = fields.Integer(dump_only=True)
    message = fields.String(dump_only=True)
    link = fields.String(
        dump_only=True,
        allow_none=True,
        metadata={"description": "Path of the page the notice is about (HTML side)"},
    )
    created_at = UtcDateTime(dump_only=True)
    read_at = UtcDateTime(
        dump_only=True, allow_none=True, metadata={"description": "null while unread"}
    )


class NotificationPageOut(PageOut):
    items = fields.List(fields.Nested(NotificationOut), dump_only=True)
    unread_count = fields.Integer(
        dump_only=True,
        metadata={"description": "All unread notices of the caller, whatever the filter"},
    )
