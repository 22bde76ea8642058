"""A Land can never read or change another Land's private data (ASVS 8.4.1)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from fitstore.extensions import db
from fitstore.models import ApiToken, AuditEvent, User
from tests.conftest import login

ACTORS = {
    "land_a_editor": "editor-bb@demo.test",
    "land_b_editor": "editor-he@demo.test",
    "fitko": "fitko-1@demo.test",
    "admin": "admin@demo.test",
    "anonymous": None,
}


def _client(app, actor):
    client = app.test_client()
    if ACTORS[actor]:
        assert login(client, ACTORS[actor]).status_code == 302
    return client


def _ids(app):
    """A user of Land B (Hessen), one of its audit rows, and a token of that user."""
    from fitstore.services.auth import create_token

    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "viewer-he@demo.test"))
        token, _secret = create_token(user, "Fachverfahren Hessen")
        event_id = db.session.scalar(
            select(AuditEvent.id).where(AuditEvent.land_ags == "06").order_by(AuditEvent.id.desc())
        )
        return {"user_id": user.id, "event_id": event_id, "token_id": token.id}


# (actor, may read Land B's user and audit row)
READ_EXPECTATIONS = {
    "land_a_editor": 404,
    "land_b_editor": 200,
    "fitko": 200,
    "admin": 200,
    "anonymous": 302,
}


@pytest.mark.parametrize("actor", list(ACTORS))
def test_reading_another_lands_user_and_audit_rows(app, actor):
    ids = _ids(app)
    client = _client(app, actor)
    expected = READ_EXPECTATIONS[actor]
    assert client.get(f"/verwaltung/benutzer/{ids['user_id']}").status_code == expected
    assert client.get(f"/protokoll/{ids['event_id']}").status_code == expected


@pytest.mark.parametrize("actor", list(ACTORS))
def test_changing_another_lands_user_or_token(app, actor):
    ids = _ids(app)
    client = _client(app, actor)
    response = client.post(f"/verwaltung/benutzer/{ids['user_id']}/deaktivieren")
    expected = {"admin": 302, "anonymous": 302}.get(actor, 403)
    assert response.status_code == expected
    if actor != "admin":
        with app.app_context():
            assert db.session.get(User, ids["user_id"]).active is True
    # Nobody but the owner can revoke a token through the account page, not even an admin.
    response = client.post(f"/konto/tokens/{ids['token_id']}/widerrufen")
    assert response.status_code in (302, 404)
    if actor != "anonymous":
        assert response.status_code == 404
    with app.app_context():
        revoked = db.session.get(ApiToken, ids["token_id"]).revoked_at is not None
    # Only the admin's deactivation of the user (above) ended the token, as it must.
    assert revoked is (actor == "admin")


def test_user_list_of_a_land_editor_shows_only_its_own_land(client, login_as):
    login_as("editor-bb@demo.test")
    page = client.get("/verwaltung/benutzer").get_data(as_text=True)
    assert "editor-bb@demo.test" in page and "viewer-bb@demo.test" in page
    assert "editor-he@demo.test" not in page
    assert "admin@demo.test" not in page
    # A search for another Land's user finds nothing.
    page = client.get("/verwaltung/benutzer?q=editor-he").get_data(as_text=True)
    assert "editor-he@demo.test" not in page


def test_audit_list_of_a_land_editor_shows_only_its_own_land(app, client, login_as):
    login_as("editor-he@demo.test")  # writes a Hessian auth.login row
    login(app.test_client(), "editor-bb@demo.test")  # and a Brandenburg one
    page = client.get("/protokoll?action=auth.login").get_data(as_text=True)
    assert "editor-he@demo.test" in page
    assert "editor-bb@demo.test" not in page


def test_fitko_and_admin_see_every_lands_audit_rows(app):
    login(app.test_client(), "editor-he@demo.test")
    login(app.test_client(), "editor-bb@demo.test")
    for email in ("fitko-1@demo.test", "admin@demo.test"):
        client = app.test_client()
        login(client, email)
        page = client.get("/protokoll?action=auth.login").get_data(as_text=True)
        assert "editor-he@demo.test" in page and "editor-bb@demo.test" in page


def test_bund_staff_without_a_land_see_no_land_rows(app):
    from fitstore.models import Organisation
    from fitstore.services.admin import create_user
    from fitstore.services.system import SystemActor

    with app.app_context():
        bmi = db.session.scalar(select(Organisation).where(Organisation.short_name == "BMI"))
        create_user(
            SystemActor(),
            email="bund@demo.test",
            name="Bund",
            role="viewer",
            organisation_id=bmi.id,
            password="ein langes Passwort",
        )
    login(app.test_client(), "editor-bb@demo.test")
    client = app.test_client()
    login(client, "bund@demo.test", "ein langes Passwort")
    page = client.get("/protokoll?action=auth.login").get_data(as_text=True)
    assert "editor-bb@demo.test" not in page
    assert client.get("/verwaltung/benutzer").get_data(as_text=True).count("@demo.test") <= 1
