"""The listings API: lifecycle with ETag/If-Match, roles, tenant isolation, bad input, search.

Runs on SQLite and on PostgreSQL; the race of two publishes needs PostgreSQL's
row locks and real commits (``postgres_only``).
"""

from __future__ import annotations

import hashlib
import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, delete, func, select
from sqlalchemy.orm import Session

from fitstore import create_app
from fitstore.extensions import db
from fitstore.models import (
    ApiToken,
    AuditEvent,
    Listing,
    ListingDocument,
    ListingRevision,
    ListingStatus,
    ListingVersion,
    Notification,
    Organisation,
    Transport,
    User,
)
from fitstore.models.base import utcnow
from fitstore.schemas.listings import ListingIn
from fitstore.services import listings as service
from fitstore.services.auth import create_token
from tests.conftest import BASE_CONFIG, PG_URL

PROBLEM_JSON = "application/problem+json"
API = "/api/v1/listings"
EDITOR_BB = "editor-bb@demo.test"
EDITOR_BY = "editor-by@demo.test"
FITKO = "fitko-1@demo.test"
TEXT_FIELDS = ("title", "status", "lock_version", "published_version", "description")


def content(**changes) -> dict:
    """A complete, valid request body."""
    data = {
        "title": "Aufenthaltstitel beantragen",
        "ozg_name": "Aufenthaltstitel",
        "ozg_id": "10255",
        "leika_keys": ["99010001000000", "99010001001000"],
        "themenfeld_number": 4,
        "reifegrad": 3,
        "operator_id": None,
        "description": "Online-Antrag auf einen **Aufenthaltstitel**.",
        "transport": "fit_connect",
        "xoev_standard": "XAusländer",
        "user_account": "servicekonto_bundid",
        "payment": "ePayBL",
        "requirements_note": "Anbindung der Ausländerbehörde über FIT-Connect.",
        "checklist": {"ui_barrierefrei": True, "rt_fitconnect": True},
        "annual_cost_cents": 1_250_000,
        "connection_cost_cents": 300_000,
        "contact_name": "Servicestelle EfA",
        "contact_email": "efa@mik.brandenburg.test",
    }
    data.update(changes)
    return data


def assert_problem(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    body = response.get_json(force=True)
    assert body["status"] == status
    assert body["request_id"] == response.headers["X-Request-ID"]
    if field is not None:
        assert field in body.get("errors", {}), body
        assert all(isinstance(message, str) and message for message in body["errors"][field])
    return body


def user(email: str) -> User:
    return db.session.scalar(select(User).where(User.email == email))


def seed(app, email: str = EDITOR_BB, status: str = "draft", **changes) -> int:
    """A listing created (and moved to ``status``) through the service layer."""
    with app.app_context():
        editor = user(email)
        listing = service.create_listing(editor, content(**changes))
        if status != "draft":
            service.submit_listing(editor, listing.id)
        if status in ("published", "withdrawn"):
            service.publish_listing(user(FITKO), listing.id)
        if status == "withdrawn":
            service.withdraw_listing(editor, listing.id)
        return listing.id


def row(app, listing_id: int) -> dict:
    with app.app_context():
        listing = db.session.get(Listing, listing_id)
        return {name: getattr(listing, name) for name in TEXT_FIELDS}


def listing_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Listing))


def catalogue(client, headers=None, **params) -> dict:
    response = client.get(API, query_string=params, headers=headers or {})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.get_json()


def etag_of(response) -> str:
    etag = response.headers["ETag"]
    assert re.fullmatch(r'"[0-9]+"', etag), etag
    return etag


@pytest.fixture
def editor(api_token):
    return api_token(EDITOR_BB)


@pytest.fixture
def fitko(api_token):
    return api_token(FITKO)


# --- the body schema ------------------------------------------------------------------


def test_the_body_schema_has_exactly_the_content_fields():
    assert tuple(ListingIn().fields) == service.CONTENT_FIELDS


# --- create, read, update with ETag / If-Match -------------------------------------------


