"""Lead times per stage and the list of long waits (FITKO and members)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("lead_times", __name__)
