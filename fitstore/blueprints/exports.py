"""Downloads of the catalogue (CSV, JSON) and of single listings (publiccode.yml).

Every route is public: the service decides what the caller may see (the public gets
published listings only; a Land user also its own Land's; FITKO everything).
"""

from __future__ import annotations

from flask import Blueprint, Response, request, stream_with_context, url_for
from flask_login import current_user

from fitstore.permissions import Permission, policy
from fitstore.services import exports

bp = Blueprint("exports", __name__)


def _listing_url(listing_id: int) -> str:
    return url_for("listings.listing", listing_id=listing_id, _external=True)


def _download(chunks, mimetype: str, filename: str) -> Response:
    response = Response(stream_with_context(chunks), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    # What a logged-in user may see differs from the public's: never share through caches.
    response.headers["Cache-Control"] = "private, no-store"
    response.vary.add("Cookie")
    return response


@bp.get("/katalog.csv")
@policy(Permission.PUBLIC)
def catalogue_csv():
    params = exports.parse_catalogue_query(request.args, current_user)
    return _download(
        exports.catalogue_csv(current_user, params, _listing_url),
        "text/csv",  # Flask adds "; charset=utf-8"
        "fitstore-katalog.csv",
    )


@bp.get("/katalog.json")
@policy(Permission.PUBLIC)
def catalogue_json():
    params = exports.parse_catalogue_query(request.args, current_user)
    return _download(
        exports.catalogue_json(current_user, params, _listing_url),
        "application/json",
        "fitstore-katalog.json",
    )


@bp.get("/leistungen/<int:listing_id>/publiccode.yml")
@policy(Permission.PUBLIC)
def listing_publiccode(listing_id: int):
    text = exports.listing_publiccode(current_user, listing_id, _listing_url)
    response = Response(text, content_type="application/yaml; charset=utf-8")
    response.headers["Content-Disposition"] = 'attachment; filename="publiccode.yml"'
    response.headers["Cache-Control"] = "private, no-store"
    response.vary.add("Cookie")
    return response