def test_create_read_and_update_with_etags(app, client, editor):
    created = client.post(API, json=content(), headers=editor)
    assert created.status_code == 201, created.get_data(as_text=True)
    body = created.get_json()
    location = created.headers["Location"]
    assert location == f"{API}/{body['id']}"
    etag = etag_of(created)

    assert body["status"] == "draft"
    assert body["provider"] == {"ags": "12", "iso": "DE-BB", "short": "BB", "name": "Brandenburg"}
    assert body["published_version"] == 0
    assert body["leika_keys"] == ["99010001000000", "99010001001000"]
    assert body["themenfeld"] == {"number": 4, "name": "Ein- & Auswanderung"}
    assert (body["annual_cost_cents"], body["connection_cost_cents"]) == (1_250_000, 300_000)
    assert body["pending_revision"] is False
    assert body["documents"] == []
    checklist = {criterion["key"]: criterion for criterion in body["checklist"]}
    assert len(checklist) == len(service.criteria())
    assert checklist["ui_barrierefrei"]["fulfilled"] is True
    assert checklist["ui_barrierefrei"]["level"] == "MUSS"
    assert checklist["ui_barrierefrei"]["group"] == "Oberflächengestaltung"
    assert checklist["ui_mehrsprachig"]["fulfilled"] is False

    read = client.get(location, headers=editor)
    assert read.status_code == 200
    assert etag_of(read) == etag
    assert read.get_json() == body

    updated = client.put(
        location,
        json=content(title="Aufenthaltstitel online beantragen"),
        headers={**editor, "If-Match": etag},
    )
    assert updated.status_code == 200, updated.get_data(as_text=True)
    assert updated.get_json()["title"] == "Aufenthaltstitel online beantragen"
    new_etag = etag_of(updated)
    assert new_etag != etag
    assert etag_of(client.get(location, headers=editor)) == new_etag
    before = row(app, body["id"])

    # The old ETag is stale: the second writer's update is refused, nothing lost.
    stale = client.put(
        location, json=content(title="Verlorenes Update"), headers={**editor, "If-Match": etag}
    )
    assert_problem(stale, 412)
    assert row(app, body["id"]) == before

    # Without If-Match a PUT could overwrite someone else's change unnoticed.
    missing = client.put(location, json=content(title="Ohne Vorbedingung"), headers=editor)
    assert_problem(missing, 428)
    assert row(app, body["id"]) == before
    assert before["title"] == "Aufenthaltstitel online beantragen"


def test_if_match_forms(app, client, editor):
    listing_id = seed(app)
    url = f"{API}/{listing_id}"
    current = etag_of(client.get(url, headers=editor))
    version = current.strip('"')

    # A weak tag never matches (strong comparison), nor does garbage.
    for stale in (f'W/"{version}"', '"abc"', '"0"', '"' + "9" * 40 + '"', ""):
        response = client.put(url, json=content(), headers={**editor, "If-Match": stale})
        assert_problem(response, 412)
    # "*" and a list that contains the current tag are fine.
    listed = client.put(
        url, json=content(title="Liste"), headers={**editor, "If-Match": f'"999", {current}'}
    )
    assert listed.status_code == 200
    star = client.put(url, json=content(title="Stern"), headers={**editor, "If-Match": "*"})
    assert star.status_code == 200
    assert row(app, listing_id)["title"] == "Stern"


# --- the lifecycle -----------------------------------------------------------------------


def test_lifecycle_submit_publish_revise_accept_withdraw(app, client, editor, fitko):
    created = client.post(API, json=content(), headers=editor)
    listing_id = created.get_json()["id"]
    url = f"{API}/{listing_id}"
    assert_problem(client.get(url), 404)  # a draft is not public

    submitted = client.post(f"{url}/submit", headers={**editor, "If-Match": etag_of(created)})
    assert submitted.status_code == 200, submitted.get_data(as_text=True)
    assert submitted.get_json()["status"] == "submitted"
    assert submitted.get_json()["submitted_at"]

    # Only FITKO publishes; the provider's own editor cannot.
    before = row(app, listing_id)
    assert_problem(client.post(f"{url}/publish", headers=editor), 403)
    assert row(app, listing_id) == before

    published = client.post(f"{url}/publish", headers=fitko)
    assert published.status_code == 200, published.get_data(as_text=True)
    body = published.get_json()
    assert (body["status"], body["published_version"]) == ("published", 1)
    assert body["published_at"].endswith("+00:00")

    public = client.get(url)
    assert public.status_code == 200
    assert public.get_json()["title"] == "Aufenthaltstitel beantragen"
    assert public.get_json()["pending_revision"] is None  # not the public's business

    # Editing the published listing proposes a revision; the published text stays.
    proposed = client.put(
        url,
        json=content(title="Aufenthaltstitel – neu", reifegrad=4),
        headers={**editor, "If-Match": etag_of(public)},
    )
    assert proposed.status_code == 202, proposed.get_data(as_text=True)
    revision = proposed.get_json()
    assert revision["status"] == "pending"
    assert revision["listing_id"] == listing_id
    assert revision["content"]["title"] == "Aufenthaltstitel – neu"
    assert revision["content"]["reifegrad"] == 4
    assert revision["content"]["leika_keys"] == ["99010001000000", "99010001001000"]
    assert revision["content"]["checklist"]["ui_barrierefrei"] is True
    assert etag_of(proposed) != etag_of(public)

    for headers in ({}, editor, fitko):
        still = client.get(url, headers=headers).get_json()
        assert (still["title"], still["reifegrad"]) == ("Aufenthaltstitel beantragen", 3)
    assert client.get(url, headers=editor).get_json()["pending_revision"] is True
    assert client.get(url, headers=fitko).get_json()["pending_revision"] is True

    assert_problem(client.post(f"{url}/revision/accept", headers=editor), 403)
    accepted = client.post(f"{url}/revision/accept", headers=fitko)
    assert accepted.status_code == 200, accepted.get_data(as_text=True)
    body = accepted.get_json()
    assert (body["title"], body["reifegrad"]) == ("Aufenthaltstitel – neu", 4)
    assert body["published_version"] == 2
    assert body["pending_revision"] is False
    assert client.get(url).get_json()["title"] == "Aufenthaltstitel – neu"

    withdrawn = client.post(f"{url}/withdraw", headers=editor)
    assert withdrawn.status_code == 200
    assert withdrawn.get_json()["status"] == "withdrawn"
    assert withdrawn.get_json()["withdrawn_at"]
    assert_problem(client.get(url), 404)
    with app.app_context():
        actions = db.session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.object_type == "listing", AuditEvent.object_id == str(listing_id))
            .order_by(AuditEvent.id)
        ).all()
    assert actions == [
        "listing.created",
        "listing.submitted",
        "listing.published",
        "listing.revision_proposed",
        "listing.revision_accepted",
        "listing.withdrawn",
    ]


