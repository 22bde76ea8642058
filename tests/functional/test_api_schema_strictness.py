"""Mass assignment through the API is impossible: every request body names its properties.

The OpenAPI document says so (``additionalProperties: false`` on every object of every
request body, so schemathesis' negative cases add properties that must be refused), and
the API does so: a body that adds a property a client must never set (an id, the Land,
a status, who created or decided something, a version) is refused with 422 naming that
property, and nothing changes. Operations without a request body read none.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from fitstore import create_app
from fitstore.extensions import db
from fitstore.models import AuditEvent
from tests.conftest import BASE_CONFIG

_document = (
    create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    .test_client()
    .get("/api/v1/openapi.json")
    .get_json()
)
_COMPONENTS = _document["components"]["schemas"]

PROVIDER = "editor-bb@demo.test"  # Brandenburg: provider of listing 1, lead of its alliance
ADOPTER = "editor-by@demo.test"  # Bayern: an adopter of listing 1, member of its alliance
FITKO = "fitko-1@demo.test"

LISTING = {
    "title": "Testleistung",
    "ozg_name": "Testleistung",
    "ozg_id": "98001",
    "leika_keys": ["98000000000001"],
    "themenfeld_number": 4,
    "reifegrad": 3,
    "transport": "fit_connect",
}

# A valid body of every operation that reads one, sent by a caller the route's policy lets
# through (otherwise it would answer 403 before reading the body). Ids need not exist:
# the body is checked before the object is looked up.
VALID_BODIES: dict[tuple[str, str], tuple[str, dict, dict]] = {
    # (method, path in the document): (caller, body, headers)
    ("POST", "/api/v1/listings"): (PROVIDER, LISTING, {}),
    ("PUT", "/api/v1/listings/{listing_id}"): (PROVIDER, LISTING, {"If-Match": '"1"'}),
    ("POST", "/api/v1/listings/{listing_id}/reject"): (FITKO, {"reason": "Unvollständig"}, {}),
    ("POST", "/api/v1/listings/{listing_id}/revision/reject"): (
        FITKO,
        {"reason": "Unvollständig"},
        {},
    ),
    ("POST", "/api/v1/reuses"): (ADOPTER, {"listing_id": 1}, {}),
    ("POST", "/api/v1/reuses/{reuse_id}/conditions"): (
        PROVIDER,
        {
            "condition_model": "annual_fee",
            "annual_fee_cents": 100_000,
            "connection_cost_cents": 0,
            "scope": "Alle Ausländerbehörden",
            "conditions_start": "2026-01-01",
        },
        {},
    ),
    ("POST", "/api/v1/reuses/{reuse_id}/transitions"): (ADOPTER, {"action": "hold"}, {}),
    ("PUT", "/api/v1/reuses/{reuse_id}/onboarding/{key}"): (ADOPTER, {"done": True}, {}),
    ("POST", "/api/v1/reuses/{reuse_id}/rollout"): (ADOPTER, {"authorities": ["09162"]}, {}),
    ("PATCH", "/api/v1/reuses/{reuse_id}/rollout"): (
        ADOPTER,
        {"authorities": ["09162"], "status": "connecting", "date": "2026-01-02"},
        {},
    ),
    ("POST", "/api/v1/contracts/{contract_id}/check"): (
        FITKO,
        {"eligibility_basis": "traeger", "legal_basis": "§ 108 Abs. 4 GWB"},
        {},
    ),
    ("POST", "/api/v1/contracts/{contract_id}/countersign"): (
        FITKO,
        {"effective_date": "2026-01-01"},
        {},
    ),
    ("POST", "/api/v1/listings/{listing_id}/alliance/join"): (ADOPTER, {"message": "Gern"}, {}),
    ("POST", "/api/v1/listings/{listing_id}/alliance/requests/{land_code}"): (
        PROVIDER,
        {"decision": "accept"},
        {},
    ),
    ("POST", "/api/v1/listings/{listing_id}/alliance/cost-key-decisions"): (
        PROVIDER,
        {"year": 2027, "key": "equal", "funding_model": "participants"},
        {},
    ),
    ("POST", "/api/v1/listings/{listing_id}/alliance/cost-key-decisions/{year}/votes"): (
        ADOPTER,
        {"vote": "approve"},
        {},
    ),
    ("POST", "/api/v1/listings/{listing_id}/costs/{year}/items"): (
        PROVIDER,
        {"cost_type": "direct", "amount_cents": 100},
        {},
    ),
    ("PATCH", "/api/v1/listings/{listing_id}/costs/{year}/items/{item_id}"): (
        PROVIDER,
        {"amount_cents": 100},
        {},
    ),
    ("POST", "/api/v1/listings/{listing_id}/costs/{year}/simulation"): (PROVIDER, {}, {}),
}

# Path parameters that route (the objects need not exist or be the caller's).
PATH_VALUES = {
    "listing_id": "1",
    "reuse_id": "1",
    "contract_id": "1",
    "item_id": "1",
    "year": "2027",
    "key": "transport",
    "land_code": "BY",
}

# Properties a client must never set: who and what the server decides.
FORBIDDEN_PROPERTIES = {
    "id": 1,
    "land_ags": "12",
    "status": "published",
    "created_by_id": 1,
    "lock_version": 7,
}


def _operations():
    for path, item in _document["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                yield method.upper(), path, operation


def _body_schemas(operation) -> list[dict]:
    content = operation.get("requestBody", {}).get("content", {})
    return [media["schema"] for media in content.values()]


BODY_OPERATIONS = sorted(
    (method, path) for method, path, operation in _operations() if _body_schemas(operation)
)


def _resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = _COMPONENTS[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _objects(schema: dict, where: str, seen: frozenset = frozenset()):
    """Every object schema in ``schema`` (with the JSON path to it), $refs followed."""
    ref = schema.get("$ref")
    if ref in seen:
        return
    if ref:
        seen = seen | {ref}
    schema = _resolve(schema)
    types = schema.get("type")
    types = types if isinstance(types, list) else [types]
    if "object" in types or "properties" in schema:
        yield where, schema
    for name, sub in schema.get("properties", {}).items():
        yield from _objects(sub, f"{where}.{name}", seen)
    if isinstance(schema.get("items"), dict):
        yield from _objects(schema["items"], f"{where}[]", seen)
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _objects(schema["additionalProperties"], f"{where}.*", seen)
    for keyword in ("allOf", "anyOf", "oneOf"):
        for sub in schema.get(keyword, []):
            yield from _objects(sub, where, seen)


@pytest.mark.database_free
def test_this_module_knows_a_valid_body_of_every_operation_that_reads_one():
    """A new operation with a request body must be added to VALID_BODIES, so that the
    tests below cover it."""
    assert sorted(VALID_BODIES) == BODY_OPERATIONS


@pytest.mark.database_free
@pytest.mark.parametrize(("method", "path"), BODY_OPERATIONS)
def test_every_object_of_a_request_body_forbids_unknown_properties(method, path):
    operation = _document["paths"][path][method.lower()]
    objects = [found for schema in _body_schemas(operation) for found in _objects(schema, "$")]
    assert objects, f"{method} {path}: no object schema in the request body"
    lax = [where for where, schema in objects if schema.get("additionalProperties") is not False]
    assert not lax, f"{method} {path}: unknown properties allowed at {lax}"


def _url(path: str) -> str:
    return path.format(**PATH_VALUES)


def _audit_rows(app) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(AuditEvent))
        db.session.remove()
    return count


@pytest.mark.parametrize(("method", "path"), BODY_OPERATIONS)
def test_a_body_that_sets_what_the_server_decides_is_refused_naming_the_property(
    app, client, api_token, method, path
):
    caller, body, headers = VALID_BODIES[(method, path)]
    headers = {**api_token(caller), **headers}
    before = _audit_rows(app)
    for name, value in FORBIDDEN_PROPERTIES.items():
        response = client.open(
            _url(path), method=method, json={**body, name: value}, headers=headers
        )
        assert response.status_code == 422, (name, response.get_json())
        assert response.mimetype == "application/problem+json"
        assert list(response.get_json()["errors"]) == [name], response.get_json()
    assert _audit_rows(app) == before


@pytest.mark.parametrize(
    ("path", "body", "field", "unknown"),
    [
        pytest.param(
            "/api/v1/listings",
            {**LISTING, "checklist": {"ui_barrierefrei": True, "approved_by_id": 1}},
            "checklist",
            "approved_by_id",
            id="listing checklist",
        ),
        pytest.param(
            "/api/v1/listings/1/costs/2026/simulation",
            {"participants": [{"land": "MV", "months": 9, "contract_id": 1}]},
            "participants",
            "contract_id",
            id="simulated participant",
        ),
        pytest.param(
            "/api/v1/listings/1/costs/2026/simulation",
            {"key": "mixed", "parameters": {"usage": 50, "koenigstein": 50, "status": 1}},
            "parameters",
            "status",
            id="simulated key parameters",
        ),
        pytest.param(
            "/api/v1/listings/1/alliance/cost-key-decisions",
            {
                "year": 2027,
                "key": "target_group",
                "funding_model": "participants",
                "parameters": {"BB": 1, "land_ags": 2},
            },
            "parameters",
            "land_ags",
            id="proposed key parameters",
        ),
    ],
)
def test_a_nested_object_with_an_unknown_property_is_refused_naming_it(
    app, client, api_token, path, body, field, unknown
):
    headers = api_token(PROVIDER)
    before = _audit_rows(app)
    response = client.post(path, json=body, headers=headers)
    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["errors"]
    assert list(errors) == [field], errors
    assert any(unknown in message for message in errors[field]), errors
    assert _audit_rows(app) == before


def test_an_action_that_reads_no_body_ignores_one(app, client, api_token):
    """The lifecycle actions (submit, publish, withdraw, ...) declare no request body and
    read none: a body that names a status or an id changes nothing but the action."""
    headers = api_token(PROVIDER)
    response = client.post(
        "/api/v1/listings/1/withdraw",
        json={"status": "published", "id": 99, "provider_land_ags": "09"},
        headers=headers,
    )
    assert response.status_code == 200, response.get_json()
    listing = response.get_json()
    assert (listing["id"], listing["status"], listing["provider"]["ags"]) == (1, "withdrawn", "12")
