"""Cost pages of a listing: the yearly cost plan (kept by the provider), the split of a
year with its Rechenweg, and the what-if simulator."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("costs", __name__)