def test_fitko_withdraws_a_published_listing(app, client, fitko):
    listing_id = seed(app, status="published")
    response = client.post(f"{API}/{listing_id}/withdraw", headers=fitko)
    assert response.status_code == 200
    assert row(app, listing_id)["status"] == ListingStatus.WITHDRAWN


def test_reject_needs_a_reason(app, client, fitko):
    listing_id = seed(app, status="submitted")
    url = f"{API}/{listing_id}/reject"
    before = row(app, listing_id)
    for body in ({}, {"reason": ""}, {"reason": "    kurz   "}, {"reason": "x" * 2001}):
        assert_problem(client.post(url, json=body, headers=fitko), 422, "reason")
    assert_problem(client.post(url, headers=fitko), 415)  # no JSON body at all
    assert_problem(
        client.post(url, json={"reason": "Bitte ergänzen", "status": "draft"}, headers=fitko),
        422,
        "status",
    )
    assert row(app, listing_id) == before

    response = client.post(
        url, json={"reason": "Die Kostenangaben fehlen."}, headers={**fitko, "If-Match": "*"}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["status"] == "draft"
    assert response.get_json()["rejection_reason"] == "Die Kostenangaben fehlen."


def test_reject_revision_needs_a_reason_and_keeps_the_published_text(app, client, editor, fitko):
    listing_id = seed(app, status="published")
    url = f"{API}/{listing_id}"
    etag = etag_of(client.get(url))
    proposed = client.put(
        url, json=content(title="Geänderter Titel"), headers={**editor, "If-Match": etag}
    )
    assert proposed.status_code == 202

    assert_problem(client.post(f"{url}/revision/reject", json={}, headers=fitko), 422, "reason")
    refused = client.post(
        f"{url}/revision/reject", json={"reason": "Titel passt nicht."}, headers=fitko
    )
    assert refused.status_code == 200, refused.get_data(as_text=True)
    assert refused.get_json()["title"] == "Aufenthaltstitel beantragen"
    assert refused.get_json()["pending_revision"] is False
    assert refused.get_json()["published_version"] == 1
    with app.app_context():
        revision = db.session.scalar(
            select(ListingRevision).where(ListingRevision.listing_id == listing_id)
        )
        assert revision.reason == "Titel passt nicht."


@pytest.mark.parametrize(
    ("status", "method", "action", "who"),
    [
        ("draft", "post", "publish", FITKO),  # a draft was never submitted
        ("draft", "post", "reject", FITKO),
        ("draft", "post", "withdraw", EDITOR_BB),
        ("submitted", "post", "submit", EDITOR_BB),  # submit twice
        ("submitted", "put", "", EDITOR_BB),  # a submitted listing is not editable
        ("published", "post", "publish", FITKO),
        ("published", "post", "submit", EDITOR_BB),
        ("published", "post", "revision/accept", FITKO),  # nothing pending
        ("published", "post", "revision/reject", FITKO),
        ("withdrawn", "post", "withdraw", FITKO),
        ("withdrawn", "put", "", EDITOR_BB),
    ],
)
def test_illegal_transitions_are_409_and_change_nothing(
    app, client, api_token, status, method, action, who
):
    listing_id = seed(app, status=status)
    before = row(app, listing_id)
    url = f"{API}/{listing_id}" + (f"/{action}" if action else "")
    headers = {**api_token(who), "If-Match": f'"{before["lock_version"]}"'}
    body = {"reason": "Ein ausreichender Grund."} if "reject" in action else None
    if method == "put":
        body = content(title="Darf nicht")
    response = client.open(url, method=method.upper(), json=body, headers=headers)
    assert_problem(response, 409)
    assert row(app, listing_id) == before


def test_stale_if_match_on_an_action_is_412(app, client, editor, fitko):
    listing_id = seed(app)
    url = f"{API}/{listing_id}"
    etag = etag_of(client.get(url, headers=editor))
    assert (
        client.put(url, json=content(title="Neu"), headers={**editor, "If-Match": etag}).status_code
        == 200
    )

    before = row(app, listing_id)
    assert_problem(client.post(f"{url}/submit", headers={**editor, "If-Match": etag}), 412)
    assert row(app, listing_id) == before
    current = etag_of(client.get(url, headers=editor))
    submitted = client.post(f"{url}/submit", headers={**editor, "If-Match": current})
    assert submitted.status_code == 200

    assert_problem(client.post(f"{url}/publish", headers={**fitko, "If-Match": current}), 412)
    published = client.post(f"{url}/publish", headers={**fitko, "If-Match": etag_of(submitted)})
    assert published.status_code == 200

    proposed = client.put(
        url, json=content(title="Revision"), headers={**editor, "If-Match": etag_of(published)}
    )
    assert proposed.status_code == 202
    stale = {**fitko, "If-Match": etag_of(published)}
    assert_problem(client.post(f"{url}/revision/accept", headers=stale), 412)
    assert_problem(
        client.post(f"{url}/revision/reject", json={"reason": "Grund genug"}, headers=stale), 412
    )
    assert client.get(url, headers=fitko).get_json()["pending_revision"] is True
    fresh = {**fitko, "If-Match": etag_of(proposed)}
    assert client.post(f"{url}/revision/accept", headers=fresh).status_code == 200


# --- mass assignment and bad input ---------------------------------------------------------


FORBIDDEN_FIELDS = [
    ("id", 4711),
    ("status", "published"),
    ("provider_land_ags", "09"),
    ("provider", "09"),
    ("lock_version", 99),
    ("published_version", 3),
    ("created_at", "2020-01-01T00:00:00Z"),
    ("updated_at", "2020-01-01T00:00:00Z"),
    ("published_at", "2020-01-01T00:00:00Z"),
    ("created_by_id", 1),
    ("search_stems", " aufenthaltstitel "),
    ("rejection_reason", None),
    ("gibt_es_nicht", True),
]


@pytest.mark.parametrize(("field", "value"), FORBIDDEN_FIELDS)
def test_create_refuses_fields_a_client_must_not_set(app, client, editor, field, value):
    before = listing_count(app)
    response = client.post(API, json=content(**{field: value}), headers=editor)
    assert_problem(response, 422, field)
    assert listing_count(app) == before


@pytest.mark.parametrize(("field", "value"), FORBIDDEN_FIELDS)
def test_update_refuses_fields_a_client_must_not_set(app, client, editor, field, value):
    listing_id = seed(app)
    before = row(app, listing_id)
    response = client.put(
        f"{API}/{listing_id}",
        json=content(title="Geändert", **{field: value}),
        headers={**editor, "If-Match": f'"{before["lock_version"]}"'},
    )
    assert_problem(response, 422, field)
    assert row(app, listing_id) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("leika_keys", ["9901000100000"]),  # 13 digits
        ("leika_keys", ["99010001000000", "9901000100000x"]),
        ("leika_keys", []),
        ("leika_keys", "99010001000000"),
        ("ozg_id", "12a45"),
        ("ozg_id", 10255),
        ("ozg_id", "12\n"),
        ("themenfeld_number", 99),
        ("themenfeld_number", "4"),
        ("reifegrad", 7),
        ("reifegrad", -1),
        ("reifegrad", True),
        ("annual_cost_cents", -1),
        ("annual_cost_cents", 1.5),
        ("annual_cost_cents", "100"),
        ("annual_cost_cents", 2**63),
        ("connection_cost_cents", -1),
        ("connection_cost_cents", 2**63),
        ("checklist", {"gibt_es_nicht": True}),
        ("checklist", {"ui_barrierefrei": "ja"}),
        ("checklist", {"ui_barrierefrei": 1}),
        ("checklist", ["ui_barrierefrei"]),
        ("transport", "brieftaube"),
        ("user_account", "facebook"),
        ("operator_id", 0),
        ("operator_id", 2**40),
        ("operator_id", 999_999),  # no such organisation (checked by the service)
        ("contact_email", "kein-at-zeichen"),
        ("title", "ab"),
        ("title", "   "),
        ("title", None),
        ("title", "Null\x00Byte"),
        ("title", "Surrogat \ud800"),
        ("description", "x" * 20_001),
    ],
)
def test_bad_input_is_422_naming_the_field_and_nothing_is_saved(app, client, editor, field, value):
    before = listing_count(app)
    response = client.post(API, json=content(**{field: value}), headers=editor)
    assert_problem(response, 422, field)
    assert listing_count(app) == before


