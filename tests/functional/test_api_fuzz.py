"""Property-based fuzzing of the API against its own OpenAPI document (schemathesis, in-process).

Every check schemathesis has is on, in positive and negative mode: no 5xx, only
documented status codes, bodies and content types as documented, schema-valid
requests accepted, schema-invalid ones refused, unsupported methods answered
with 405 and ``Allow``, and a protected operation refusing requests without a
valid bearer token.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from fitstore import create_app
from tests.conftest import BASE_CONFIG

# schemathesis needs the schema when pytest collects this module, before any
# fixture exists (its fixture-based loader, schemathesis.pytest.from_fixture,
# breaks on pytest 9: it writes the removed ``Node._nodeid``). Generating the
# OpenAPI document touches no database, so an app on an empty in-memory SQLite
# serves it; every request then goes to the test's own ``app`` (passed as
# ``app=``), which runs on the test database, SQLite or PostgreSQL.
_document_app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _document_app)


@pytest.fixture
def bearer(api_token):
    return api_token("editor-bb@demo.test")


# Reuses and contracts are fuzzed past authentication with a viewer of Brandenburg, the
# provider of the demo reuses: it reads them (response schemas checked against real
# rows) and may write none, so the database stays as it is and every valid request is
# answered 2xx, 403 or 404, never a domain 409/422 that no schema could predict.
READER_PATHS = ("/api/v1/reuses", "/api/v1/contracts")
# The cost API goes past authentication with the same viewer: it reads the cost plans and
# splits of the demo listings of Brandenburg (the provider) and Brandenburg's statement,
# changes no plan (403 before the body is looked at), and a simulation never writes.
COST_PATHS = ("/api/v1/listings/{listing_id}/costs/", "/api/v1/lands/")
# Whether a split can be computed depends on stored data that no schema can express (a
# plan for the year, participants, key data of the year, usage figures), so for the split
# and the simulation a schema-valid request may rightly be a 422 problem. For these two
# only, positive_data_acceptance gives way to a narrower check (split_problem_says_why).
SPLITS = {
    ("GET", "/api/v1/listings/{listing_id}/costs/{year}"),
    ("POST", "/api/v1/listings/{listing_id}/costs/{year}/simulation"),
}


# The dashboard's lead times and waits go past authentication with the same viewer: they
# read the demo history of the listings Brandenburg provides, reuses or is an alliance member
# of. (The public dashboard figures need no token and are fuzzed without one.)
LEAD_TIME_PATHS = ("/api/v1/lead-times", "/api/v1/waits")


# The provider's plan items are fuzzed for writing with an editor of Brandenburg, the
# provider of demo listing 1: its examples share one database, so a plan may fill up (100
# items) or reach the largest storable sum, and a valid request may then rightly be a 422
# naming the field; the write itself must never fail otherwise.
PLAN_WRITES = {
    ("POST", "/api/v1/listings/{listing_id}/costs/{year}/items"),
    ("PATCH", "/api/v1/listings/{listing_id}/costs/{year}/items/{item_id}"),
    ("DELETE", "/api/v1/listings/{listing_id}/costs/{year}/items/{item_id}"),
}


@pytest.fixture
def reader(api_token):
    return api_token("viewer-bb@demo.test")


def split_problem_says_why(ctx, response, case):
    """A 422 of a split or simulation names the field to fix and says what to do."""
    if response.status_code == 422:
        body = response.json()
        assert body["errors"], body
        assert all(
            isinstance(text, str) and text for texts in body["errors"].values() for text in texts
        )


@schema.parametrize()
# The ``app`` fixture is shared by all examples of one operation on purpose: the
# API under test only reads, and a fresh database per example would cost minutes.
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_api_conforms_to_its_openapi_document(case, app, bearer, reader):
    # With a valid token the protected operation is fuzzed past authentication;
    # schemathesis' ignored_auth check then replays it without and with a bad token.
    headers = bearer if case.path == "/api/v1/me" else None
    if case.path.startswith(READER_PATHS + COST_PATHS + LEAD_TIME_PATHS):
        headers = reader
    if (case.method.upper(), case.path) in PLAN_WRITES:
        headers = bearer
    if case.operation.schema.is_security_param_negated(case):
        # A negative case that leaves the credentials out must go without them (as
        # schemathesis' own auth providers do), or it would be a valid request after all.
        headers = None
    if (case.method.upper(), case.path) in SPLITS | PLAN_WRITES:
        case.call_and_validate(
            headers=headers,
            app=app,
            excluded_checks=[positive_data_acceptance],
            additional_checks=[split_problem_says_why],
        )
        return
    case.call_and_validate(headers=headers, app=app)
