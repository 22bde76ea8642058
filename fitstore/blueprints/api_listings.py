"""The listings part of the JSON API under /api/v1/listings."""

from __future__ import annotations

from fitstore.blueprints.api import PREFIX, ApiBlueprint
from fitstore.extensions import csrf

listings_api = ApiBlueprint("api_listings", __name__, url_prefix=PREFIX, description="EfA listings")
csrf.exempt(listings_api)
