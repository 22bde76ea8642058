"""The JSON API under /api/v1 (flask-smorest) and its Swagger UI from vendored assets."""

from __future__ import annotations

from flask import Blueprint as FlaskBlueprint
from flask import g, render_template, url_for
from flask_login import current_user
from flask_smorest import Blueprint

from fitstore.extensions import csrf
from fitstore.permissions import Permission, policy
from fitstore.schemas import AuthorityPageOut, AuthorityQuery, LandOut, MeOut
from fitstore.services import reference

PREFIX = "/api/v1"

accounts = Blueprint("api_accounts", __name__, url_prefix=PREFIX, description="Das eigene Konto")
reference_data = Blueprint(
    "api_reference", __name__, url_prefix=PREFIX, description="Länder und Behörden (Referenzdaten)"
)
# Bearer tokens, never cookies, authenticate the API: CSRF cannot apply.
csrf.exempt(accounts)
csrf.exempt(reference_data)

BEARER = [{"bearerAuth": []}]


@accounts.route("/me")
@policy(Permission.OWN_ACCOUNT)
@accounts.response(200, MeOut)
@accounts.alt_response(401, description="Kein oder ungültiger Bearer-Token")
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
@reference_data.arguments(AuthorityQuery, location="query", as_kwargs=True)
@reference_data.response(200, AuthorityPageOut)
@reference_data.alt_response(422, description="Ungültiger Filter (z. B. AGS, ARS oder Land)")
def authorities(page: int, page_size: int, land=None, q=None, ags=None, ars=None, level=None):
    """Kreise and Gemeinden, searchable by name, AGS or ARS; paginated"""
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
