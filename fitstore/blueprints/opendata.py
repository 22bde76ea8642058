"""Open data: the public adoption data as CSV and JSON, its schema and DCAT-AP.de."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("opendata", __name__)
