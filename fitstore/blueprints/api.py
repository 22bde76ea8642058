"""The JSON API under /api/v1 (flask-smorest) and its Swagger UI from vendored assets."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable

from flask import Blueprint as FlaskBlueprint
from flask import g, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import RAISE
from werkzeug.exceptions import UnsupportedMediaType

from fitstore.errors import DomainError, NotFound
from fitstore.extensions import csrf
from fitstore.permissions import Permission, policy
from fitstore.schemas import (
    LAND_CODES,
    AuthorityPageOut,
    AuthorityQuery,
    LandOut,
    MeOut,
    ProblemOut,
)
from fitstore.schemas.listings import INT32_MAX
from fitstore.services import reference

PREFIX = "/api/v1"
PROBLEM_JSON = "application/problem+json"


def check_ids_and_body(id_args: Iterable[str], json_endpoints: set[str]) -> None:
    """Request checks that must run before webargs reads the body (after the route
    policy, so 401/403 come first): 404 for ids beyond a 32-bit key (SQLite cannot even
    compare ids beyond 2**63), 415 for a body that is not JSON, and 400 for JSON that
    Python cannot parse (the ValueError of a 5,000-digit number, the RecursionError of
    deep nesting)."""
    for name in id_args:
        if not 1 <= (request.view_args or {}).get(name, 1) <= INT32_MAX:
            raise NotFound()
    if (request.endpoint or "").rpartition(".")[2] in json_endpoints:
        if not request.is_json:
            raise UnsupportedMediaType()
        body = request.get_data(cache=True)
        if body.strip():
            try:
                json.loads(body)
            except (ValueError, RecursionError):
                raise DomainError(
                    _("Der Inhalt ist kein gültiges JSON."),
                    errors={"json": [_("Der Inhalt ist kein gültiges JSON.")]},
                ) from None


UNAUTHORIZED = "Missing, invalid or revoked bearer token"

# Path parameters several API modules share, documented with examples from the demo data
# (listing 1 is Brandenburg's Aufenthaltstitel).
LISTING_ID_PARAMETER = {
    "in": "path",
    "name": "listing_id",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": INT32_MAX},
    "example": 1,
}
LAND_PARAMETER = {
    "in": "path",
    "name": "land_ags",
    "required": True,
    "description": "The Land: AGS (12), ISO code (DE-BB) or short code (BB)",
    "schema": {"type": "string", "enum": list(LAND_CODES)},
    "example": "12",
}


def etag_header(what: str) -> dict:
    """OpenAPI documentation of the ETag response header of a versioned object."""
    return {
        "ETag": {
            "description": f"{what}, a strong entity tag; send it back in If-Match",
            "required": True,
            "schema": {"type": "string", "pattern": '^"[0-9]+"$', "example": '"3"'},
        }
    }


def location_header(what: str) -> dict:
    """OpenAPI documentation of the Location header of a 201 answer."""
    return {
        "Location": {
            "description": f"Path of the new {what}",
            "required": True,
            "schema": {"type": "string"},
        }
    }


_VERSION = re.compile(r"[0-9]{1,18}")


def if_match_version(current: Callable[[], int]) -> int | None:
    """The lock_version the If-Match header names; None without the header or with ``*``.

    Strong comparison (RFC 9110): a weak tag or one that is no version never matches,
    and the service answers 412. ``current`` reads the object's version; it is needed
    only when several tags are sent (then whichever is current counts).
    """
    if "If-Match" not in request.headers or request.if_match.star_tag:
        return None
    # An empty tag ("") comes back as None.
    versions = {int(tag) for tag in request.if_match.as_set() if tag and _VERSION.fullmatch(tag)}
    if len(versions) == 1:
        return versions.pop()
    if not versions:
        return 0  # no object has version 0
    version = current()
    return version if version in versions else 0


class ApiBlueprint(Blueprint):
    """A flask-smorest Blueprint whose OpenAPI operations list only the errors they send.

    flask-smorest adds a ``default`` response with its own error schema
    (``code``/``status`` as a string/``message``, ``application/json``) to every
    operation. fitstore answers errors with RFC 9457 problem bodies instead
    (``fitstore.errors.problem``), so that ``default`` described a body no
    client ever receives, and it made any status code "documented". Each view
    declares its problem responses with :meth:`problem` instead.
    """

    @staticmethod
    def _prepare_response_doc(doc, doc_info, *, api, spec, **kwargs):
        doc = Blueprint._prepare_response_doc(doc, doc_info, api=api, spec=spec, **kwargs)
        doc.get("responses", {}).pop("default", None)
        return doc

    def _prepare_arguments_doc(self, doc, doc_info, *, api, spec, **kwargs):
        """Add to a request body the JSON Schema keywords its schema declares in
        ``JSON_SCHEMA``: rules marshmallow checks across fields (e.g. ``minProperties``
        for "name at least one field"), which apispec cannot derive from the fields."""
        doc = super()._prepare_arguments_doc(doc, doc_info, api=api, spec=spec, **kwargs)
        for media in doc.get("requestBody", {}).get("content", {}).values():
            keywords = getattr(media.get("schema"), "JSON_SCHEMA", None)
            if keywords:
                media["schema"] = {"allOf": [media["schema"]], **keywords}
        return doc

    def problem(self, status_code: int, description: str):
        """Document an ``application/problem+json`` error response of this operation."""
        return self.alt_response(
            status_code, schema=ProblemOut, content_type=PROBLEM_JSON, description=description
        )

    def problems(self, *groups: dict[int, str]):
        """Document several problem responses at once: ``{status: description}`` maps,
        later ones overriding earlier ones (shared problems first, the operation's own
        after them)."""
        merged: dict[int, str] = {}
        for group in groups:
            merged.update(group)

        def decorate(view):
            for status in sorted(merged, reverse=True):
                view = self.problem(status, merged[status])(view)
            return view

        return decorate


accounts = ApiBlueprint(
    "api_accounts", __name__, url_prefix=PREFIX, description="The caller's own account"
)
reference_data = ApiBlueprint(
    "api_reference",
    __name__,
    url_prefix=PREFIX,
    description="Länder and authorities (reference data)",
)
# Bearer tokens, never cookies, authenticate the API: CSRF cannot apply.
csrf.exempt(accounts)
csrf.exempt(reference_data)

BEARER = [{"bearerAuth": []}]


@accounts.route("/me")
@policy(Permission.OWN_ACCOUNT)
@accounts.response(200, MeOut)
@accounts.problem(401, "Missing, invalid or revoked bearer token")
@accounts.doc(security=BEARER)
def me():
    """Who the bearer token belongs to"""
    return current_user


@reference_data.route("/laender")
@policy(Permission.PUBLIC)
@reference_data.response(200, LandOut(many=True))
def laender():
    """The 16 Länder with AGS and ISO codes"""
    return reference.list_laender()


@reference_data.route("/authorities")
@policy(Permission.PUBLIC)
# webargs would silently drop unknown query parameters (its default for the query
# location overrides the schema's RAISE); a misspelt filter must not widen the result.
@reference_data.arguments(AuthorityQuery, location="query", as_kwargs=True, unknown=RAISE)
@reference_data.response(200, AuthorityPageOut)
@reference_data.problem(422, "Invalid filter (e.g. AGS, ARS, Land) or unknown parameter")
def authorities(
    page: int, page_size: int, land=None, q=None, ags=None, ars=None, level=None, lang=None
):
    """Kreise and Gemeinden, searchable by name, AGS or ARS; paginated"""
    # ``lang`` is validated here but applied by the locale selector (fitstore/__init__.py).
    result = reference.search_authorities(
        land=reference.resolve_land(land),
        q=q,
        ags=ags,
        ars=ars,
        level=level,
        page=page,
        per_page=page_size,
    )
    return {
        "items": result.items,
        "page": result.page,
        "page_size": result.per_page,
        "total": result.total,
        "pages": result.pages,
    }


API_BLUEPRINTS = [accounts, reference_data]

docs_bp = FlaskBlueprint("api_docs", __name__)


@docs_bp.get(f"{PREFIX}/docs")
@policy(Permission.PUBLIC)
def swagger_ui():
    # Swagger UI sets inline style attributes; scripts stay 'self'-only.
    g.allow_inline_styles = True
    return render_template("api/docs.html", spec_url=url_for("api-docs.openapi_json"))
