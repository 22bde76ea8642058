"""The dashboard figures in the JSON API: the same numbers as the public pages."""

from __future__ import annotations

from fitstore.blueprints.api import PREFIX, ApiBlueprint
from fitstore.extensions import csrf

dashboard_api = ApiBlueprint(
    "api_dashboard",
    __name__,
    url_prefix=PREFIX,
    description="Transparency: public adoption figures, time series, lead times and waits",
)
csrf.exempt(dashboard_api)