def test_missing_required_fields_are_named(app, client, editor):
    response = client.post(API, json={"title": "Nur ein Titel"}, headers=editor)
    body = assert_problem(response, 422)
    assert {
        "ozg_name",
        "ozg_id",
        "leika_keys",
        "themenfeld_number",
        "reifegrad",
        "transport",
    } <= set(body["errors"])


def test_the_operator_must_be_an_it_dienstleister(app, client, editor):
    with app.app_context():
        zit = db.session.scalar(select(Organisation.id).where(Organisation.short_name == "ZIT-BB"))
        ministry = db.session.scalar(
            select(Organisation.id).where(Organisation.short_name == "LAND-BB")
        )
    assert_problem(
        client.post(API, json=content(operator_id=ministry), headers=editor), 422, "operator_id"
    )
    created = client.post(API, json=content(operator_id=zit), headers=editor)
    assert created.status_code == 201
    assert created.get_json()["operator"]["short_name"] == "ZIT-BB"


def test_malformed_bodies_never_cause_a_server_error(app, client, editor):
    before = listing_count(app)
    as_form = client.post(API, data={"title": "Formular"}, headers=editor)
    assert_problem(as_form, 415)
    assert_problem(client.post(API, data="{", content_type="application/json", headers=editor), 400)
    deep = "[" * 100_000 + "]" * 100_000
    assert_problem(
        client.post(API, data=deep, content_type="application/json", headers=editor), 400
    )
    digits = '{"reifegrad": ' + "9" * 5000 + "}"
    assert_problem(
        client.post(API, data=digits, content_type="application/json", headers=editor), 400
    )
    assert_problem(client.post(API, json=[content()], headers=editor), 422)
    assert_problem(client.post(API, json="title", headers=editor), 422)
    huge = content(description="x" * (3 * 1024 * 1024))
    assert_problem(client.post(API, json=huge, headers=editor), 413)
    assert listing_count(app) == before


