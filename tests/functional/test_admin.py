"""Administration of organisations and users through the pages."""

from __future__ import annotations

from sqlalchemy import func, select

from fitstore.extensions import db
from fitstore.models import AuditEvent, Organisation, User


def _count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def _last_event(app) -> AuditEvent:
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
        db.session.expunge(event)
        return event


def test_admin_creates_an_it_dienstleister_and_it_is_audited(app, client, login_as):
    login_as("admin@demo.test")
    events_before = _count(app, AuditEvent)
    response = client.post(
        "/verwaltung/organisationen/neu",
        data={
            "kind": "it_dienstleister",
            "name": "Dataport AöR",
            "short_name": "Dataport",
            "land_ags": "01",
        },
    )
    assert response.status_code == 302
    with app.app_context():
        org = db.session.scalar(select(Organisation).where(Organisation.short_name == "Dataport"))
        assert org.land_ags == "01" and org.active
    assert _count(app, AuditEvent) == events_before + 1
    event = _last_event(app)
    assert event.action == "organisation.created" and event.land_ags == "01"
    assert "Dataport AöR" in client.get("/verwaltung/organisationen").get_data(as_text=True)


def test_organisation_form_errors_rerender_and_write_nothing(app, client, login_as):
    login_as("admin@demo.test")
    before = _count(app, Organisation), _count(app, AuditEvent)
    response = client.post(
        "/verwaltung/organisationen/neu",
        data={
            "kind": "land",
            "name": "FITKO (Föderale IT-Kooperation)",
            "short_name": "X1",
            "land_ags": "",
        },
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Diese Art von Organisation gehört zu genau einem Land." in page
    assert "Eine Organisation mit diesem Namen gibt es bereits." in page
    assert 'aria-describedby="land_ags-error"' in page
    assert (_count(app, Organisation), _count(app, AuditEvent)) == before


def test_fitko_and_bund_cannot_belong_to_a_land(app, client, login_as):
    login_as("admin@demo.test")
    response = client.post(
        "/verwaltung/organisationen/neu",
        data={"kind": "bund", "name": "Bundesamt X", "short_name": "BAX", "land_ags": "12"},
    )
    assert response.status_code == 422
    assert "FITKO und Bund gehören zu keinem Land." in response.get_data(as_text=True)


def test_admin_creates_a_user_who_can_then_log_in(app, client, login_as):
    login_as("admin@demo.test")
    with app.app_context():
        org_id = db.session.scalar(
            select(Organisation.id).where(Organisation.short_name == "ZIT-BB")
        )
    response = client.post(
        "/verwaltung/benutzer/neu",
        data={
            "email": "Neu@ZIT-BB.example",
            "name": "Neue Kollegin",
            "organisation_id": org_id,
            "role": "editor",
            "password": "ein langes erstes Passwort",
        },
    )
    assert response.status_code == 302
    event = _last_event(app)
    assert event.action == "user.created" and event.land_ags == "12"
    assert event.actor_email == "admin@demo.test"
    other = app.test_client()
    response = other.post(
        "/anmelden", data={"email": "neu@zit-bb.example", "password": "ein langes erstes Passwort"}
    )
    assert response.status_code == 302


def test_user_form_errors_rerender_and_write_nothing(app, client, login_as):
    login_as("admin@demo.test")
    with app.app_context():
        org_id = db.session.scalar(
            select(Organisation.id).where(Organisation.short_name == "LAND-BB")
        )
    before = _count(app, User), _count(app, AuditEvent)
    response = client.post(
        "/verwaltung/benutzer/neu",
        data={
            "email": "editor-bb@demo.test",
            "name": "Doppelt",
            "organisation_id": org_id,
            "role": "fitko",
            "password": "kurz",
        },
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Diese E-Mail-Adresse ist bereits registriert." in page
    assert "Die Rolle FITKO ist Beschäftigten der FITKO vorbehalten." in page
    assert "12 bis 128 Zeichen" in page
    assert (_count(app, User), _count(app, AuditEvent)) == before


def test_deactivating_an_organisation_locks_out_its_users(app, client, login_as):
    login_as("admin@demo.test")
    with app.app_context():
        org_id = db.session.scalar(
            select(Organisation.id).where(Organisation.short_name == "LAND-HE")
        )
    victim = app.test_client()
    victim.post("/anmelden", data={"email": "viewer-he@demo.test", "password": "fitstore-demo"})
    assert client.post(f"/verwaltung/organisationen/{org_id}/deaktivieren").status_code == 302
    assert victim.get("/konto").status_code == 302
    response = app.test_client().post(
        "/anmelden", data={"email": "viewer-he@demo.test", "password": "fitstore-demo"}
    )
    assert response.status_code == 401
    assert _last_event(app).action == "organisation.deactivated"
    # and back
    assert client.post(f"/verwaltung/organisationen/{org_id}/aktivieren").status_code == 302
    response = app.test_client().post(
        "/anmelden", data={"email": "viewer-he@demo.test", "password": "fitstore-demo"}
    )
    assert response.status_code == 302


def test_admin_cannot_deactivate_themselves_or_their_own_organisation(app, client, login_as):
    login_as("admin@demo.test")
    with app.app_context():
        admin = db.session.scalar(select(User).where(User.email == "admin@demo.test"))
        admin_id, org_id = admin.id, admin.organisation_id
    client.post(f"/verwaltung/benutzer/{admin_id}/deaktivieren")
    client.post(f"/verwaltung/organisationen/{org_id}/deaktivieren")
    with app.app_context():
        assert db.session.get(User, admin_id).active
        assert db.session.get(Organisation, org_id).active
    assert client.get("/konto").status_code == 200


def test_editor_cannot_create_users_or_organisations(app, client, login_as):
    login_as("editor-bb@demo.test")
    before = _count(app, User), _count(app, Organisation)
    assert client.get("/verwaltung/benutzer/neu").status_code == 403
    assert (
        client.post(
            "/verwaltung/benutzer/neu",
            data={
                "email": "x@y.de",
                "name": "X",
                "organisation_id": 1,
                "role": "admin",
                "password": "x" * 20,
            },
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/verwaltung/organisationen/neu",
            data={"kind": "land", "name": "X", "short_name": "X", "land_ags": "12"},
        ).status_code
        == 403
    )
    assert (_count(app, User), _count(app, Organisation)) == before


def test_api_tokens_are_shown_once_listed_and_revocable(app, client, login_as):
    login_as("editor-bb@demo.test")
    response = client.post("/konto/tokens", data={"token-name": "Fachverfahren"})
    assert response.status_code == 201
    page = response.get_data(as_text=True)
    secret = page.split('id="new-token">')[1].split("<")[0]
    assert secret.startswith("fst_")
    with app.app_context():
        token = db.session.scalar(
            select(__import__("fitstore.models", fromlist=["ApiToken"]).ApiToken)
        )
        assert (
            token.token_hash != secret and secret not in token.token_hash
        )  # only the hash is stored
        token_id = token.id
    assert (
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    )
    listing = client.get("/konto").get_data(as_text=True)
    assert "Fachverfahren" in listing and secret not in listing
    assert client.post(f"/konto/tokens/{token_id}/widerrufen").status_code == 302
    assert (
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    )


def test_accessibility_feedback_is_stored_and_readable_by_fitko(app, client):
    response = client.post(
        "/barrierefreiheit",
        data={"message": "Die Karte ist mit der Lupe schwer lesbar.", "page_url": "/", "email": ""},
    )
    assert response.status_code == 302
    assert "Vielen Dank" in client.get("/barrierefreiheit").get_data(as_text=True)
    fitko = app.test_client()
    fitko.post("/anmelden", data={"email": "fitko-1@demo.test", "password": "fitstore-demo"})
    assert "mit der Lupe schwer lesbar" in fitko.get("/verwaltung/rueckmeldungen").get_data(
        as_text=True
    )


def test_feedback_form_errors(client):
    response = client.post("/barrierefreiheit", data={"message": "kurz", "email": "keine-adresse"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "10 bis 5000 Zeichen" in page
    assert "gültige E-Mail-Adresse" in page
