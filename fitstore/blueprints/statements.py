"""The cost statement of a Land and year over all listings: page, CSV, XLSX, print."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("statements", __name__)