def test_script_in_the_description_is_stored_as_text_and_answered_as_json(app, client, editor):
    markdown = '<script>alert("x")</script> **fett** <img src=x onerror=alert(1)>'
    created = client.post(API, json=content(description=markdown), headers=editor)
    assert created.status_code == 201
    response = client.get(created.headers["Location"], headers=editor)
    assert response.mimetype == "application/json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.get_json()["description"] == markdown


# --- who may do what -------------------------------------------------------------------------


def test_another_land_can_neither_see_nor_change_a_draft(app, client, api_token):
    listing_id = seed(app)  # a Brandenburg draft
    url = f"{API}/{listing_id}"
    before = row(app, listing_id)
    bavaria = api_token(EDITOR_BY)
    precondition = {"If-Match": f'"{before["lock_version"]}"'}

    assert_problem(client.get(url, headers=bavaria), 404)
    assert_problem(
        client.put(url, json=content(title="Gekapert"), headers={**bavaria, **precondition}), 404
    )
    assert_problem(client.post(f"{url}/submit", headers=bavaria), 404)
    assert_problem(client.get(url, headers=api_token("viewer-by@demo.test")), 404)
    # Steps their role never allows are refused before anything is looked up.
    assert_problem(client.post(f"{url}/publish", headers=bavaria), 403)
    assert_problem(client.post(f"{url}/revision/accept", headers=bavaria), 403)
    # Anonymous callers are asked to authenticate for any write.
    assert_problem(client.get(url), 404)
    assert_problem(client.put(url, json=content(), headers=precondition), 401)
    assert_problem(client.post(f"{url}/submit"), 401)
    assert_problem(client.post(API, json=content()), 401)
    # FITKO reads everything but never edits.
    assert client.get(url, headers=api_token(FITKO)).status_code == 200
    assert_problem(
        client.put(url, json=content(), headers={**api_token(FITKO), **precondition}), 403
    )
    assert_problem(client.post(API, json=content(), headers=api_token(FITKO)), 403)
    assert row(app, listing_id) == before


