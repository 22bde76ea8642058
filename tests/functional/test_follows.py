"""Following a listing or a Land: the follow box on the listing page, the follows page
(/konto/folgen), and the notices followers get when the listing gets a new version, a
Land reaches a new stage or authorities go live.

Demo data (see fitstore/services/demo.py): listing 1 is Brandenburg's Aufenthaltstitel;
reuse 11 is Saarland's (interest), reuse 9 Mecklenburg-Vorpommern's (coordination),
reuse 2 Bayern's (live, with authorities still connecting). The follower is a viewer of
Hessen, a Land that is no party to those reuses.
"""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy import func, select

from fitstore.extensions import db
from fitstore.models import (
    AuditEvent,
    Authority,
    Follow,
    Notification,
    OutboxMail,
    Rollout,
    RolloutStatus,
)
from fitstore.models.base import utcnow
from fitstore.services import follows, listings, notifications, reuses
from tests.conftest import DEMO_PASSWORD
from tests.factories import listing_content, user_by_email

VIEWER_HE = "viewer-he@demo.test"
VIEWER_NW = "viewer-nw@demo.test"
EDITOR_BB = "editor-bb@demo.test"  # provider of listing 1
EDITOR_SL = "editor-sl@demo.test"  # adopter of reuse 11
EDITOR_BY = "editor-by@demo.test"  # adopter of reuse 2 (live)
FITKO = "fitko-1@demo.test"
TITEL = 1
SAARLAND, BAYERN, MV = "10", "09", "13"
SL_REUSE, MV_REUSE, BY_REUSE = 11, 9, 2

# Values planted in private fields: none may reach a follower.
SECRET_COMMENT = "GEHEIMER-KOMMENTAR-4711"
SECRET_SHARE_RULE = "GEHEIME-TEILUNGSREGEL-4711"
SECRET_SCOPE = "GEHEIMER-UMFANG-4711"
SECRET_REMARKS = "GEHEIME-VERTRAGSBEMERKUNG-4711"
SECRETS = (SECRET_COMMENT, SECRET_SHARE_RULE, SECRET_SCOPE, SECRET_REMARKS)


def page_text(response) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))))


def user_id(app, email: str) -> int:
    with app.app_context():
        return user_by_email(email).id


def notices(app, email: str) -> list[Notification]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(Notification)
                .where(Notification.user_id == user_by_email(email).id)
                .order_by(Notification.id)
            )
        )
        db.session.expunge_all()
        return rows


def mails(app, email: str) -> list[OutboxMail]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(OutboxMail).where(OutboxMail.to_address == email).order_by(OutboxMail.id)
            )
        )
        db.session.expunge_all()
        return rows


def follow_rows(app, email: str) -> list[tuple]:
    with app.app_context():
        return list(
            db.session.execute(
                select(Follow.id, Follow.listing_id, Follow.land_ags, Follow.in_app, Follow.email)
                .where(Follow.user_id == user_by_email(email).id)
                .order_by(Follow.id)
            )
        )


def follow_via_page(client, **fields):
    data = {"in_app": "y", **fields}
    return client.post("/konto/folgen", data={k: v for k, v in data.items() if v is not None})


def start_coordination_sl(app, comment: str = "") -> None:
    """Brandenburg (provider) moves Saarland's reuse of listing 1 on: interest -> coordination."""
    with app.app_context():
        reuses.transition(user_by_email(EDITOR_BB), SL_REUSE, "start_coordination", comment)


def published_listing(app, title: str = "Versionstest") -> int:
    """A new listing of Brandenburg, published by FITKO (version 1)."""
    with app.app_context():
        editor = user_by_email(EDITOR_BB)
        listing = listings.create_listing(editor, listing_content(title=title))
        listings.submit_listing(editor, listing.id)
        listings.publish_listing(user_by_email(FITKO), listing.id)
        return listing.id


def new_version(app, listing_id: int, title: str = "Versionstest") -> None:
    """Brandenburg proposes a changed description, FITKO accepts: version 2."""
    with app.app_context():
        listings.update_listing(
            user_by_email(EDITOR_BB),
            listing_id,
            listing_content(title=title, description="Ergänzte Beschreibung."),
        )
        listings.accept_revision(user_by_email(FITKO), listing_id)


