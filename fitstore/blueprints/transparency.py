"""The public dashboard: Germany by Land and Kreis, per Land, over time."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("transparency", __name__)
