"""Pages for EfA listings: catalogue, listing page, editing, review queue, versions, documents."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("listings", __name__)
