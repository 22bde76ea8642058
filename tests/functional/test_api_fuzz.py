"""Property-based fuzzing of the API against its own OpenAPI document (schemathesis, in-process).

Every default check of schemathesis is on, in positive and negative mode: no 5xx, only
documented status codes, bodies, headers and content types as documented,
schema-valid requests accepted, schema-invalid ones refused, unsupported methods
answered with 405 and ``Allow``, and a protected operation refusing requests without
a valid bearer token. Only a refusal by a domain rule over stored data (a 412 or 422
after the request passed validation) counts as an accepted schema-valid request, see
``_positive_data_acceptance_past_validation``.

Every operation that takes a bearer token is fuzzed past authentication by three
actors: an editor of Brandenburg (provider of the demo listings and lead of their
alliances), an editor of Bayern (an adopter that is live with a rollout) and FITKO
staff. Each reads, writes and is refused what its role and Land allow, on real rows of
the demo data. Public operations are fuzzed without a token too.

``FITSTORE_FUZZ_EXAMPLES`` sets the generated examples per operation and actor (``make
fuzz`` runs 300); the boundary cases of the coverage phase come on top of them.
"""

import os

import pytest
import schemathesis
from flask import g
from flask_smorest.arguments import ArgumentsMixin
from flask_smorest.spec.plugins import FlaskPlugin
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance
from schemathesis.config import SchemathesisConfig

from fitstore import create_app
from fitstore.extensions import db
from fitstore.permissions import Permission, can, route_policy
from tests.conftest import BASE_CONFIG
from tests.factories import user_by_email

EXAMPLES = int(os.environ.get("FITSTORE_FUZZ_EXAMPLES", "5"))

ACTORS = {
    "provider": "editor-bb@demo.test",
    "adopter": "editor-by@demo.test",
    "fitko": "fitko-1@demo.test",
}

# schemathesis needs the schema when pytest collects this module, before any
# fixture exists (its fixture-based loader, schemathesis.pytest.from_fixture,
# breaks on pytest 9: it writes the removed ``Node._nodeid``). Generating the
# OpenAPI document touches no database, so an app on an empty in-memory SQLite
# serves it; every request then goes to the test's own ``app`` (passed as
# ``app=``), which runs on the test database, SQLite or PostgreSQL.
_document_app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": "sqlite://"})

# RFC 6585: a PUT of a listing without If-Match is answered 428 Precondition Required,
# the status made for exactly this missing header.
_CHECKS = {
    "missing_required_header": {
        "expected-statuses": ["400", "401", "403", "406", "415", "422", "428"]
    }
}

# A random id (1 to 2^31-1) practically never names a row, and a random year rarely one
# with a cost plan. So half of the generated examples take every id (in the path or the
# body) from the first ids, where the demo data has its listings, reuses, contracts,
# plan items, notices and IT-Dienstleister, and the year from those with cost plans:
# the actors then read and change real rows of every kind, not only get a 404.
# schemathesis keeps a case that is invalid on purpose invalid.
_DICTIONARIES = {
    "demo_ids": {"values": list(range(1, 26))},
    "cost_years": {"values": [2025, 2026, 2027]},
}
_IDS = ("listing_id", "reuse_id", "contract_id", "item_id", "notification_id", "document_id")
_DEMO_ROWS = {
    f"{where}.{name}": {"dictionary": "demo_ids", "probability": 0.5}
    for where in ("path", "body")
    for name in (*_IDS, "operator_id")
} | {
    f"{where}.year": {"dictionary": "cost_years", "probability": 0.5} for where in ("path", "body")
}

# The boundary cases all go to one row of each kind, so that they reach the validation
# of the body instead of stopping at the 404 for the boundary id 0: Brandenburg's
# Aufenthaltstitel (listing 1) with its plan of 2026 (item 1) and its document, the
# reuse of Mecklenburg-Vorpommern in coordination (9), the contract waiting for its
# check (7) and a notice to editor-bb (3). Ids out of range are fuzzed above.
_BOUNDARY_ROWS = {
    "path.listing_id": 1,
    "path.reuse_id": 9,
    "path.contract_id": 7,
    "path.item_id": 1,
    "path.notification_id": 3,
    "path.document_id": 1,
    "path.year": 2026,
}


def _load(phases: dict, parameters: dict, dictionaries: dict) -> schemathesis.BaseSchema:
    config = SchemathesisConfig.from_dict(
        {
            "phases": phases,
            "checks": _CHECKS,
            "parameters": parameters,
            "dictionaries": dictionaries,
        }
    )
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _document_app, config=config)


# The coverage phase derives every boundary case from the document (a few dozen to a
# few hundred per operation, whatever FITSTORE_FUZZ_EXAMPLES says). What it tests, the
# input the document promises to accept or refuse, is the same for every caller, so it
# runs once per operation (``test_api_boundary_cases_...``) as the first actor the
# route lets in; the generated examples run for every actor.
generated = _load({"coverage": {"enabled": False}}, _DEMO_ROWS, _DICTIONARIES)
boundaries = _load(
    {"examples": {"enabled": False}, "fuzzing": {"enabled": False}}, _BOUNDARY_ROWS, {}
)


