"""The cost part of the JSON API: cost plans, splits, simulations and Land statements."""

from __future__ import annotations

from fitstore.blueprints.api import PREFIX, ApiBlueprint
from fitstore.extensions import csrf

costs_api = ApiBlueprint(
    "api_costs",
    __name__,
    url_prefix=PREFIX,
    description="Cost sharing: cost plans, yearly splits, what-if simulations, statements",
)
csrf.exempt(costs_api)
