"""Downloads of the catalogue (CSV, JSON) and of single listings (publiccode.yml)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("exports", __name__)