def bavarian_authorities_go_live(app, how_many: int = 2) -> list[str]:
    """Bayern (live with listing 1) reports authorities that were connecting as live."""
    with app.app_context():
        codes = list(
            db.session.scalars(
                select(Authority.ags)
                .join(Rollout, Rollout.authority_id == Authority.id)
                .where(Rollout.reuse_id == BY_REUSE, Rollout.status == RolloutStatus.CONNECTING)
                .order_by(Authority.ags)
                .limit(how_many)
            )
        )
        reuses.update_rollout(user_by_email(EDITOR_BY), BY_REUSE, codes, "live", utcnow().date())
        return codes


# --- the follow box on the listing page -----------------------------------------------------


def test_anonymous_visitor_is_asked_to_sign_in_to_follow(client):
    page = client.get(f"/leistungen/{TITEL}").get_data(as_text=True)
    assert "Melden Sie sich an, um dieser Leistung zu folgen" in page
    assert f'href="/anmelden?next=/leistungen/{TITEL}"' in page
    assert 'action="/konto/folgen"' not in page


def test_follow_change_and_unfollow_through_the_listing_page(app, client, login_as):
    login_as(VIEWER_HE)
    page = client.get(f"/leistungen/{TITEL}").get_data(as_text=True)
    assert 'action="/konto/folgen"' in page
    assert f'name="listing_id" value="{TITEL}"' in page
    assert re.search(r'name="in_app" value="y" checked', page)
    assert not re.search(r'name="email" value="y" checked', page)

    response = follow_via_page(client, listing_id=TITEL, next=f"/leistungen/{TITEL}")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/leistungen/{TITEL}"
    [(follow_id, listing_id, land, in_app, email)] = follow_rows(app, VIEWER_HE)
    assert (listing_id, land, in_app, email) == (TITEL, None, True, False)

    page = client.get(f"/leistungen/{TITEL}")
    assert "Sie folgen jetzt „Aufenthaltstitel“." in page_text(page)
    assert "Sie folgen dieser Leistung (im FIT-Store)." in page_text(page)
    assert f'action="/konto/folgen/{follow_id}/loeschen"' in page.get_data(as_text=True)

    # Change the channels: e-mail only.
    response = client.post(
        "/konto/folgen", data={"listing_id": TITEL, "email": "y", "next": f"/leistungen/{TITEL}"}
    )
    assert response.status_code == 302
    assert follow_rows(app, VIEWER_HE) == [(follow_id, TITEL, None, False, True)]
    assert "Sie folgen dieser Leistung (per E-Mail)." in page_text(
        client.get(f"/leistungen/{TITEL}")
    )

    response = client.post(
        f"/konto/folgen/{follow_id}/loeschen", data={"next": f"/leistungen/{TITEL}"}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == f"/leistungen/{TITEL}"
    assert follow_rows(app, VIEWER_HE) == []
    page = page_text(client.get(f"/leistungen/{TITEL}"))
    assert "Sie folgen „Aufenthaltstitel“ nicht mehr." in page
    assert "Sie folgen dieser Leistung" not in page


def test_every_follow_change_is_audited(app, client, login_as):
    login_as(VIEWER_HE)
    follow_via_page(client, listing_id=TITEL)
    follow_via_page(client, listing_id=TITEL)  # unchanged: nothing to audit
    follow_via_page(client, listing_id=TITEL, email="y")
    [(follow_id, *_rest)] = follow_rows(app, VIEWER_HE)
    client.post(f"/konto/folgen/{follow_id}/loeschen")
    with app.app_context():
        events = list(
            db.session.execute(
                select(AuditEvent.action, AuditEvent.actor_id, AuditEvent.object_id)
                .where(AuditEvent.object_type == "follow", AuditEvent.object_id == str(follow_id))
                .order_by(AuditEvent.id)
            )
        )
    viewer = user_id(app, VIEWER_HE)
    assert events == [
        ("follow.created", viewer, str(follow_id)),
        ("follow.changed", viewer, str(follow_id)),
        ("follow.deleted", viewer, str(follow_id)),
    ]


# --- the follows page -----------------------------------------------------------------------


def test_follows_page_lists_listings_and_laender_with_links_and_channels(app, client, login_as):
    login_as(VIEWER_HE)
    empty = page_text(client.get("/konto/folgen"))
    assert "Sie folgen noch keiner Leistung und keinem Land." in empty
    follow_via_page(client, listing_id=TITEL, email="y")
    follow_via_page(client, land_ags=SAARLAND, in_app=None, email="y")
    response = client.get("/konto/folgen")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f'href="/leistungen/{TITEL}">Aufenthaltstitel</a>' in page
    assert f'href="/dashboard/laender/{SAARLAND}">Saarland</a>' in page
    text = page_text(response)
    assert "Benachrichtigung: im FIT-Store und per E-Mail" in text
    assert "Benachrichtigung: per E-Mail" in text
    assert "Mein Konto" in text and "per E-Mail eingeschaltet ist" in text
    # The account page links here.
    assert 'href="/konto/folgen"' in client.get("/konto").get_data(as_text=True)


def test_follows_page_says_when_general_email_is_off(app, client, login_as):
    with app.app_context():
        notifications.set_email_notifications(user_by_email(VIEWER_HE), False)
    login_as(VIEWER_HE)
    assert "Derzeit ist sie ausgeschaltet" in page_text(client.get("/konto/folgen"))


def test_following_a_land_from_the_follows_page(app, client, login_as):
    login_as(VIEWER_HE)
    page = client.get("/konto/folgen").get_data(as_text=True)
    assert f'<option value="{SAARLAND}">Saarland</option>' in page
    response = client.post(
        "/konto/folgen", data={"land_ags": SAARLAND, "in_app": "y", "next": "/konto/folgen"}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/konto/folgen"
    assert [row[1:] for row in follow_rows(app, VIEWER_HE)] == [(None, SAARLAND, True, False)]


def test_follows_page_needs_a_login(client):
    response = client.get("/konto/folgen")
    assert response.status_code == 302
    assert "/anmelden" in response.headers["Location"]
    assert client.post("/konto/folgen", data={"listing_id": TITEL, "in_app": "y"}).status_code in (
        302,
        401,
    )


# --- refusals -------------------------------------------------------------------------------


def test_no_channel_is_refused_with_the_reason_on_the_fieldset(app, client, login_as):
    login_as(VIEWER_HE)
    response = client.post("/konto/folgen", data={"listing_id": TITEL, "next": "/leistungen/1"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Bitte wählen Sie mindestens einen Weg: im FIT-Store oder per E-Mail." in page
    assert 'aria-describedby="follow-retry-hint follow-retry-error"' in page
    assert 'id="follow-retry-error"' in page
    assert 'aria-invalid="true"' in page
    assert follow_rows(app, VIEWER_HE) == []


@pytest.mark.parametrize(
    "data",
    [
        {"in_app": "y"},  # no target
        {"in_app": "y", "listing_id": TITEL, "land_ags": SAARLAND},  # two targets
    ],
)
def test_no_or_two_targets_are_refused(app, client, login_as, data):
    login_as(VIEWER_HE)
    response = client.post("/konto/folgen", data=data)
    assert response.status_code == 422
    assert "Bitte folgen Sie entweder einer Leistung oder einem Land." in page_text(response)
    assert follow_rows(app, VIEWER_HE) == []


@pytest.mark.parametrize(
    "data",
    [
        {"listing_id": "12"},  # submitted, not published
        {"listing_id": "13"},  # withdrawn
        {"listing_id": "14"},  # draft
        {"listing_id": "999999"},
        {"listing_id": "99999999999999999999999"},
        {"listing_id": "abc"},
        {"listing_id": "-1"},
        {"land_ags": "99"},
        {"land_ags": "BB"},
        {"land_ags": "1" * 500},
    ],
)
def test_unpublished_or_unknown_targets_are_404(app, client, login_as, data):
    login_as(VIEWER_HE)
    response = client.post("/konto/folgen", data={"in_app": "y", **data})
    assert response.status_code == 404
    assert follow_rows(app, VIEWER_HE) == []


def test_the_follow_box_is_not_offered_on_an_unpublished_listing(client, login_as):
    login_as(EDITOR_BB)  # sees the Brandenburg draft 23 (Jagdschein)
    page = client.get("/leistungen/23")
    assert page.status_code == 200
    assert 'action="/konto/folgen"' not in page.get_data(as_text=True)


def test_another_users_follow_cannot_be_deleted(app, client, login_as):
    with app.app_context():
        other = follows.follow(user_by_email(VIEWER_NW), listing_id=TITEL)
        other_id = other.id
    login_as(VIEWER_HE)
    assert client.post(f"/konto/folgen/{other_id}/loeschen").status_code == 404
    assert client.post("/konto/folgen/99999999/loeschen").status_code == 404
    assert len(follow_rows(app, VIEWER_NW)) == 1


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/leistungen/1",
        "/\\evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
    ],
)
def test_next_may_only_be_a_local_path(app, client, login_as, target):
    login_as(VIEWER_HE)
    response = follow_via_page(client, listing_id=TITEL, next=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/konto/folgen"
    assert len(follow_rows(app, VIEWER_HE)) == 1  # saved; only the redirect was refused


def test_unfollow_redirect_refuses_a_foreign_next(app, client, login_as):
    login_as(VIEWER_HE)
    follow_via_page(client, listing_id=TITEL)
    [(follow_id, *_rest)] = follow_rows(app, VIEWER_HE)
    response = client.post(
        f"/konto/folgen/{follow_id}/loeschen", data={"next": "https://evil.example/"}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/konto/folgen"


def test_follow_forms_need_a_csrf_token(app_factory):
    app = app_factory(WTF_CSRF_ENABLED=True)
    client = app.test_client()
    token = re.search(
        r'name="csrf_token"[^>]*value="([^"]+)"', client.get("/anmelden").get_data(as_text=True)
    ).group(1)
    response = client.post(
        "/anmelden", data={"email": VIEWER_HE, "password": DEMO_PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    assert (
        client.post("/konto/folgen", data={"listing_id": TITEL, "in_app": "y"}).status_code == 400
    )
    assert follow_rows(app, VIEWER_HE) == []
    # With the token from the listing page's follow box it works.
    page = client.get(f"/leistungen/{TITEL}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(
        "/konto/folgen", data={"listing_id": TITEL, "in_app": "y", "csrf_token": token}
    )
    assert response.status_code == 302
    [(follow_id, *_rest)] = follow_rows(app, VIEWER_HE)
    assert client.post(f"/konto/folgen/{follow_id}/loeschen").status_code == 400
    assert len(follow_rows(app, VIEWER_HE)) == 1


def test_follow_pages_are_get_safe(app, client, login_as):
    login_as(VIEWER_HE)
    assert client.get("/konto/folgen?listing_id=1&in_app=y").status_code == 200
    assert client.get("/konto/folgen/1/loeschen").status_code == 405
    assert follow_rows(app, VIEWER_HE) == []


# --- notices --------------------------------------------------------------------------------


def test_in_app_follower_is_told_of_a_new_stage_with_public_facts_only(app, client, login_as):
    login_as(VIEWER_HE)
    follow_via_page(client, listing_id=TITEL)
    before = len(notices(app, VIEWER_HE))
    start_coordination_sl(app, comment=SECRET_COMMENT)
    new = notices(app, VIEWER_HE)[before:]
    assert [(n.message, n.link) for n in new] == [
        ("Aufenthaltstitel – Saarland: Interessenbekundung → Abstimmung", f"/leistungen/{TITEL}")
    ]
    assert mails(app, VIEWER_HE) == []  # in-app only
    # The inbox shows it, linked to the public listing page.
    inbox = client.get("/benachrichtigungen").get_data(as_text=True)
    assert "Aufenthaltstitel – Saarland: Interessenbekundung → Abstimmung" in unescape(inbox)


def test_email_follower_gets_a_mail_and_no_in_app_notice(app, client, login_as):
    listing_id = published_listing(app)
    login_as(VIEWER_HE)
    follow_via_page(client, listing_id=listing_id, in_app=None, email="y")
    before = len(notices(app, VIEWER_HE))
    new_version(app, listing_id)
    assert len(notices(app, VIEWER_HE)) == before
    [mail] = mails(app, VIEWER_HE)
    assert mail.subject == "[FIT-Store] Neue Version: Versionstest (Version 2)"
    assert f"/leistungen/{listing_id}" in mail.body


def test_a_new_document_of_a_followed_listing_is_announced(app, client, login_as):
    from fitstore.services.demo import demo_pdf

    listing_id = published_listing(app, "Dokumenttest")
    login_as(VIEWER_HE)
    follow_via_page(client, listing_id=listing_id)
    before = len(notices(app, VIEWER_HE))
    with app.app_context():
        listings.add_document(
            user_by_email(EDITOR_BB),
            listing_id,
            title="Anbindungsleitfaden",
            filename="leitfaden.pdf",
            content=demo_pdf("Leitfaden", ["Inhalt"]),
        )
    assert [(n.message, n.link) for n in notices(app, VIEWER_HE)[before:]] == [
        ("Neues Dokument zu Dokumenttest: Anbindungsleitfaden", f"/leistungen/{listing_id}")
    ]


def test_both_channels_give_both_and_live_authorities_are_announced(app, client, login_as):
    login_as(VIEWER_HE)
    follow_via_page(client, listing_id=TITEL, email="y")
    before = len(notices(app, VIEWER_HE))
    codes = bavarian_authorities_go_live(app, 2)
    assert len(codes) == 2
    [notice] = notices(app, VIEWER_HE)[before:]
    today = utcnow().date().strftime("%d.%m.%Y")
    assert notice.message == f"Aufenthaltstitel: 2 Behörden in Bayern live seit {today}."
    assert notice.link == f"/leistungen/{TITEL}"
    [mail] = mails(app, VIEWER_HE)
    assert notice.message in mail.body


def test_general_email_switch_off_means_no_mail(app, client, login_as):
    login_as(VIEWER_HE)
    follow_via_page(client, listing_id=TITEL, email="y")
    with app.app_context():
        notifications.set_email_notifications(user_by_email(VIEWER_HE), False)
    before = len(notices(app, VIEWER_HE))
    start_coordination_sl(app)
    assert len(notices(app, VIEWER_HE)) == before + 1
    assert mails(app, VIEWER_HE) == []


def test_following_listing_and_land_gives_one_notice_per_event(app, client, login_as):
    login_as(VIEWER_HE)
    follow_via_page(client, listing_id=TITEL)
    follow_via_page(client, land_ags=SAARLAND, in_app=None, email="y")
    before = len(notices(app, VIEWER_HE))
    start_coordination_sl(app)
    assert len(notices(app, VIEWER_HE)) == before + 1  # in-app from the listing follow
    assert len(mails(app, VIEWER_HE)) == 1  # e-mail from the Land follow, once


def test_land_follower_hears_of_its_lands_stages_and_new_listings(app, client, login_as):
    login_as(VIEWER_HE)
    follow_via_page(client, land_ags=MV)
    follow_via_page(client, land_ags="12")  # Brandenburg, the provider of new listings
    before = len(notices(app, VIEWER_HE))
    with app.app_context():
        editor = user_by_email(EDITOR_BB)
        listing = listings.create_listing(editor, listing_content(title="Folgetest-Leistung"))
        listings.submit_listing(editor, listing.id)
        listings.publish_listing(user_by_email(FITKO), listing.id)
        listing_id = listing.id
        reuses.transition(user_by_email("editor-mv@demo.test"), MV_REUSE, "withdraw", "x")
    messages = [(n.message, n.link) for n in notices(app, VIEWER_HE)[before:]]
    assert messages == [
        ("Neue EfA-Leistung von Brandenburg: Folgetest-Leistung", f"/leistungen/{listing_id}"),
        (
            "Aufenthaltstitel – Mecklenburg-Vorpommern: Abstimmung → Zurückgezogen",
            f"/leistungen/{TITEL}",
        ),
    ]


def test_land_follower_hears_of_a_new_interest_and_an_own_use(app, client, login_as):
    listing_id = published_listing(app, "Eigennutzungstest")
    login_as(VIEWER_HE)
    follow_via_page(client, land_ags=SAARLAND)
    follow_via_page(client, land_ags="12")
    before = len(notices(app, VIEWER_HE))
    with app.app_context():
        reuses.express_interest(
            user_by_email(EDITOR_SL),
            2,
            {"planned_start": None, "expected_usage": 10, "note": SECRET_COMMENT},
        )
        reuses.record_own_use(user_by_email(EDITOR_BB), listing_id)
    assert [(n.message, n.link) for n in notices(app, VIEWER_HE)[before:]] == [
        ("Verpflichtungserklärung – Saarland: neu in „Interessenbekundung“", "/leistungen/2"),
        (
            "Eigennutzungstest – Brandenburg: neu in „Produktivbetrieb“",
            f"/leistungen/{listing_id}",
        ),
    ]


def test_a_follower_of_another_listing_or_land_hears_nothing(app, client, login_as):
    login_as(VIEWER_HE)
    follow_via_page(client, listing_id=2)
    follow_via_page(client, land_ags=BAYERN)
    before = len(notices(app, VIEWER_HE))
    start_coordination_sl(app)
    assert len(notices(app, VIEWER_HE)) == before


def test_a_follower_of_the_providing_land_hears_of_its_services_stages(app, client, login_as):
    """Following Brandenburg covers the services it provides: Saarland's reuse of the
    Aufenthaltstitel moving on is news for it, as the follows page promises."""
    login_as(VIEWER_HE)
    follow_via_page(client, land_ags="12")
    before = len(notices(app, VIEWER_HE))
    start_coordination_sl(app)
    assert [(n.message, n.link) for n in notices(app, VIEWER_HE)[before:]] == [
        (
            "Aufenthaltstitel – Saarland: Interessenbekundung → Abstimmung",
            f"/leistungen/{TITEL}",
        )
    ]


def test_the_actor_gets_no_follower_notice(app, client, login_as):
    login_as(EDITOR_BB)
    follow_via_page(client, land_ags=SAARLAND, email="y")
    before = len(notices(app, EDITOR_BB))
    mails_before = len(mails(app, EDITOR_BB))
    start_coordination_sl(app)  # acted by editor-bb
    assert len(notices(app, EDITOR_BB)) == before
    assert len(mails(app, EDITOR_BB)) == mails_before


def test_a_party_who_follows_gets_only_the_partys_notice(app, client, login_as):
    login_as(EDITOR_SL)
    follow_via_page(client, listing_id=TITEL, email="y")
    before = len(notices(app, EDITOR_SL))
    mails_before = len(mails(app, EDITOR_SL))
    start_coordination_sl(app)
    [notice] = notices(app, EDITOR_SL)[before:]
    assert notice.link == f"/nachnutzungen/{SL_REUSE}"  # the party's own, detailed notice
    assert len(mails(app, EDITOR_SL)) == mails_before + 1


def test_inactive_followers_get_nothing(app):
    with app.app_context():
        viewer = user_by_email(VIEWER_HE)
        follows.follow(viewer, listing_id=TITEL, email=True)
        viewer.active = False
        db.session.commit()
    before = len(notices(app, VIEWER_HE))
    start_coordination_sl(app)
    assert len(notices(app, VIEWER_HE)) == before
    assert mails(app, VIEWER_HE) == []


def test_a_withdrawn_listing_notifies_nobody_and_is_marked_on_the_follows_page(
    app, client, login_as
):
    listing_id = published_listing(app, "Rückzugstest")
    login_as(VIEWER_HE)
    follow_via_page(client, listing_id=listing_id)
    with app.app_context():
        listings.withdraw_listing(user_by_email(EDITOR_BB), listing_id)
        listing = listings.get_listing(user_by_email(FITKO), listing_id)
        assert follows.notify_followers(listing, "12", "Test", f"/leistungen/{listing_id}") == 0
        db.session.commit()
    assert [n for n in notices(app, VIEWER_HE) if n.message == "Test"] == []
    response = client.get("/konto/folgen")
    text = page_text(response)
    assert "Rückzugstest" in text and "nicht mehr veröffentlicht" in text
    # No link to a page the follower can no longer open, but unfollowing still works.
    assert f'href="/leistungen/{listing_id}"' not in response.get_data(as_text=True)
    [(follow_id, *_rest)] = follow_rows(app, VIEWER_HE)
    assert client.post(f"/konto/folgen/{follow_id}/loeschen").status_code == 302
    assert follow_rows(app, VIEWER_HE) == []


def test_private_values_never_reach_a_follower(app, client, login_as):
    """Conditions (share rule, scope), contract remarks and transition comments are
    planted along a whole reuse; the follower's notices and mails carry none of them."""
    login_as(VIEWER_HE)
    follow_via_page(client, listing_id=TITEL, email="y")
    follow_via_page(client, land_ags=SAARLAND, email="y")
    with app.app_context():
        provider, adopter = user_by_email(EDITOR_BB), user_by_email(EDITOR_SL)
        reuses.transition(provider, SL_REUSE, "start_coordination", SECRET_COMMENT)
        reuses.propose_conditions(
            provider,
            SL_REUSE,
            {
                "condition_model": "share_rule",
                "share_rule": SECRET_SHARE_RULE,
                "connection_cost_cents": 4_711_00,
                "scope": SECRET_SCOPE,
                "conditions_start": utcnow().date().isoformat(),
            },
        )
        reuses.transition(adopter, SL_REUSE, "order", SECRET_COMMENT)
        reuse = reuses.get_reuse(adopter, SL_REUSE)
        contract_id = reuse.contract.id
        contract_number = reuse.contract.number
        reuses.check_contract(
            user_by_email(FITKO),
            contract_id,
            {
                "eligibility_basis": "traeger",
                "legal_basis": reuses.DEFAULT_LEGAL_BASIS,
                "remarks": SECRET_REMARKS,
            },
        )
        reuses.countersign_contract(
            user_by_email("fitko-2@demo.test"), contract_id, {"effective_date": utcnow().date()}
        )
        reuses.transition(adopter, SL_REUSE, "hold", SECRET_COMMENT)
    texts = [n.message + " " + (n.link or "") for n in notices(app, VIEWER_HE)]
    texts += [m.subject + " " + m.body for m in mails(app, VIEWER_HE)]
    joined = "\n".join(texts)
    assert "Aufenthaltstitel – Saarland: Bestellt → Vertrag geschlossen" in joined
    for secret in (*SECRETS, contract_number, "4.711", "4711,00", "/nachnutzungen/"):
        assert secret not in joined
    assert len(notices(app, VIEWER_HE)) == 4  # one per stage change, not two


# --- constant queries -----------------------------------------------------------------------


def test_follows_page_runs_constant_queries(app, client, login_as, count_queries):
    login_as(VIEWER_HE)
    follow_via_page(client, listing_id=TITEL)
    client.get("/konto/folgen")
    with count_queries() as few:
        assert client.get("/konto/folgen").status_code == 200
    for listing_id in (2, 3, 4, 5, 6, 7, 8):
        follow_via_page(client, listing_id=listing_id, email="y")
    for land in ("01", "02", "03", "04", "05"):
        follow_via_page(client, land_ags=land)
    with count_queries() as many:
        assert client.get("/konto/folgen").status_code == 200
    assert many.count == few.count


def test_notifying_followers_is_one_query_whatever_their_number(app, count_queries):
    with app.app_context():
        for land in ("sh", "hh", "ni", "hb", "nw", "he", "rp", "st"):
            follows.follow(user_by_email(f"viewer-{land}@demo.test"), listing_id=TITEL, email=True)
        listing = listings.get_listing(user_by_email(FITKO), TITEL)
        with count_queries() as counter:
            notified = follows.notify_followers(listing, SAARLAND, "Test", "/leistungen/1")
        db.session.rollback()
    assert notified == 8 + 1  # and the demo's follower of listing 1 (viewer-bw)
    assert counter.count == 1


# --- the demo ---------------------------------------------------------------------------------


def test_the_demo_has_follows_to_try(app, client, login_as):
    assert [row[1:] for row in follow_rows(app, "viewer-bw@demo.test")] == [
        (TITEL, None, True, False)
    ]
    assert [row[1:] for row in follow_rows(app, "viewer-th@demo.test")] == [
        (None, "12", False, True)
    ]
    login_as("viewer-bw@demo.test")
    assert "Sie folgen dieser Leistung (im FIT-Store)." in page_text(
        client.get(f"/leistungen/{TITEL}")
    )
    # The demo's follower of Brandenburg hears of its new listings by e-mail.
    listing_id = published_listing(app, "Demo-Folgetest")
    [mail] = [m for m in mails(app, "viewer-th@demo.test") if "Demo-Folgetest" in m.subject]
    assert f"/leistungen/{listing_id}" in mail.body


def test_loading_the_demo_again_adds_no_follow(app):
    from fitstore.services import audit
    from fitstore.services.demo import load_demo

    with app.app_context():
        before = db.session.scalar(select(func.count(Follow.id)))
        audits = db.session.scalar(select(func.count(AuditEvent.id)))
        load_demo()
        assert db.session.scalar(select(func.count(Follow.id))) == before == 2
        assert db.session.scalar(select(func.count(AuditEvent.id))) == audits
        assert audit.verify_chain().ok