def test_another_lands_published_listing_is_readable_but_not_writable(app, client, api_token):
    listing_id = seed(app, status="published")
    url = f"{API}/{listing_id}"
    bavaria = api_token(EDITOR_BY)
    before = row(app, listing_id)
    read = client.get(url, headers=bavaria)
    assert read.status_code == 200
    assert read.get_json()["pending_revision"] is None
    assert_problem(
        client.put(url, json=content(), headers={**bavaria, "If-Match": etag_of(read)}), 404
    )
    assert_problem(client.post(f"{url}/withdraw", headers=bavaria), 404)
    assert row(app, listing_id) == before


def test_lists_never_contain_another_lands_drafts(app, client, api_token):
    bb_draft = seed(app, title="Brandenburger Entwurf")
    by_draft = seed(app, EDITOR_BY, title="Bayerischer Entwurf")
    bb_submitted = seed(app, status="submitted", title="Brandenburg eingereicht")
    bb_published = seed(app, status="published", title="Brandenburg veröffentlicht")
    bavaria = api_token(EDITOR_BY)

    drafts = catalogue(client, bavaria, status="draft", page_size=100)
    assert by_draft in {item["id"] for item in drafts["items"]}
    assert {item["provider"]["ags"] for item in drafts["items"]} == {"09"}
    assert {item["status"] for item in drafts["items"]} == {"draft"}

    everything = catalogue(client, bavaria, page_size=100)
    ids = {item["id"] for item in everything["items"]}
    assert by_draft in ids and bb_published in ids
    assert bb_draft not in ids and bb_submitted not in ids
    for item in everything["items"]:
        assert item["status"] == "published" or item["provider"]["ags"] == "09"
    status_facet = {value["value"]: value["count"] for value in everything["facets"]["status"]}
    assert status_facet["draft"] == drafts["total"]
    submitted = catalogue(client, bavaria, status="submitted", page_size=100)
    assert status_facet.get("submitted", 0) == submitted["total"]
    assert bb_submitted not in {item["id"] for item in submitted["items"]}

    fitko = catalogue(client, api_token(FITKO), status=["draft", "submitted"], page_size=100)
    assert {bb_draft, by_draft, bb_submitted} <= {item["id"] for item in fitko["items"]}


def test_anonymous_list_shows_only_published_listings_whatever_status_says(app, client):
    draft = seed(app)
    published = seed(app, status="published")
    seed(app, status="submitted")
    seed(app, status="withdrawn")

    page = catalogue(client, page_size=100)
    assert published in {item["id"] for item in page["items"]}
    assert draft not in {item["id"] for item in page["items"]}
    assert {item["status"] for item in page["items"]} == {"published"}
    assert "status" not in page["facets"]
    assert catalogue(client, status="draft")["total"] == 0
    both = catalogue(client, status=["draft", "published", "withdrawn"], page_size=100)
    assert {item["status"] for item in both["items"]} == {"published"}
    assert both["total"] == page["total"]


# --- catalogue search, filters, facets -----------------------------------------------------------


def test_german_word_forms_find_the_listing(app, client):
    wanted = seed(app, status="published", title="Aufenthaltstitel")
    other = seed(
        app,
        EDITOR_BY,
        status="published",
        title="Verpflichtungserklärung",
        ozg_name="Verpflichtungserklärung",
        description="Erklärung für Besuchsvisa.",
    )
    for q in ("Aufenthaltstitels", "aufenthaltstitel", "AUFENTHALTSTITELS"):
        ids = [item["id"] for item in catalogue(client, q=q, page_size=100)["items"]]
        assert wanted in ids, q
        assert other not in ids, q
    ids = [item["id"] for item in catalogue(client, q="Verpflichtungserklärungen")["items"]]
    assert other in ids and wanted not in ids
    assert catalogue(client, q="Brieftaubenzucht")["total"] == 0