def _security(ctx) -> list:
    return ctx.operation.definition.raw.get("security") or []


def _takes_token(ctx) -> bool:
    return any("bearerAuth" in requirement for requirement in _security(ctx))


def _open_without_token(ctx) -> bool:
    security = _security(ctx)
    return not security or {} in security


# The permission each operation's route requires (fitstore.permissions.policy).
_POLICIES = {
    (method, FlaskPlugin.flaskpath2openapi(rule.rule)): route_policy(_document_app, rule.endpoint)
    for rule in _document_app.url_map.iter_rules()
    for method in rule.methods
}


@pytest.fixture
def refusals(app, monkeypatch):
    """The request ids of the requests that reached the view, and of those among them
    whose arguments (query, headers, body) webargs refused against the schemas the
    document is made from. A request that reached the view and was refused without
    webargs was refused by a domain rule (``fitstore.services``)."""
    reached: set[str] = set()
    refused: set[str] = set()
    dispatch = app.dispatch_request
    parser = ArgumentsMixin.ARGUMENTS_PARSER
    handle_error = parser.handle_error

    def dispatch_and_record():
        reached.add(g.request_id)
        return dispatch()

    def record_refusal(*args, **kwargs):
        refused.add(g.request_id)
        return handle_error(*args, **kwargs)

    monkeypatch.setattr(app, "dispatch_request", dispatch_and_record)
    monkeypatch.setattr(parser, "handle_error", record_refusal)
    return reached, refused


def _positive_data_acceptance_past_validation(refusals):
    """schemathesis' positive_data_acceptance, except for the refusals no JSON schema
    can foresee because they depend on stored data or today's date: 412 when a generated
    If-Match names another version of the object, 422 when a domain rule refuses (a
    rollout date before the contract, a full plan, a year without key data, ...). Such
    a 422 must come after the request passed validation against the document, and name
    the fields to fix with a message each."""
    reached, refused = refusals

    def check(ctx, response, case):
        # schemathesis keeps header names in lower case, with a list of values each.
        request_id = (response.headers.get("x-request-id") or [None])[0]
        if (
            case.meta is not None
            and case.meta.generation.mode.is_positive
            and response.status_code in (412, 422)
            and request_id in reached
            and request_id not in refused
        ):
            if response.status_code == 422:
                errors = response.json().get("errors")
                assert errors, response.json()
                assert all(
                    isinstance(text, str) and text for texts in errors.values() for text in texts
                ), errors
            return None
        return positive_data_acceptance(ctx, response, case)

    return check


def _call_and_validate(case, app, headers, refusals) -> None:
    if case.operation.schema.is_security_param_negated(case):
        # A negative case that leaves the credentials out must go without them (as
        # schemathesis' own auth providers do), or it would be a valid request after all.
        headers = None
    case.call_and_validate(
        headers=headers,
        app=app,
        excluded_checks=[positive_data_acceptance],
        additional_checks=[_positive_data_acceptance_past_validation(refusals)],
    )


# The ``app`` fixture (one database, fresh for each test) is shared by all examples of
# one operation and actor on purpose: a fresh database per example would cost minutes.
# So writes pile up (listings created, published and withdrawn, reuses moved on, plan
# items added); every later answer is still checked against the document, and what
# this state causes (409, 412, 422 of the domain) is documented.
_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@generated.include(func=_takes_token).parametrize()
@pytest.mark.parametrize("actor", list(ACTORS))
@_SETTINGS
def test_api_conforms_to_its_openapi_document_for_each_actor(case, app, api_token, actor, refusals):
    _call_and_validate(case, app, api_token(ACTORS[actor]), refusals)


@generated.include(func=_open_without_token).parametrize()
@_SETTINGS
def test_public_api_conforms_to_its_openapi_document(case, app, refusals):
    _call_and_validate(case, app, None, refusals)


@pytest.fixture
def boundary_caller(app, api_token):
    """The headers of the first actor the operation's route lets in (none for a public
    route), so that the boundary cases reach the validation of their input."""
    chosen: dict[tuple[str, str], dict | None] = {}

    def headers_for(case) -> dict | None:
        # The operation's own method: a boundary case may send another one (TRACE).
        key = (case.operation.method.upper(), case.operation.path)
        if key not in chosen:
            permission = _POLICIES[key]
            chosen[key] = None
            if permission != Permission.PUBLIC:
                with app.app_context():
                    admitted = [
                        email for email in ACTORS.values() if can(user_by_email(email), permission)
                    ]
                    db.session.remove()
                assert admitted, f"no actor of this module gets past the policy of {key}"
                chosen[key] = api_token(admitted[0])
        return chosen[key]

    return headers_for


@boundaries.parametrize()
@_SETTINGS
def test_api_boundary_cases_conform_to_its_openapi_document(case, app, boundary_caller, refusals):
    _call_and_validate(case, app, boundary_caller(case), refusals)
