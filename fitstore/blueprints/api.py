"""The JSON API under /api/v1 (flask-smorest) and its Swagger UI from vendored assets."""

from __future__ import annotations

from flask import Blueprint as FlaskBlueprint
from flask import g, render_template, url_for
from flask_login import current_user
from flask_smorest import Blueprint
from marshmallow import RAISE

from fitstore.extensions import csrf
from fitstore.permissions import Permission, policy
from fitstore.schemas import AuthorityPageOut, AuthorityQuery, LandOut, MeOut, ProblemOut
from fitstore.services import reference

PREFIX = "/api/v1"
PROBLEM_JSON = "application/problem+json"


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

    def problem(self, status_code: int, description: str):
        """Document an ``application/problem+json`` error response of this operation."""
        return self.alt_response(
            status_code, schema=ProblemOut, content_type=PROBLEM_JSON, description=description
        )


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
