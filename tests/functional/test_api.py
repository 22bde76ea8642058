"""The JSON API under /api/v1: contract, authentication, reference data, errors, operations."""

from __future__ import annotations

import re

import pytest
from flask import request
from openapi_spec_validator import validate
from sqlalchemy import select

from fitstore import create_app
from fitstore.extensions import db
from fitstore.models import User
from fitstore.permissions import Permission, policy
from fitstore.schemas import LAENDER
from fitstore.services.admin import set_user_active
from fitstore.services.auth import TOKEN_PREFIX, create_token, revoke_token
from fitstore.services.system import SystemActor
from tests.conftest import BASE_CONFIG, login

PROBLEM_JSON = "application/problem+json"
ALL_AUTHORITIES = 11_299 + 401  # Gemeinden + Kreise in the shipped reference data


def assert_problem(response, status: int, field: str | None = None) -> dict:
    """An RFC 9457 problem body whose request id is the one in the response header."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    body = response.get_json(force=True)
    assert body["status"] == status
    assert body["title"]
    assert body["request_id"] == response.headers["X-Request-ID"]
    assert "Traceback" not in response.get_data(as_text=True)
    if field is not None:
        assert field in body["errors"], body
        assert all(isinstance(message, str) and message for message in body["errors"][field])
    return body


def user_id(app, email: str) -> int:
    with app.app_context():
        return db.session.scalar(select(User.id).where(User.email == email))


def authorities(client, **params):
    response = client.get("/api/v1/authorities", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.get_json()


# --- the OpenAPI document and Swagger UI ------------------------------------


def test_openapi_document_is_valid_openapi_3_1_with_bearer_auth(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()

    validate(spec)  # raises on any violation of the OpenAPI 3.1 meta-schema
    assert spec["openapi"].startswith("3.1.")
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    assert spec["paths"]["/api/v1/me"]["get"]["security"] == [{"bearerAuth": []}]
    # Reference data is public: no security requirement that would make clients send tokens.
    assert "security" not in spec["paths"]["/api/v1/laender"]["get"]
    assert "security" not in spec["paths"]["/api/v1/authorities"]["get"]


def test_openapi_document_describes_errors_as_the_problem_bodies_the_api_sends(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    problem_schema = spec["components"]["schemas"]["ProblemOut"]
    assert {"type", "title", "status", "request_id"} <= set(problem_schema["required"])
    assert problem_schema["properties"]["status"]["type"] == "integer"

    error_responses = {}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue  # path-level parameters (e.g. listing_id), not an operation
            # flask-smorest's own default error body (code/status/message) is never sent.
            assert "default" not in operation["responses"], (method, path)
            for status, response in operation["responses"].items():
                if not status.startswith("2"):
                    error_responses[(method, path, status)] = response
    assert ("get", "/api/v1/me", "401") in error_responses
    assert ("get", "/api/v1/authorities", "422") in error_responses
    for key, response in error_responses.items():
        assert list(response["content"]) == [PROBLEM_JSON], key
        assert response["content"][PROBLEM_JSON]["schema"] == {
            "$ref": "#/components/schemas/ProblemOut"
        }


def test_swagger_ui_is_served_from_vendored_assets_only(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'id="swagger-ui"' in page
    assert 'data-spec-url="/api/v1/openapi.json"' in page

    assets = re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"", page)
    assets += re.findall(r"<link[^>]*\bhref=\"([^\"]+)\"", page)
    assets += re.findall(r"<img[^>]*\bsrc=\"([^\"]+)\"", page)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
    assert any(asset.endswith("swagger-ui.css") for asset in assets)
    for asset in assets:
        assert not re.match(r"^(https?:)?//", asset), f"external asset {asset}"
        if asset.startswith("/static/"):
            assert client.get(asset).status_code == 200, asset
    # The browser enforces the same: scripts only from this origin, never inline.
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp
    assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0]


# --- /api/v1/me: bearer tokens only -----------------------------------------


def test_me_answers_the_token_owner(client, api_token):
    response = client.get("/api/v1/me", headers=api_token("editor-bb@demo.test"))
    assert response.status_code == 200
    body = response.get_json()
    assert body["email"] == "editor-bb@demo.test"
    assert body["role"] == "editor"
    assert body["organisation"]["land_ags"] == "12"
    assert body["organisation"]["kind"] == "land"
    assert "password_hash" not in body
    assert response.headers["Cache-Control"] == "no-store"

    admin = client.get("/api/v1/me", headers=api_token("admin@demo.test")).get_json()
    assert admin["email"] == "admin@demo.test"
    assert admin["role"] == "admin"
    assert admin["organisation"]["land_ags"] is None


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "bearer:fst_x",
        "Basic ZWRpdG9yLWJiQGRlbW8udGVzdDpmaXRzdG9yZS1kZW1v",
        "Token fst_abcdefghijklmnopqrstuvwxyz",
        "Bearer not-a-fitstore-token",
        "Bearer " + TOKEN_PREFIX + "x" * 200,
    ],
)
def test_me_refuses_missing_or_malformed_authorization(client, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    assert_problem(client.get("/api/v1/me", headers=headers), 401)


def test_me_refuses_an_unknown_token(client, api_token):
    api_token("editor-bb@demo.test")  # a real token exists, but not this one
    headers = {"Authorization": f"Bearer {TOKEN_PREFIX}definitely-not-issued-0123456789abcdef"}
    assert_problem(client.get("/api/v1/me", headers=headers), 401)


def test_me_refuses_a_revoked_token(app, client):
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "editor-bb@demo.test"))
        token, secret = create_token(user, "soon revoked")
        token_id = token.id
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200

    with app.app_context():
        user = db.session.get(User, user_id(app, "editor-bb@demo.test"))
        revoke_token(user, token_id)

    assert_problem(client.get("/api/v1/me", headers=headers), 401)


def test_me_refuses_the_token_of_a_deactivated_user(app, client, api_token):
    headers = api_token("editor-by@demo.test")
    assert client.get("/api/v1/me", headers=headers).status_code == 200

    with app.app_context():
        set_user_active(SystemActor(), user_id(app, "editor-by@demo.test"), False)

    assert_problem(client.get("/api/v1/me", headers=headers), 401)


def test_a_session_cookie_does_not_authenticate_the_api(client):
    assert login(client, "editor-bb@demo.test").status_code == 302
    # The cookie is a valid login for the HTML side ...
    assert client.get("/konto").status_code == 200
    # ... but the API, exempt from CSRF, must not accept it (a cross-site request would carry it).
    assert_problem(client.get("/api/v1/me"), 401)


# --- /api/v1/laender ---------------------------------------------------------


def test_laender_lists_the_16_laender_with_their_codes(client):
    response = client.get("/api/v1/laender")
    assert response.status_code == 200
    laender = response.get_json()
    assert len(laender) == 16
    by_ags = {land["ags"]: land for land in laender}
    assert by_ags["12"]["iso"] == "DE-BB"
    assert by_ags["12"]["short"] == "BB"
    assert by_ags["12"]["name"] == "Brandenburg"
    assert by_ags["09"]["iso"] == "DE-BY"
    assert by_ags["09"]["name"] == "Bayern"
    assert [land["ags"] for land in laender] == sorted(by_ags)
    # The `land` filter documents these codes as an enum; it must match the database.
    assert {(land["ags"], land["iso"], land["short"]) for land in laender} == set(LAENDER)


# --- /api/v1/authorities -----------------------------------------------------


def test_authorities_without_filter_pages_through_all_kreise_and_gemeinden(client):
    page = authorities(client)
    assert page["total"] == ALL_AUTHORITIES
    assert page["page"] == 1
    assert page["page_size"] == 20
    assert page["pages"] == -(-ALL_AUTHORITIES // 20)
    assert len(page["items"]) == 20


def test_authorities_search_by_name(client):
    page = authorities(client, q="potsdam")
    names = {item["name"] for item in page["items"]}
    assert "Potsdam, Stadt" in names
    assert all("potsdam" in name.lower() for name in names)
    potsdam = next(item for item in page["items"] if item["name"] == "Potsdam, Stadt")
    assert potsdam == {
        "ags": "12054",
        "ars": None,
        "name": "Potsdam, Stadt",
        "level": "kreis",
        "type": "Kreisfreie Stadt",
        "kreis_ags": "12054",
        "land_ags": "12",
    }
    # Case does not matter; % and _ are literal characters, not wildcards.
    assert authorities(client, q="POTSDAM")["total"] == page["total"]
    assert authorities(client, q="%")["total"] == 0
    assert authorities(client, q="_")["total"] == 0


def test_authorities_search_by_ags_prefix(client):
    page = authorities(client, ags="12054")
    assert {item["ags"] for item in page["items"]} == {"12054", "12054000"}

    brandenburg = authorities(client, ags="12", page_size=100)
    assert brandenburg["total"] > 400
    assert all(item["ags"].startswith("12") for item in brandenburg["items"])
    # Digits in the free-text search are a key prefix, too.
    assert authorities(client, q="12054")["total"] == 2


def test_authorities_search_by_full_ars(client):
    page = authorities(client, ars="120540000000")
    assert page["total"] == 1
    assert page["items"][0]["ars"] == "120540000000"
    assert page["items"][0]["ags"] == "12054000"
    assert page["items"][0]["name"] == "Potsdam"
    assert page["items"][0]["level"] == "gemeinde"


@pytest.mark.parametrize("land", ["12", "DE-BB", "BB"])
def test_authorities_filtered_by_land_in_every_notation(client, land):
    page = authorities(client, land=land, page_size=100)
    assert 0 < page["total"] < ALL_AUTHORITIES
    assert page["total"] == authorities(client, land="12")["total"]
    assert all(item["land_ags"] == "12" for item in page["items"])


def test_authorities_level_kreis_returns_only_kreise(client):
    page = authorities(client, level="kreis", page_size=100)
    assert page["total"] == 401
    assert all(item["level"] == "kreis" and item["ars"] is None for item in page["items"])

    brandenburg = authorities(client, land="BB", level="kreis", page_size=100)
    assert brandenburg["total"] == 18
    types = [item["type"] for item in brandenburg["items"]]
    assert types.count("Landkreis") == 14
    assert types.count("Kreisfreie Stadt") == 4


def test_authorities_pagination(client):
    first = authorities(client, land="BB", page=1, page_size=7)
    second = authorities(client, land="BB", page=2, page_size=7)
    total = first["total"]
    assert (first["page"], first["page_size"], second["page"]) == (1, 7, 2)
    assert first["pages"] == second["pages"] == -(-total // 7)
    assert second["total"] == total
    assert len(first["items"]) == len(second["items"]) == 7
    first_keys = [item["ags"] for item in first["items"]]
    second_keys = [item["ags"] for item in second["items"]]
    assert not set(first_keys) & set(second_keys)
    assert first_keys + second_keys == sorted(first_keys + second_keys)

    last = authorities(client, land="BB", page=first["pages"], page_size=7)
    assert len(last["items"]) == total - 7 * (first["pages"] - 1)
    beyond = authorities(client, land="BB", page=first["pages"] + 1, page_size=7)
    assert beyond["items"] == []
    assert beyond["total"] == total


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"ars": "12"}, "ars"),
        ({"ars": "abcdefghijkl"}, "ars"),
        ({"ars": "1205400000001"}, "ars"),
        ({"ags": "123"}, "ags"),
        ({"ags": "12a"}, "ags"),
        ({"ags": "12\n"}, "ags"),
        ({"ags": "\u0661\u0662"}, "ags"),  # Arabic-Indic digits are not an AGS
        ({"land": "XX"}, "land"),
        ({"land": "DE-ZZ"}, "land"),
        ({"land": "17"}, "land"),
        ({"q": "a\x00b"}, "q"),
        ({"q": "x" * 101}, "q"),
        ({"page": "0"}, "page"),
        ({"page": "-1"}, "page"),
        ({"page": "eins"}, "page"),
        ({"page_size": "1000"}, "page_size"),
        ({"page_size": "0"}, "page_size"),
        ({"level": "bund"}, "level"),
        ({"lang": "fr"}, "lang"),
        ({"sort": "name"}, "sort"),  # unknown parameters are refused, not ignored
        ({"Land": "BB"}, "Land"),  # a misspelt filter must not silently widen the result
    ],
)
def test_authorities_refuses_invalid_filters_with_a_problem(client, params, field):
    response = client.get("/api/v1/authorities", query_string=params)
    assert response.headers["Content-Type"] == PROBLEM_JSON
    body = assert_problem(response, 422, field)
    assert body["instance"] == "/api/v1/authorities"


def test_authorities_accepts_the_language_switch(client):
    assert authorities(client, lang="en", q="potsdam")["total"] == 3
    body = assert_problem(client.get("/api/v1/authorities?lang=en&page=0"), 422, "page")
    assert body["title"] == "Invalid input"
    body = assert_problem(client.get("/api/v1/authorities?lang=de&page=0"), 422, "page")
    assert body["title"] == "Eingaben ungültig"


# --- constant query counts ---------------------------------------------------


def test_authorities_query_count_does_not_grow_with_the_data(client, count_queries):
    with count_queries() as everything:
        page = authorities(client, page_size=20)
    assert page["total"] == ALL_AUTHORITIES and len(page["items"]) == 20

    with count_queries() as few:
        page = authorities(client, q="havel", page_size=20)
    assert 5 <= page["total"] <= 15 and len(page["items"]) == page["total"]

    assert everything.count == few.count
    assert everything.count <= 2, everything.statements  # the count and the page

    # A Land filter costs one lookup of the Land, whatever the Land's size.
    with count_queries() as berlin:
        assert authorities(client, land="BE")["total"] == 2  # Kreis and Gemeinde Berlin
    with count_queries() as bayern:
        assert authorities(client, land="BY")["total"] > 2000
    assert berlin.count == bayern.count == everything.count + 1


def test_laender_query_count_is_constant(client, count_queries):
    with count_queries() as anonymous:
        assert len(client.get("/api/v1/laender").get_json()) == 16
    with count_queries() as again:
        assert len(client.get("/api/v1/laender").get_json()) == 16
    assert anonymous.count == again.count == 1, anonymous.statements


# --- errors, limits and headers ---------------------------------------------


def test_unknown_api_route_is_a_problem(client):
    body = assert_problem(client.get("/api/v1/gibt-es-nicht"), 404)
    assert body["instance"] == "/api/v1/gibt-es-nicht"


def test_wrong_method_is_a_problem_with_allow(client):
    response = client.delete("/api/v1/laender")
    assert_problem(response, 405)
    allowed = {method.strip() for method in response.headers["Allow"].split(",")}
    assert "GET" in allowed and "DELETE" not in allowed


def test_huge_body_to_the_api_is_refused_without_a_server_error(client):
    huge = b"{" + b" " * (3 * 1024 * 1024) + b"}"
    for path in ("/api/v1/authorities", "/api/v1/me", "/api/v1/laender"):
        response = client.post(path, data=huge, content_type="application/json")
        # No API route takes a body yet: the method is refused before the body is read.
        assert_problem(response, 405)


def test_body_over_max_content_length_on_an_api_path_is_a_413_problem(app_factory):
    app = app_factory()
    assert app.config["MAX_CONTENT_LENGTH"] == 2 * 1024 * 1024

    # No API route reads a body yet, so this test adds one (fresh app, before its first
    # request) to prove that the error handling turns Werkzeug's 413 into a problem, not a 500.
    @policy(Permission.PUBLIC)
    def echo_length():
        return {"length": len(request.get_data())}

    app.add_url_rule("/api/v1/_test-echo", "test_echo", echo_length, methods=["POST"])
    client = app.test_client()

    small = client.post("/api/v1/_test-echo", data=b"x" * 1024)
    assert small.status_code == 200 and small.get_json() == {"length": 1024}

    body = assert_problem(client.post("/api/v1/_test-echo", data=b"x" * (2 * 1024 * 1024 + 1)), 413)
    assert body["detail"]


SECURITY_HEADER_REQUESTS = [
    ("GET", "/api/v1/laender", False, 200),
    ("GET", "/api/v1/authorities?q=potsdam", False, 200),
    ("GET", "/api/v1/authorities?ags=1", False, 422),
    ("GET", "/api/v1/me", False, 401),
    ("GET", "/api/v1/me", True, 200),
    ("GET", "/api/v1/gibt-es-nicht", False, 404),
    ("PUT", "/api/v1/laender", False, 405),
    ("GET", "/api/v1/openapi.json", False, 200),
    ("GET", "/api/v1/docs", False, 200),
]


@pytest.mark.parametrize(("method", "url", "with_token", "status"), SECURITY_HEADER_REQUESTS)
def test_every_api_response_carries_security_headers_and_a_request_id(
    client, api_token, method, url, with_token, status
):
    headers = api_token("viewer-bb@demo.test") if with_token else {}
    response = client.open(url, method=method, headers=headers)
    assert response.status_code == status
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    request_id = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[A-Za-z0-9._-]{8,64}", request_id)
    if status >= 400:
        assert response.get_json(force=True)["request_id"] == request_id


def test_request_id_from_a_proxy_is_kept_and_a_malformed_one_replaced(client):
    response = client.get("/api/v1/me", headers={"X-Request-ID": "lb-2024.abc_123"})
    assert response.headers["X-Request-ID"] == "lb-2024.abc_123"
    assert response.get_json(force=True)["request_id"] == "lb-2024.abc_123"

    # A header value could carry log injection; it is replaced, not echoed.
    response = client.get("/api/v1/me", headers={"X-Request-ID": "evil id; injected=1"})
    request_id = response.headers["X-Request-ID"]
    assert request_id != "evil id; injected=1"
    assert re.fullmatch(r"[A-Za-z0-9._-]{8,64}", request_id)
    assert response.get_json(force=True)["request_id"] == request_id


def test_two_requests_get_different_request_ids(client):
    first = client.get("/api/v1/laender").headers["X-Request-ID"]
    second = client.get("/api/v1/laender").headers["X-Request-ID"]
    assert first != second


# --- health and readiness ------------------------------------------------------


def test_healthz_and_readyz(client):
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.get_json() == {"status": "ok"}

    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json() == {"status": "ok", "database": "ok"}


def test_readyz_answers_503_when_the_database_is_unreachable():
    # Built directly: the test fixtures would try to open a transaction on this database.
    app = create_app(
        {**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    )
    client = app.test_client()

    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json() == {"status": "unavailable", "database": "unreachable"}
    assert ready.headers["X-Request-ID"]
    assert "frame-ancestors 'none'" in ready.headers["Content-Security-Policy"]
    # Liveness does not depend on the database: the process itself is fine.
    assert client.get("/healthz").status_code == 200