def test_filters_facets_sort_and_pages(app, client):
    first = seed(app, status="published", title="Zzz Brandenburg Themenfeld 4", reifegrad=2)
    second = seed(
        app,
        EDITOR_BY,
        status="published",
        title="Aaa Bayern Themenfeld 9",
        themenfeld_number=9,
        transport="osci_dvdv",
        reifegrad=2,
    )
    for land in ("12", "DE-BB", "BB"):
        page = catalogue(client, land=land, page_size=100)
        assert first in {item["id"] for item in page["items"]}
        assert second not in {item["id"] for item in page["items"]}
        assert {item["provider"]["ags"] for item in page["items"]} == {"12"}
    both = catalogue(client, land=["BB", "09"], reifegrad=2, page_size=100)
    assert {first, second} <= {item["id"] for item in both["items"]}

    filtered = catalogue(client, themenfeld=9, transport="osci_dvdv", page_size=100)
    assert second in {item["id"] for item in filtered["items"]}
    assert all(item["themenfeld"]["number"] == 9 for item in filtered["items"])
    assert all(item["transport"] == "osci_dvdv" for item in filtered["items"])
    # A facet ignores its own filter: the other Themenfelder still show their counts.
    themenfelder = {value["value"]: value for value in filtered["facets"]["themenfeld"]}
    assert themenfelder[9]["selected"] is True
    assert themenfelder[9]["count"] == filtered["total"]
    assert themenfelder[9]["label"] == "Mobilität & Reisen"
    everything = catalogue(client, transport="osci_dvdv", page_size=100)
    assert sum(value["count"] for value in filtered["facets"]["themenfeld"]) == everything["total"]
    transports = {value["value"]: value for value in filtered["facets"]["transport"]}
    assert transports["osci_dvdv"]["label"] == "OSCI/DVDV"
    assert transports["osci_dvdv"]["selected"] is True
    lands = {value["value"]: value["label"] for value in catalogue(client)["facets"]["land"]}
    assert lands["12"] == "Brandenburg" and lands["09"] == "Bayern"

    by_title = catalogue(client, sort="title", page_size=100)["items"]
    titles = [item["title"] for item in by_title]
    assert titles.index("Aaa Bayern Themenfeld 9") < titles.index("Zzz Brandenburg Themenfeld 4")
    newest = catalogue(client, sort="date", page_size=100)["items"]
    assert [item["id"] for item in newest].index(second) < [item["id"] for item in newest].index(
        first
    )

    total = catalogue(client)["total"]
    one = catalogue(client, sort="title", page=2, page_size=1)
    assert (one["page"], one["page_size"], one["total"], one["pages"]) == (2, 1, total, total)
    assert len(one["items"]) == 1
    assert one["items"][0]["title"] == titles[1]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"themenfeld": "99"}, "themenfeld"),
        ({"themenfeld": "vier"}, "themenfeld"),
        ({"reifegrad": "7"}, "reifegrad"),
        ({"land": "XX"}, "land"),
        ({"land": "bb"}, "land"),
        ({"transport": "brieftaube"}, "transport"),
        ({"status": "geheim"}, "status"),
        ({"sort": "popularity"}, "sort"),
        ({"page_size": "101"}, "page_size"),
        ({"page": "0"}, "page"),
        ({"q": "a\x00b"}, "q"),
        ({"q": "x" * 101}, "q"),
        ({"lang": "fr"}, "lang"),
        ({"Status": "draft"}, "Status"),  # a misspelt filter must not widen the result
    ],
)
def test_catalogue_refuses_invalid_filters(client, params, field):
    assert_problem(client.get(API, query_string=params), 422, field)


def test_list_query_count_does_not_grow_with_the_number_of_listings(
    app, client, api_token, count_queries
):
    fitko = api_token(FITKO)
    requests = [
        ({}, {}),
        ({}, {"q": "Leistung", "themenfeld": [4, 9], "sort": "relevance"}),
        ({}, {"land": ["BB", "BY"], "reifegrad": [1, 2, 3], "sort": "date", "page_size": 100}),
        (fitko, {"status": ["draft", "published"], "transport": "fit_connect", "page": 2}),
    ]

    def counts() -> list[int]:
        result = []
        for headers, params in requests:
            with count_queries() as counter:
                catalogue(client, headers, **params)
            result.append(counter.count)
        return result

    def add(number: int, offset: int) -> None:
        with app.app_context():
            operator = db.session.scalar(
                select(Organisation.id).where(Organisation.short_name == "ZIT-BB")
            )
            now = utcnow()
            for index in range(offset, offset + number):
                listing = Listing(
                    status=ListingStatus.PUBLISHED if index % 5 else ListingStatus.DRAFT,
                    provider_land_ags=("12", "09", "06")[index % 3],
                    operator_id=operator if index % 2 else None,
                    title=f"Leistung Nummer {index}",
                    ozg_name="Massenleistung",
                    ozg_id=str(10000 + index),
                    leika_keys="99010001000000",
                    themenfeld_number=index % 14 + 1,
                    reifegrad=index % 5,
                    transport=(Transport.FIT_CONNECT, Transport.OSCI_DVDV)[index % 2],
                    published_version=1,
                    published_at=now - timedelta(minutes=index),
                )
                service._refresh_search(listing)
                db.session.add(listing)
            db.session.commit()

    add(10, 0)
    catalogue(client, fitko)  # the token's first use records last_used_at once
    few = counts()
    add(490, 10)
    many = counts()
    assert few == many
    assert max(many) <= 12
    assert catalogue(client, page_size=100)["total"] >= 400
    assert len(catalogue(client, q="Leistung", page_size=100)["items"]) == 100


# --- documents ---------------------------------------------------------------------------------


