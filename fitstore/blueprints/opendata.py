"""Open data: the public adoption data as CSV and JSON, its schema and DCAT-AP.de.

Every route is public and the same for everyone (published listings only, public facts
only); the service builds the files, these views only stream them.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, render_template, stream_with_context, url_for
from flask_babel import get_locale

from fitstore.permissions import Permission, policy
from fitstore.services import opendata

bp = Blueprint("opendata", __name__)


def _urls() -> dict[str, str]:
    """Absolute addresses of everything the schema and the catalogue point to."""
    urls = {
        "index": url_for("opendata.index", _external=True),
        "datapackage": url_for("opendata.datapackage", _external=True),
        "dcat": url_for("opendata.dcat", _external=True),
        "publisher": url_for("main.imprint", _external=True) + "#publisher",
    }
    for dataset in opendata.DATASETS:
        urls[dataset.csv_endpoint] = url_for(dataset.csv_endpoint, _external=True)
        urls[dataset.json_endpoint] = url_for(dataset.json_endpoint, _external=True)
    return urls


def _open(response: Response) -> Response:
    # Open data: any web page may read it (no credentials are involved).
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


def _download(chunks, mimetype: str, filename: str) -> Response:
    response = Response(stream_with_context(chunks), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return _open(response)


def _csv(dataset: opendata.Dataset) -> Response:
    return _download(
        opendata.dataset_csv(dataset),
        "text/csv",  # Flask adds "; charset=utf-8"
        f"{dataset.slug}.csv",
    )


def _json(dataset: opendata.Dataset) -> Response:
    schema = url_for("opendata.datapackage", _external=True)
    return _download(
        opendata.dataset_json(dataset, schema), "application/json", f"{dataset.slug}.json"
    )


@bp.get("/opendata")
@policy(Permission.PUBLIC)
def index():
    language = "en" if str(get_locale() or "de").startswith("en") else "de"
    return render_template(
        "opendata/index.html",
        datasets=opendata.DATASETS,
        language=language,
        urls=_urls(),
        license_title=opendata.LICENSE_TITLE,
        license_url=opendata.LICENSE_TEXT_URL,
        attribution=opendata.attribution(),
    )


@bp.get("/opendata/nachnutzung-laender.csv")
@policy(Permission.PUBLIC)
def lands_csv():
    return _csv(opendata.LANDS)


@bp.get("/opendata/nachnutzung-laender.json")
@policy(Permission.PUBLIC)
def lands_json():
    return _json(opendata.LANDS)


@bp.get("/opendata/nachnutzung-behoerden.csv")
@policy(Permission.PUBLIC)
def authorities_csv():
    return _csv(opendata.AUTHORITIES)


@bp.get("/opendata/nachnutzung-behoerden.json")
@policy(Permission.PUBLIC)
def authorities_json():
    return _json(opendata.AUTHORITIES)


@bp.get("/opendata/datapackage.json")
@policy(Permission.PUBLIC)
def datapackage():
    response = Response(
        json.dumps(opendata.datapackage(_urls()), ensure_ascii=False, indent=2),
        content_type="application/json; charset=utf-8",
    )
    return _open(response)


@bp.get("/opendata/dcat.rdf")
@policy(Permission.PUBLIC)
def dcat():
    response = Response(
        opendata.dcat_catalogue(_urls()), content_type="application/rdf+xml; charset=utf-8"
    )
    return _open(response)