def test_documents_are_listed_with_metadata_and_downloadable(app, client, editor):
    listing_id = seed(app, status="published")
    pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
    with app.app_context():
        service.add_document(
            user(EDITOR_BB),
            listing_id,
            title="Leistungsbeschreibung",
            filename="../beschreibung.pdf",
            content=pdf,
        )
    documents = client.get(f"{API}/{listing_id}").get_json()["documents"]
    assert len(documents) == 1
    document = documents[0]
    assert document["title"] == "Leistungsbeschreibung"
    assert document["filename"] == "beschreibung.pdf"
    assert document["size"] == len(pdf)
    assert document["sha256"] == hashlib.sha256(pdf).hexdigest()
    download = client.get(document["url"])
    assert download.status_code == 200
    assert download.mimetype == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.data == pdf
    assert_problem(client.get(f"{API}/{listing_id}/documents/{document['id'] + 1000}"), 404)

    draft = seed(app)
    with app.app_context():
        hidden = service.add_document(
            user(EDITOR_BB), draft, title="Entwurfsunterlage", filename="e.pdf", content=pdf
        ).id
    assert_problem(client.get(f"{API}/{draft}/documents/{hidden}"), 404)
    assert client.get(f"{API}/{draft}/documents/{hidden}", headers=editor).status_code == 200
    # A document is only reachable under its own listing.
    assert_problem(client.get(f"{API}/{listing_id}/documents/{hidden}"), 404)


def test_ids_out_of_range_are_404_not_errors(client, editor):
    for path in (f"{API}/0", f"{API}/{2**31}", f"{API}/{2**64}", f"{API}/1/documents/{2**70}"):
        assert_problem(client.get(path), 404)
    assert_problem(
        client.put(f"{API}/{2**64}", json=content(), headers={**editor, "If-Match": '"1"'}), 404
    )
    assert_problem(client.post(f"{API}/{2**64}/submit", headers=editor), 404)


# --- concurrency (PostgreSQL, real commits) ------------------------------------------------------


@pytest.mark.postgres_only
def test_two_concurrent_publishes_exactly_one_wins(database_template, monkeypatch):
    # Real commits on separate connections, outside the tests' rolled-back transaction.
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": PG_URL})
    engine = create_engine(PG_URL)

    def last_id(session, model) -> int:
        return session.scalar(select(func.max(model.id))) or 0

    with Session(engine) as session:
        marks = {model: last_id(session, model) for model in (AuditEvent, ApiToken, Notification)}
    listing_id = None
    try:
        with app.app_context():
            editor = user(EDITOR_BB)
            listing_id = service.create_listing(editor, content(title="Wettlauf")).id
            service.submit_listing(editor, listing_id)
            headers = [
                {"Authorization": f"Bearer {create_token(user(email), 'race')[1]}"}
                for email in ("fitko-1@demo.test", "fitko-2@demo.test")
            ]
            db.session.remove()

        # Both requests read the submitted listing before either writes.
        barrier = threading.Barrier(2)
        original = service._check_version

        def read_then_wait(listing, expected):
            original(listing, expected)
            barrier.wait(timeout=20)

        monkeypatch.setattr(service, "_check_version", read_then_wait)
        responses = []

        def publish(auth):
            responses.append(app.test_client().post(f"{API}/{listing_id}/publish", headers=auth))

        threads = [threading.Thread(target=publish, args=(auth,)) for auth in headers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        assert sorted(response.status_code for response in responses) == [200, 409], [
            response.get_data(as_text=True) for response in responses
        ]
        loser = next(response for response in responses if response.status_code == 409)
        # The loser read "submitted" too (the barrier), so its 409 comes from the version
        # column (its UPDATE matched no row), not from the status check.
        assert "gleichzeitig" in assert_problem(loser, 409)["detail"]
        with Session(engine) as session:
            listing = session.get(Listing, listing_id)
            assert listing.status == ListingStatus.PUBLISHED
            assert listing.published_version == 1
            versions = session.scalar(
                select(func.count()).where(ListingVersion.listing_id == listing_id)
            )
            assert versions == 1
            published_events = session.scalar(
                select(func.count()).where(
                    AuditEvent.action == "listing.published",
                    AuditEvent.object_id == str(listing_id),
                )
            )
            assert published_events == 1
    finally:
        with Session(engine) as session:
            if listing_id is not None:
                for model in (ListingVersion, ListingRevision, ListingDocument):
                    session.execute(delete(model).where(model.listing_id == listing_id))
                session.execute(delete(Listing).where(Listing.id == listing_id))
            for model, mark in marks.items():
                session.execute(delete(model).where(model.id > mark))
            session.commit()
        with app.app_context():
            db.engine.dispose()
        engine.dispose()
