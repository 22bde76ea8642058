"""The HTML side of listings: catalogue, listing page, forms, lifecycle buttons, documents,
review queue, version history and the notifications inbox.

Runs on SQLite and on PostgreSQL (FITSTORE_TEST_DATABASE_URL). Listings are made
through the service (their invariants hold); only the bulk rows of the query-count
tests are inserted directly, because the number of rows is all that matters there.
"""

from __future__ import annotations

import hashlib
import html
import io
import re
import uuid
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from fitstore.extensions import db
from fitstore.models import (
    Listing,
    ListingDocument,
    ListingRevision,
    ListingStatus,
    ListingVersion,
    Notification,
    Organisation,
    RevisionStatus,
    Transport,
    User,
)
from fitstore.models.base import utcnow
from fitstore.services import listings
from fitstore.services.text_search import stems_of
from tests.conftest import login

EDITOR_BB = "editor-bb@demo.test"
EDITOR_BY = "editor-by@demo.test"
VIEWER_BB = "viewer-bb@demo.test"
FITKO_1 = "fitko-1@demo.test"
FITKO_2 = "fitko-2@demo.test"
ADMIN = "admin@demo.test"

# One listing as the service takes it ...
CONTENT = {
    "title": "Aufenthaltstitel für Fachkräfte",
    "ozg_name": "Aufenthaltstitel",
    "ozg_id": "10255",
    "leika_keys": "99010004000000 99010004001000",
    "themenfeld_number": 4,
    "reifegrad": 3,
    "operator_id": None,
    "description": "Antrag auf einen **Aufenthaltstitel** in allen Ausländerbehörden.",
    "transport": "fit_connect",
    "xoev_standard": "XAusländer",
    "user_account": "servicekonto_bundid",
    "payment": "ePayBL",
    "requirements_note": "Zustellpunkt in FIT-Connect anlegen.",
    "checklist": {"ui_barrierefrei": True},
    "annual_cost_cents": 120_000_000,
    "connection_cost_cents": 2_500_000,
    "contact_name": "Referat 13, MIK Brandenburg",
    "contact_email": "efa@mik.brandenburg.de",
}
# ... and as a person types it into the form.
FORM = {
    "title": "Aufenthaltstitel für Fachkräfte",
    "ozg_name": "Aufenthaltstitel",
    "ozg_id": "10255",
    "leika_keys": "99010004000000\n99010004001000",
    "themenfeld_number": "4",
    "reifegrad": "3",
    "operator_id": "",
    "description": "Antrag auf einen **Aufenthaltstitel** in allen Ausländerbehörden.",
    "transport": "fit_connect",
    "xoev_standard": "XAusländer",
    "user_account": "servicekonto_bundid",
    "payment": "ePayBL",
    "requirements_note": "Zustellpunkt in FIT-Connect anlegen.",
    "check_ui_barrierefrei": "y",
    "check_ui_mandantenfaehig": "y",
    "annual_cost": "1.200.000,00",
    "connection_cost": "25.000,00",
    "contact_name": "Referat 13, MIK Brandenburg",
    "contact_email": "efa@mik.brandenburg.de",
}
MB = 1024 * 1024


def pdf_bytes(size: int) -> bytes:
    """A file of exactly ``size`` bytes that passes the content check for PDF."""
    head, tail = b"%PDF-1.7\n", b"\n%%EOF\n"
    body = (bytes(range(256)) * (size // 256 + 1))[: size - len(head) - len(tail)]
    return head + body + tail


# --- helpers --------------------------------------------------------------------------------


def user(email: str) -> User:
    return db.session.scalar(select(User).where(User.email == email))


def make_listing(app, status: str = "draft", email: str = EDITOR_BB, **overrides) -> int:
    """A listing in ``status``, taken there through the service like a real one."""
    with app.app_context():
        listing = listings.create_listing(user(email), {**CONTENT, **overrides})
        if status in ("submitted", "published", "withdrawn"):
            listings.submit_listing(user(email), listing.id)
        if status in ("published", "withdrawn"):
            listings.publish_listing(user(FITKO_1), listing.id)
        if status == "withdrawn":
            listings.withdraw_listing(user(email), listing.id)
        return listing.id


def row(app, listing_id: int) -> dict:
    with app.app_context():
        listing = db.session.get(Listing, listing_id)
        return {
            **listings.content_of(listing),
            "status": listing.status.value,
            "lock_version": listing.lock_version,
            "published_version": listing.published_version,
            "rejection_reason": listing.rejection_reason,
        }


def client_for(app, email: str | None):
    client = app.test_client()
    if email:
        assert login(client, email).status_code == 302
    return client


def text(response) -> str:
    return response.get_data(as_text=True)


def visible_text(markup: str) -> str:
    """The page's text as a reader gets it: tags removed, entities decoded, spaces joined."""
    spaced = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", markup)))
    return re.sub(r" ([),])", r"\1", spaced)  # "<code>1</code>, <code>2</code>" reads "1, 2"


def marker() -> str:
    """A word that only this test's listings contain, so demo listings never interfere."""
    return "Zq" + uuid.uuid4().hex[:8]


class Tags(HTMLParser):
    """Every start tag with its attributes, in document order."""

    def __init__(self, markup: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def find(self, **wanted) -> list[dict]:
        return [a for _t, a in self.tags if all(a.get(k) == v for k, v in wanted.items())]


def assert_error_on(markup: str, field: str, message: str) -> None:
    """``message`` is shown in the field's error element and the field points at it."""
    found = re.search(rf'id="{re.escape(field)}-error"[^>]*>(.*?)</p>', markup, re.S)
    assert found, f"no error element for {field}"
    assert message in visible_text(found.group(1)), (field, visible_text(found.group(1)))
    controls = Tags(markup).find(name=field)
    assert controls, f"no control named {field}"
    for control in controls:
        assert f"{field}-error" in control.get("aria-describedby", "").split(), (field, control)
        assert control.get("aria-invalid") == "true", (field, control)


def csrf_from(markup: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', markup).group(1)


# --- catalogue --------------------------------------------------------------------------------


def test_anonymous_catalogue_shows_only_published_listings_and_drafts_are_404(app, client):
    word = marker()
    ids = {
        status: make_listing(app, status, title=f"{status.title()} Meldebescheinigung {word}")
        for status in ("draft", "submitted", "published", "withdrawn")
    }
    page = text(client.get(f"/katalog?q={word}"))
    assert f"Published Meldebescheinigung {word}" in page
    for status in ("draft", "submitted", "withdrawn"):
        assert f"{status.title()} Meldebescheinigung {word}" not in page
    assert "1 Leistung gefunden" in visible_text(page)
    assert client.get(f"/leistungen/{ids['published']}").status_code == 200
    for status in ("draft", "submitted", "withdrawn"):
        assert client.get(f"/leistungen/{ids[status]}").status_code == 404
        assert client.get(f"/leistungen/{ids[status]}/versionen").status_code == 404
    # Not even a status filter in the URL shows them.
    page = text(client.get(f"/katalog?q={word}&status=draft&status=submitted"))
    assert f"Draft Meldebescheinigung {word}" not in page


def test_catalogue_is_linked_from_header_and_home_page(client, login_as):
    home = text(client.get("/"))
    assert 'href="/katalog"' in home
    assert "Zum Katalog der EfA-Leistungen" in home
    nav = re.search(r'<nav class="site-nav".*?</nav>', home, re.S).group(0)
    assert 'href="/katalog"' in nav and 'href="/pruefung"' not in nav
    login_as(FITKO_1)
    nav = re.search(r'<nav class="site-nav".*?</nav>', text(client.get("/")), re.S).group(0)
    assert 'href="/pruefung"' in nav and 'href="/benachrichtigungen"' in nav


def test_catalogue_finds_german_word_forms(app, client):
    word = marker()
    make_listing(app, "published", title=f"Aufenthaltstitel beantragen {word}")
    page = text(client.get(f"/katalog?q=Aufenthaltstitels+{word}"))
    assert f"Aufenthaltstitel beantragen {word}" in page
    assert "1 Leistung gefunden" in visible_text(page)


def test_catalogue_filters_are_shareable_urls_with_correct_facet_counts(app, client):
    word = marker()
    specs = [
        # (themenfeld, Land editor, reifegrad, transport)
        (4, EDITOR_BB, 3, "fit_connect"),
        (4, EDITOR_BB, 2, "osci_dvdv"),
        (4, EDITOR_BY, 3, "fit_connect"),
        (9, EDITOR_BY, 4, "fit_connect"),
        (1, EDITOR_BB, 1, "osci_dvdv"),
    ]
    for number, (themenfeld, email, reifegrad, transport) in enumerate(specs):
        make_listing(
            app,
            "published",
            email=email,
            title=f"Leistung {number} {word}",
            themenfeld_number=themenfeld,
            reifegrad=reifegrad,
            transport=transport,
        )

    def counts(markup: str, facet: str) -> dict[str, int]:
        labels = re.findall(rf'id="f-{facet}-([^"]+)".*?<label[^>]*>.*?\((\d+)', markup, re.S)
        return {value: int(count) for value, count in labels}

    page = text(client.get(f"/katalog?q={word}"))
    assert "5 Leistungen gefunden" in visible_text(page)
    assert counts(page, "themenfeld") == {"1": 1, "4": 3, "9": 1}
    assert counts(page, "land") == {"09": 2, "12": 3}
    assert counts(page, "transport") == {"fit_connect": 3, "osci_dvdv": 2}
    assert "f-status-" not in page  # the status facet is for internal users only

    # Two Themenfelder: repeated parameters, OR within a facet.
    shared = f"/katalog?q={word}&themenfeld=4&themenfeld=9"
    page = text(client.get(shared))
    assert "4 Leistungen gefunden" in visible_text(page)
    assert 'id="f-themenfeld-4" name="themenfeld" value="4" checked' in page.replace(
        'form="catalogue-form" ', ""
    )
    # Another facet's counts follow the Themenfeld filter; its own counts do not.
    assert counts(page, "land") == {"09": 2, "12": 2}
    assert counts(page, "themenfeld") == {"1": 1, "4": 3, "9": 1}
    # AND across facets.
    page = text(client.get(f"{shared}&land=09&transport=fit_connect"))
    assert "2 Leistungen gefunden" in visible_text(page)
    assert f"Leistung 2 {word}" in page and f"Leistung 3 {word}" in page
    # A chosen value without hits stays visible (with 0), so it can be unticked.
    page = text(client.get(f"/katalog?q={word}&themenfeld=4&reifegrad=0"))
    assert counts(page, "reifegrad")["0"] == 0
    assert "0 Leistungen gefunden" in visible_text(page)


def test_catalogue_paginates_and_page_links_keep_every_filter(app, client):
    word = marker()
    with app.app_context():
        for number in range(23):
            listing = listings.create_listing(
                user(EDITOR_BB),
                {**CONTENT, "title": f"Eintrag {number:02d} {word}", "themenfeld_number": 4},
            )
            listings.submit_listing(user(EDITOR_BB), listing.id)
            listings.publish_listing(user(FITKO_1), listing.id)
    page = text(client.get(f"/katalog?q={word}&themenfeld=4&themenfeld=9&sort=title"))
    assert "23 Leistungen gefunden" in visible_text(page)
    assert page.count('class="result"') == 20
    assert f"Eintrag 00 {word}" in page and f"Eintrag 20 {word}" not in page
    next_link = html.unescape(re.search(r'rel="next" href="([^"]+)"', page).group(1))
    assert "themenfeld=4" in next_link and "themenfeld=9" in next_link
    assert "sort=title" in next_link and f"q={word}" in next_link and "page=2" in next_link
    second = text(client.get(next_link))
    assert second.count('class="result"') == 3
    assert f"Eintrag 20 {word}" in second and f"Eintrag 00 {word}" not in second
    assert 'rel="prev"' in second


@pytest.mark.parametrize(
    "query",
    [
        "page=²",
        "page=-1",
        "page=999999999999",
        "themenfeld=abc&themenfeld=99&themenfeld=",
        "land=XX&land=1&land=123",
        "reifegrad=7&reifegrad=-1&reifegrad=x",
        "transport=smtp&status=bogus",
        "sort=DROP+TABLE",
        "q=" + "x" * 5000,
        "q=<script>alert(1)</script>",
    ],
)
def test_catalogue_ignores_garbage_parameters(client, query):
    response = client.get(f"/katalog?{query}")
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in text(response)


def test_catalogue_refuses_control_characters_with_a_message(client):
    response = client.get("/katalog?q=%00%01")
    assert response.status_code == 422
    assert "Steuerzeichen" in text(response)


def test_unknown_sort_falls_back_to_relevance(client):
    page = text(client.get("/katalog?sort=nonsense"))
    assert re.search(r'<option value="relevance" selected>', page)


def test_internal_users_see_status_badges_and_filter_by_status(app, client, login_as):
    word = marker()
    make_listing(app, "submitted", title=f"Eingereicht {word}")
    make_listing(app, "published", title=f"Veröffentlicht {word}")
    make_listing(app, "draft", email=EDITOR_BY, title=f"Bayern-Entwurf {word}")
    login_as(FITKO_1)
    page = text(client.get(f"/katalog?q={word}&status=submitted"))
    assert f"Eingereicht {word}" in page and f"Veröffentlicht {word}" not in page
    assert 'kern-badge kern-badge--info">Eingereicht' in page
    # A Land editor filters its own drafts but never sees another Land's.
    other = client_for(app, EDITOR_BB)
    page = text(other.get(f"/katalog?q={word}&status=draft&status=submitted"))
    assert f"Eingereicht {word}" in page and f"Bayern-Entwurf {word}" not in page


# --- tenant isolation and who may act -----------------------------------------------------------


def test_another_land_editor_can_neither_see_nor_edit_a_brandenburg_draft(app):
    listing_id = make_listing(app, "draft")
    before = row(app, listing_id)
    intruder = client_for(app, EDITOR_BY)
    assert intruder.get(f"/leistungen/{listing_id}").status_code == 404
    assert intruder.get(f"/leistungen/{listing_id}/bearbeiten").status_code == 404
    assert intruder.get(f"/leistungen/{listing_id}/versionen").status_code == 404
    response = intruder.post(
        f"/leistungen/{listing_id}/bearbeiten",
        data={**FORM, "title": "Übernommen von Bayern", "lock_version": before["lock_version"]},
    )
    assert response.status_code == 404
    assert intruder.post(f"/leistungen/{listing_id}/einreichen").status_code == 404
    upload = intruder.post(
        f"/leistungen/{listing_id}/dokumente",
        data={"title": "Fremdes Dokument", "file": (io.BytesIO(pdf_bytes(2000)), "x.pdf")},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 404
    assert "Übernommen von Bayern" not in text(intruder.get("/katalog?q=Bayern&status=draft"))
    assert row(app, listing_id) == before
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count(ListingDocument.id)).where(
                    ListingDocument.listing_id == listing_id
                )
            )
            == 0
        )


def test_another_land_editor_cannot_edit_or_withdraw_a_published_listing(app):
    listing_id = make_listing(app, "published")
    before = row(app, listing_id)
    intruder = client_for(app, EDITOR_BY)
    page = text(intruder.get(f"/leistungen/{listing_id}"))
    assert "Bearbeiten" not in page and "Zurückziehen" not in page
    assert intruder.get(f"/leistungen/{listing_id}/bearbeiten").status_code == 404
    assert intruder.post(f"/leistungen/{listing_id}/zurueckziehen").status_code == 404
    assert row(app, listing_id) == before


@pytest.mark.parametrize("email", [EDITOR_BB, VIEWER_BB, ADMIN])
def test_only_fitko_publishes(app, email):
    listing_id = make_listing(app, "submitted")
    client = client_for(app, email)
    assert client.post(f"/leistungen/{listing_id}/veroeffentlichen").status_code == 403
    assert (
        client.post(
            f"/leistungen/{listing_id}/zurueckgeben", data={"reason": "Ich darf das nicht."}
        ).status_code
        == 403
    )
    assert row(app, listing_id)["status"] == "submitted"
    page = text(client.get(f"/leistungen/{listing_id}"))
    assert "Veröffentlichen" not in page
    fitko = client_for(app, FITKO_1)
    assert fitko.post(f"/leistungen/{listing_id}/veroeffentlichen").status_code == 302
    assert row(app, listing_id)["status"] == "published"


def test_anonymous_actions_lead_to_the_login_page(app, client):
    listing_id = make_listing(app, "submitted")
    for path in (
        "/leistungen/neu",
        f"/leistungen/{listing_id}/bearbeiten",
        "/pruefung",
        "/benachrichtigungen",
    ):
        response = client.get(path)
        assert response.status_code == 302 and "/anmelden?next=" in response.headers["Location"]
    response = client.post(f"/leistungen/{listing_id}/veroeffentlichen")
    assert response.status_code == 302 and "/anmelden" in response.headers["Location"]
    assert row(app, listing_id)["status"] == "submitted"


def test_fitko_cannot_create_or_edit_listings(app):
    listing_id = make_listing(app, "draft")
    fitko = client_for(app, FITKO_1)
    assert fitko.get("/leistungen/neu").status_code == 403
    assert fitko.post("/leistungen/neu", data=FORM).status_code == 403
    assert fitko.get(f"/leistungen/{listing_id}/bearbeiten").status_code == 403


# --- the whole lifecycle through the pages ---------------------------------------------------------


def test_lifecycle_walk_from_draft_to_withdrawn(app):
    word = marker()
    editor = client_for(app, EDITOR_BB)
    fitko_1 = client_for(app, FITKO_1)
    fitko_2 = client_for(app, FITKO_2)
    anonymous = app.test_client()

    # The editor creates a draft through the form.
    response = editor.post("/leistungen/neu", data={**FORM, "title": f"Aufenthaltstitel {word}"})
    assert response.status_code == 302
    listing_id = int(re.search(r"/leistungen/(\d+)$", response.headers["Location"]).group(1))
    assert row(app, listing_id)["status"] == "draft"
    assert row(app, listing_id)["annual_cost_cents"] == 120_000_000
    page = text(editor.get(f"/leistungen/{listing_id}"))
    assert "Einreichen" in page and "Entwurf" in page

    # ... submits it; FITKO is told (in an inbox emptied first: demo data leaves notices).
    fitko_1.post("/benachrichtigungen/gelesen")
    response = editor.post(
        f"/leistungen/{listing_id}/einreichen",
        data={"lock_version": row(app, listing_id)["lock_version"]},
    )
    assert response.status_code == 302
    assert row(app, listing_id)["status"] == "submitted"
    assert "Benachrichtigungen (1" in visible_text(text(fitko_1.get("/")))
    queue = text(fitko_1.get("/pruefung"))
    assert f"Aufenthaltstitel {word}" in queue

    # FITKO returns it: without a reason it is refused, with one it goes back.
    response = fitko_1.post(
        f"/leistungen/{listing_id}/zurueckgeben", data={"reason": "", "next": "/pruefung"}
    )
    assert response.headers["Location"] == "/pruefung"
    assert "Bitte begründen Sie die Rückgabe" in text(fitko_1.get("/pruefung"))
    assert row(app, listing_id)["status"] == "submitted"
    reason = "Die Kosten fehlen für die Anbindung der Kommunen."
    fitko_1.post(f"/leistungen/{listing_id}/zurueckgeben", data={"reason": reason})
    assert row(app, listing_id)["status"] == "draft"

    # The editor sees the reason on the page and in the inbox, and resubmits.
    page = text(editor.get(f"/leistungen/{listing_id}"))
    assert "Von der FITKO zurückgegeben" in page and reason in page
    assert reason in text(editor.get("/benachrichtigungen"))
    editor.post(f"/leistungen/{listing_id}/einreichen")
    assert row(app, listing_id)["status"] == "submitted"
    assert reason not in text(editor.get(f"/leistungen/{listing_id}"))

    # A different FITKO user publishes.
    fitko_2.post(f"/leistungen/{listing_id}/veroeffentlichen")
    assert row(app, listing_id)["status"] == "published"
    assert f"Aufenthaltstitel {word}" in text(anonymous.get(f"/katalog?q={word}"))

    # An edit of the published listing waits for FITKO; the public text stays.
    form = text(editor.get(f"/leistungen/{listing_id}/bearbeiten"))
    assert "Ihre Änderung geht an die FITKO zur Prüfung" in form
    lock = re.search(r'name="lock_version"[^>]*value="(\d+)"', form).group(1)
    response = editor.post(
        f"/leistungen/{listing_id}/bearbeiten",
        data={**FORM, "title": f"Aufenthaltstitel und Blaue Karte {word}", "lock_version": lock},
    )
    assert response.status_code == 302
    assert row(app, listing_id)["title"] == f"Aufenthaltstitel {word}"
    public = text(anonymous.get(f"/leistungen/{listing_id}"))
    assert f"Aufenthaltstitel {word}" in public and "Blaue Karte" not in public
    assert "wartet auf die Prüfung" not in public
    provider_page = text(editor.get(f"/leistungen/{listing_id}"))
    assert "Eine Änderung wartet auf die Prüfung durch die FITKO" in provider_page
    queue = text(fitko_1.get("/pruefung"))
    assert "Blaue Karte" in queue and "Änderung übernehmen" in queue

    # FITKO accepts it: version 2 with a readable diff.
    fitko_1.post(
        f"/leistungen/{listing_id}/aenderung/uebernehmen",
        data={"lock_version": row(app, listing_id)["lock_version"]},
    )
    assert row(app, listing_id)["title"] == f"Aufenthaltstitel und Blaue Karte {word}"
    assert row(app, listing_id)["published_version"] == 2
    history = visible_text(text(anonymous.get(f"/leistungen/{listing_id}/versionen")))
    assert "Version 2" in history and "Version 1" in history
    assert (
        f"Titel bisher: Aufenthaltstitel {word} neu: Aufenthaltstitel und Blaue Karte {word}"
        in history
    )
    # The public sees which organisation published a version, not the staff member.
    assert "Max Gegenzeichner" not in history and "Erika Prüferin" not in history
    insider_history = visible_text(text(editor.get(f"/leistungen/{listing_id}/versionen")))
    assert "Max Gegenzeichner (FITKO)" in insider_history  # published version 1
    assert "Erika Prüferin (FITKO)" in insider_history  # accepted version 2

    # The provider withdraws it; the catalogue no longer shows it.
    editor.post(f"/leistungen/{listing_id}/zurueckziehen")
    assert row(app, listing_id)["status"] == "withdrawn"
    catalogue = text(anonymous.get(f"/katalog?q={word}"))
    assert "0 Leistungen gefunden" in visible_text(catalogue) and "Blaue Karte" not in catalogue
    assert anonymous.get(f"/leistungen/{listing_id}").status_code == 404
    assert "Zurückgezogen" in text(editor.get(f"/leistungen/{listing_id}"))


def test_fitko_rejects_a_pending_revision_with_a_reason(app):
    listing_id = make_listing(app, "published")
    with app.app_context():
        listings.update_listing(user(EDITOR_BB), listing_id, {**CONTENT, "payment": "Giropay"})
    fitko = client_for(app, FITKO_1)
    page = text(fitko.get(f"/leistungen/{listing_id}"))
    assert "Giropay" in page and "Änderung ablehnen" in page
    fitko.post(
        f"/leistungen/{listing_id}/aenderung/ablehnen",
        data={
            "reason": "Giropay gibt es nicht mehr.",
            "lock_version": row(app, listing_id)["lock_version"],
        },
    )
    assert row(app, listing_id)["payment"] == "ePayBL"
    with app.app_context():
        revision = db.session.scalar(
            select(ListingRevision).where(ListingRevision.listing_id == listing_id)
        )
        assert revision.status == RevisionStatus.REJECTED
    editor = client_for(app, EDITOR_BB)
    assert "Giropay gibt es nicht mehr." in text(editor.get("/benachrichtigungen"))


@pytest.mark.parametrize(
    ("status", "path", "email"),
    [
        ("draft", "veroeffentlichen", FITKO_1),  # publish a draft
        ("draft", "zurueckziehen", EDITOR_BB),  # withdraw a draft
        ("published", "einreichen", EDITOR_BB),  # submit a published listing
        ("published", "aenderung/uebernehmen", FITKO_1),  # accept a change nobody proposed
        ("withdrawn", "einreichen", EDITOR_BB),
    ],
)
def test_illegal_transitions_are_refused_with_a_message(app, status, path, email):
    listing_id = make_listing(app, status)
    before = row(app, listing_id)
    client = client_for(app, email)
    response = client.post(f"/leistungen/{listing_id}/{path}")
    assert response.status_code in (302, 409)
    if response.status_code == 302:
        page = visible_text(text(client.get(response.headers["Location"])))
        assert "nicht möglich" in page or "keine Änderung zur Prüfung" in page
    assert row(app, listing_id) == before


def test_fitko_cannot_accept_a_revision_that_changed_after_it_was_opened(app):
    listing_id = make_listing(app, "published")
    with app.app_context():
        listings.update_listing(user(EDITOR_BB), listing_id, {**CONTENT, "payment": "Giropay"})
    fitko = client_for(app, FITKO_1)
    seen = row(app, listing_id)["lock_version"]
    assert "Giropay" in text(fitko.get("/pruefung"))
    # The provider swaps the proposal while FITKO looks at the old one.
    with app.app_context():
        listings.update_listing(user(EDITOR_BB), listing_id, {**CONTENT, "payment": "Bargeld"})
    fitko.post(f"/leistungen/{listing_id}/aenderung/uebernehmen", data={"lock_version": seen})
    assert row(app, listing_id)["payment"] == "ePayBL"  # nothing accepted unseen
    fitko.post(f"/leistungen/{listing_id}/aenderung/uebernehmen", data={})
    assert row(app, listing_id)["payment"] == "ePayBL"  # nor without saying what was seen
    fitko.post(
        f"/leistungen/{listing_id}/aenderung/uebernehmen",
        data={"lock_version": row(app, listing_id)["lock_version"]},
    )
    assert row(app, listing_id)["payment"] == "Bargeld"


def test_a_stale_decision_is_refused(app):
    listing_id = make_listing(app, "submitted")
    stale = row(app, listing_id)["lock_version"] - 1
    fitko = client_for(app, FITKO_1)
    response = fitko.post(
        f"/leistungen/{listing_id}/veroeffentlichen", data={"lock_version": str(stale)}
    )
    assert response.status_code == 302
    assert "inzwischen geändert" in text(fitko.get(response.headers["Location"]))
    assert row(app, listing_id)["status"] == "submitted"


def test_decisions_never_redirect_off_site(app):
    listing_id = make_listing(app, "submitted")
    fitko = client_for(app, FITKO_1)
    response = fitko.post(
        f"/leistungen/{listing_id}/veroeffentlichen", data={"next": "https://evil.example/"}
    )
    assert response.headers["Location"] == f"/leistungen/{listing_id}"


# --- the form ----------------------------------------------------------------------------------------


def test_form_with_bad_input_marks_each_field_and_saves_nothing(app):
    editor = client_for(app, EDITOR_BB)
    with app.app_context():
        count = db.session.scalar(select(func.count(Listing.id)))
    bad = {
        **FORM,
        "leika_keys": "9901000400000",  # 13 digits
        "ozg_id": "10a55",
        "themenfeld_number": "99",
        "reifegrad": "7",
        "annual_cost": "-5,00",
        "connection_cost": "abc",
        "transport": "",
    }
    response = editor.post("/leistungen/neu", data=bad)
    assert response.status_code == 422
    page = text(response)
    assert_error_on(page, "leika_keys", "genau 14 Ziffern: 9901000400000")
    assert_error_on(page, "ozg_id", "nur aus Ziffern")
    assert_error_on(page, "themenfeld_number", "eines der 14 Themenfelder")
    assert_error_on(page, "reifegrad", "zwischen 0 und 4")
    assert_error_on(page, "annual_cost", "nicht negativ")
    assert_error_on(page, "connection_cost", "Betrag in Euro")
    assert_error_on(page, "transport", "FIT-Connect oder OSCI/DVDV")
    # The summary links to each field; the user's input is kept.
    for field in ("leika_keys", "ozg_id", "themenfeld_number", "reifegrad", "annual_cost"):
        assert f'href="#{field}"' in page
    assert 'value="10a55"' in page and 'value="abc"' in page
    with app.app_context():
        assert db.session.scalar(select(func.count(Listing.id))) == count


def test_form_stores_amounts_checklist_operator_and_several_leika_keys(app):
    with app.app_context():
        zit = db.session.scalar(select(Organisation).where(Organisation.short_name == "ZIT-BB"))
        zit_id = zit.id
    editor = client_for(app, EDITOR_BB)
    response = editor.post(
        "/leistungen/neu",
        data={
            **FORM,
            "operator_id": str(zit_id),
            "leika_keys": "99010004000000, 99010004001000\n99010004002000",
            "annual_cost": "1200000.5",
            "connection_cost": "",
        },
    )
    listing_id = int(response.headers["Location"].rsplit("/", 1)[1])
    saved = row(app, listing_id)
    assert saved["annual_cost_cents"] == 120_000_050
    assert saved["connection_cost_cents"] is None
    assert saved["operator_id"] == zit_id
    assert saved["leika_keys"] == "99010004000000 99010004001000 99010004002000"
    state = listings.checklist_state({"checklist": saved["checklist"]})
    assert state["ui_barrierefrei"] and state["ui_mandantenfaehig"]
    assert sum(state.values()) == 2
    # The edit form shows the stored values again, amounts the German way.
    form = text(editor.get(f"/leistungen/{listing_id}/bearbeiten"))
    assert 'value="1.200.000,50"' in form
    assert re.search(
        r'id="check_ui_barrierefrei" name="check_ui_barrierefrei" value="y" checked', form
    )
    assert re.search(rf'<option selected value="{zit_id}">', form)


@pytest.mark.parametrize(
    ("typed", "cents"),
    [
        ("1.200.000,00", 120_000_000),
        ("1200000.50", 120_000_050),
        ("1,200,000.50", 120_000_050),
        ("1.200", 120_000),
        ("0,01", 1),
        ("25 000 €", 2_500_000),
        ("", None),
    ],
)
def test_euro_amounts_are_read_as_people_type_them(app, typed, cents):
    editor = client_for(app, EDITOR_BB)
    response = editor.post("/leistungen/neu", data={**FORM, "annual_cost": typed})
    assert response.status_code == 302
    assert (
        row(app, int(response.headers["Location"].rsplit("/", 1)[1]))["annual_cost_cents"] == cents
    )


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("12,345", "zwei Nachkommastellen"),
        ("1.2.3,4", "Betrag in Euro"),
        ("1e6", "Betrag in Euro"),
        ("-0,01", "nicht negativ"),
        ("99999999999999999999", "zu groß"),
    ],
)
def test_wrong_euro_amounts_are_refused_on_the_field(app, typed, message):
    editor = client_for(app, EDITOR_BB)
    response = editor.post("/leistungen/neu", data={**FORM, "connection_cost": typed})
    assert response.status_code == 422
    assert_error_on(text(response), "connection_cost", message)


def test_stale_edit_form_gets_a_conflict_message_and_changes_nothing(app):
    listing_id = make_listing(app, "draft")
    editor = client_for(app, EDITOR_BB)
    form = text(editor.get(f"/leistungen/{listing_id}/bearbeiten"))
    lock = re.search(r'name="lock_version"[^>]*value="(\d+)"', form).group(1)
    # Meanwhile a colleague saves another change.
    with app.app_context():
        listings.update_listing(user(EDITOR_BB), listing_id, {**CONTENT, "payment": "ePayBL 2"})
    before = row(app, listing_id)
    response = editor.post(
        f"/leistungen/{listing_id}/bearbeiten",
        data={**FORM, "title": "Mein veralteter Titel", "lock_version": lock},
    )
    assert response.status_code in (409, 412)
    page = visible_text(text(response))
    assert "inzwischen geändert" in page and "Aktuelle Fassung laden" in page
    assert "Mein veralteter Titel" in text(response)  # the input is not thrown away
    assert row(app, listing_id) == before


def test_submitted_listing_cannot_be_opened_for_editing(app):
    listing_id = make_listing(app, "submitted")
    editor = client_for(app, EDITOR_BB)
    response = editor.get(f"/leistungen/{listing_id}/bearbeiten")
    assert response.status_code == 302
    assert "kann nicht bearbeitet werden" in text(editor.get(response.headers["Location"]))
    assert "Bearbeiten</span>" not in text(editor.get(f"/leistungen/{listing_id}"))


def test_edit_of_a_published_listing_with_no_change_says_so(app):
    listing_id = make_listing(app, "published")
    editor = client_for(app, EDITOR_BB)
    form = text(editor.get(f"/leistungen/{listing_id}/bearbeiten"))
    lock = re.search(r'name="lock_version"[^>]*value="(\d+)"', form).group(1)
    same = {**FORM, "check_ui_mandantenfaehig": "", "lock_version": lock}
    del same["check_ui_mandantenfaehig"]
    response = editor.post(f"/leistungen/{listing_id}/bearbeiten", data=same)
    assert response.status_code == 422
    assert "nichts geändert" in text(response)
    with app.app_context():
        assert listings.pending_revision(db.session.get(Listing, listing_id)) is None


# --- the listing page -----------------------------------------------------------------------------


def test_listing_page_shows_every_field(app, client):
    with app.app_context():
        zit_id = db.session.scalar(
            select(Organisation.id).where(Organisation.short_name == "ZIT-BB")
        )
    listing_id = make_listing(app, "published", operator_id=zit_id)
    page = visible_text(text(client.get(f"/leistungen/{listing_id}")))
    for expected in (
        "Aufenthaltstitel für Fachkräfte",
        "OZG-Leistung Aufenthaltstitel",
        "OZG-ID 10255",
        "99010004000000, 99010004001000",
        "Ein- & Auswanderung",
        "3 – vollständig online mit Nutzerkonto und digitalem Bescheid (OZG-konform)",
        "Brandenburg",
        "Zentraler IT-Dienstleister des Landes Brandenburg (ZIT-BB)",
        "FIT-Connect",
        "XAusländer",
        "Servicekonto eines Landes oder BundID",
        "ePayBL",
        "Zustellpunkt in FIT-Connect anlegen.",
        "1.200.000,00 €",
        "25.000,00 €",
        "Referat 13, MIK Brandenburg",
        "efa@mik.brandenburg.de",
        "Oberflächengestaltung",
        "Routing & Transport",
        "Nachnutzung",
        "Versionsgeschichte (1 veröffentlichte Version)",
    ):
        assert expected in page.replace("\u00a0", " "), expected
    markup = text(client.get(f"/leistungen/{listing_id}"))
    # The checklist is a table per group: criterion, level, fulfilled.
    assert markup.count('class="kern-table kern-table--small checklist-table"') == len(
        listings.criteria_by_group()
    )
    barrierefrei = next(c for c in listings.criteria() if c.key == "ui_barrierefrei")
    mandanten = next(c for c in listings.criteria() if c.key == "ui_mandantenfaehig")
    assert re.search(
        re.escape(html.escape(barrierefrei.text)) + r".*?MUSS.*?kern-badge--success\">ja",
        markup,
        re.S,
    )
    assert re.search(
        re.escape(html.escape(mandanten.text)) + r".*?MUSS.*?kern-badge--danger\">nein",
        markup,
        re.S,
    )
    # The public sees neither the status machinery nor buttons.
    assert "Status:" not in page and "Einreichen" not in page and "Bearbeiten" not in page


def test_script_in_the_description_is_neutralised(app, client):
    listing_id = make_listing(
        app,
        "published",
        description=(
            "Vorher <script>alert('xss')</script> nachher\n\n"
            "[Klick](javascript:alert(1)) und [FITKO](https://www.fitko.de/)\n\n"
            '<img src=x onerror="alert(2)"> <a href="JaVaScRiPt:alert(3)">x</a>\n\n'
            "# Überschrift"
        ),
    )
    markup = text(client.get(f"/leistungen/{listing_id}"))
    body = markup.split('id="description-heading"', 1)[1].split("</section>", 1)[0]
    assert "<script" not in markup.lower().replace('<script src="', "")
    assert "alert('xss')" not in body
    assert "javascript:" not in body.lower()
    assert "onerror" not in body
    assert '<a href="https://www.fitko.de/" rel="nofollow noopener noreferrer">FITKO</a>' in body
    assert "<h3>Überschrift</h3>" in body  # the page keeps one h1
    assert "Vorher" in body and "nachher" in body


def test_pending_revision_is_shown_to_provider_and_fitko_only(app):
    listing_id = make_listing(app, "published")
    with app.app_context():
        listings.update_listing(
            user(EDITOR_BB), listing_id, {**CONTENT, "reifegrad": 4, "annual_cost_cents": 99}
        )
    for email in (EDITOR_BB, VIEWER_BB, FITKO_1):
        page = visible_text(text(client_for(app, email).get(f"/leistungen/{listing_id}")))
        assert "Eine Änderung wartet auf die Prüfung durch die FITKO" in page
        assert "Reifegrad bisher: 3 – vollständig online neu: 4 – Once-Only" in page
        assert "0,99 €" in page
    for email in (None, EDITOR_BY):
        page = text(client_for(app, email).get(f"/leistungen/{listing_id}"))
        assert "wartet auf die Prüfung" not in page and "0,99" not in page


# --- documents ---------------------------------------------------------------------------------------


def _upload(client, listing_id, content: bytes, name="leitfaden.pdf", title="Anbindungsleitfaden"):
    return client.post(
        f"/leistungen/{listing_id}/dokumente",
        data={"title": title, "file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def _documents(app, listing_id) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count(ListingDocument.id)).where(ListingDocument.listing_id == listing_id)
        )


def test_a_10_mb_pdf_uploads_and_downloads_identically(app):
    listing_id = make_listing(app, "published")
    editor = client_for(app, EDITOR_BB)
    content = pdf_bytes(10 * MB)
    response = _upload(editor, listing_id, content, name="Anbindung Leitfaden.pdf")
    assert response.status_code == 302
    page = text(client_for(app, None).get(f"/leistungen/{listing_id}"))
    link = re.search(rf'href="(/leistungen/{listing_id}/dokumente/\d+)"', page).group(1)
    assert "Anbindungsleitfaden" in page and "10,0 MB" in page
    download = client_for(app, None).get(link)
    assert download.status_code == 200
    assert download.headers["Content-Type"] == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert "Anbindung_Leitfaden.pdf" in download.headers["Content-Disposition"]
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert hashlib.sha256(download.data).hexdigest() == hashlib.sha256(content).hexdigest()


def test_the_upload_limit_is_raised_before_csrf_protection_reads_the_body(app_factory):
    app = app_factory(WTF_CSRF_ENABLED=True)
    listing_id = make_listing(app, "draft")
    client = app.test_client()
    token = csrf_from(text(client.get("/anmelden")))
    client.post(
        "/anmelden", data={"email": EDITOR_BB, "password": "fitstore-demo", "csrf_token": token}
    )
    token = csrf_from(text(client.get(f"/leistungen/{listing_id}")))
    response = client.post(
        f"/leistungen/{listing_id}/dokumente",
        data={
            "title": "Leistungsbeschreibung",
            "csrf_token": token,
            "file": (io.BytesIO(pdf_bytes(9 * MB)), "l.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert _documents(app, listing_id) == 1
    # Too large is refused by the CSRF check's parsing already, with the same friendly page.
    response = client.post(
        f"/leistungen/{listing_id}/dokumente",
        data={
            "title": "Zu groß",
            "csrf_token": token,
            "file": (io.BytesIO(pdf_bytes(30 * MB)), "g.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 413
    assert "höchstens 10 MB" in visible_text(text(response))
    assert _documents(app, listing_id) == 1
    # Other forms keep the app-wide limit.
    response = client.post(
        f"/leistungen/{listing_id}/bearbeiten",
        data={**FORM, "description": "x" * (3 * MB), "csrf_token": token},
    )
    assert response.status_code == 413


def test_a_png_renamed_to_pdf_is_refused_and_nothing_stored(app):
    listing_id = make_listing(app, "draft")
    editor = client_for(app, EDITOR_BB)
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 5000
    response = _upload(editor, listing_id, png, name="scan.pdf")
    assert response.status_code == 422
    assert_error_on(text(response), "file", "kein PDF")
    assert _documents(app, listing_id) == 0


def test_a_30_mb_upload_is_refused_with_a_friendly_page_and_nothing_stored(app):
    listing_id = make_listing(app, "draft")
    editor = client_for(app, EDITOR_BB)
    response = _upload(editor, listing_id, pdf_bytes(30 * MB))
    assert response.status_code == 413
    page = visible_text(text(response))
    assert "höchstens 10 MB" in page
    assert "Aufenthaltstitel für Fachkräfte" in page  # back on the listing, upload form at hand
    assert _documents(app, listing_id) == 0


def test_upload_without_file_or_title_says_what_is_missing(app):
    listing_id = make_listing(app, "draft")
    editor = client_for(app, EDITOR_BB)
    response = editor.post(
        f"/leistungen/{listing_id}/dokumente",
        data={"title": ""},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert_error_on(text(response), "file", "Bitte wählen Sie eine PDF-Datei aus.")
    assert_error_on(text(response), "title", "3 bis 200 Zeichen")
    assert _documents(app, listing_id) == 0


def test_documents_of_a_draft_are_private(app):
    listing_id = make_listing(app, "draft")
    editor = client_for(app, EDITOR_BB)
    assert _upload(editor, listing_id, pdf_bytes(4000)).status_code == 302
    with app.app_context():
        document_id = db.session.scalar(
            select(ListingDocument.id).where(ListingDocument.listing_id == listing_id)
        )
    path = f"/leistungen/{listing_id}/dokumente/{document_id}"
    assert editor.get(path).status_code == 200
    assert editor.get(path).headers["Cache-Control"] == "private, no-store"
    assert client_for(app, None).get(path).status_code == 404
    assert client_for(app, EDITOR_BY).get(path).status_code == 404
    # A document id under another listing's URL is not found either.
    other = make_listing(app, "published")
    assert (
        client_for(app, None).get(f"/leistungen/{other}/dokumente/{document_id}").status_code == 404
    )


# --- review queue, versions, notifications ---------------------------------------------------------


def test_review_queue_lists_submissions_and_revisions_oldest_first(app):
    word = marker()
    first = make_listing(app, "submitted", title=f"Erste {word}")
    published = make_listing(app, "published", title=f"Zweite {word}")
    with app.app_context():
        listings.update_listing(
            user(EDITOR_BB), published, {**CONTENT, "title": f"Zweite geändert {word}"}
        )
    third = make_listing(app, "submitted", email=EDITOR_BY, title=f"Dritte {word}", checklist={})
    fitko = client_for(app, FITKO_1)
    page = text(fitko.get("/pruefung"))
    positions = [page.index(f"{name} {word}") for name in ("Erste", "Zweite", "Dritte")]
    assert positions == sorted(positions)
    readable = visible_text(page)
    assert "Bayern" in readable and "Brandenburg" in readable
    muss = sum(1 for c in listings.criteria() if c.level == "MUSS")
    assert f"{muss - 1} MUSS-Kriterien nicht erfüllt" in readable  # one is ticked in CONTENT
    assert f"{muss} MUSS-Kriterien nicht erfüllt" in readable  # the Bavarian one has none
    assert f"Titel bisher: Zweite {word} neu: Zweite geändert {word}" in readable
    assert "Wartet seit 0 Tagen" in readable
    for listing_id in (first, third):
        assert f'action="/leistungen/{listing_id}/veroeffentlichen"' in page
        assert f'action="/leistungen/{listing_id}/zurueckgeben"' in page
    assert f'action="/leistungen/{published}/aenderung/uebernehmen"' in page
    # Reason fields have unique ids and labels.
    ids = re.findall(r'<textarea[^>]*id="([^"]+)"', page)
    assert len(ids) == len(set(ids)) >= 3
    for field_id in ids:
        assert f'for="{field_id}"' in page


@pytest.mark.parametrize(("email", "status"), [(EDITOR_BB, 403), (VIEWER_BB, 403), (ADMIN, 403)])
def test_review_queue_is_for_fitko_only(app, email, status):
    assert client_for(app, email).get("/pruefung").status_code == status


def test_version_history_shows_who_published_and_what_changed(app):
    listing_id = make_listing(app, "published")
    with app.app_context():
        listings.update_listing(
            user(EDITOR_BB),
            listing_id,
            {
                **CONTENT,
                "themenfeld_number": 9,
                "annual_cost_cents": 130_000_000,
                "checklist": {"ui_barrierefrei": True, "ui_mehrsprachig": True},
            },
        )
        listings.accept_revision(user(FITKO_2), listing_id)
    public = visible_text(text(client_for(app, None).get(f"/leistungen/{listing_id}/versionen")))
    assert "Gegenzeichner" not in public and "von FITKO" in public  # no staff names in public
    page = visible_text(text(client_for(app, EDITOR_BB).get(f"/leistungen/{listing_id}/versionen")))
    assert page.index("Version 2") < page.index("Version 1")
    assert "Themenfeld bisher: Ein- & Auswanderung neu: Mobilität & Reisen" in page
    assert "Jährliche Betriebskosten bisher: 1.200.000,00 € neu: 1.300.000,00 €" in page.replace(
        "\u00a0", " "
    )
    assert (
        "mindestens auf Deutsch und Englisch verfügbar (SOLL) bisher: nicht erfüllt neu: erfüllt"
        in page
    )
    assert "Max Gegenzeichner (FITKO)" in page and "Erika Prüferin (FITKO)" in page
    assert "Erste veröffentlichte Fassung" in page


def _unread(app, email: str) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count(Notification.id))
            .join(User, User.id == Notification.user_id)
            .where(User.email == email, Notification.read_at.is_(None))
        )


def test_notifications_inbox_counts_unread_and_marks_them_read(app, count_queries):
    fitko = client_for(app, FITKO_1)
    fitko.post("/benachrichtigungen/gelesen")  # demo data leaves notices; start from none
    assert _unread(app, FITKO_1) == 0
    other_before = _unread(app, FITKO_2)
    listing_id = make_listing(app, "submitted")
    home = visible_text(text(fitko.get("/")))
    assert "Benachrichtigungen (1) ungelesen" in home
    inbox = text(fitko.get("/benachrichtigungen"))
    assert "Neue Leistung zur Prüfung: Aufenthaltstitel für Fachkräfte" in inbox
    assert f'href="/leistungen/{listing_id}"' in inbox
    # The unread count is one COUNT per page.
    with count_queries() as counter:
        fitko.get("/")
    assert sum("count(notification.id)" in s.lower() for s in counter.statements) == 1
    response = fitko.post("/benachrichtigungen/gelesen")
    assert response.status_code == 302
    page = visible_text(text(fitko.get("/benachrichtigungen")))
    assert "Keine ungelesenen Benachrichtigungen" in page
    assert "Benachrichtigungen (" not in page
    assert _unread(app, FITKO_1) == 0
    # Notices for others never show up here.
    make_listing(app, "published", title="Nur an Brandenburg gemeldet")
    assert "Veröffentlicht: Nur an Brandenburg gemeldet" not in text(
        fitko.get("/benachrichtigungen")
    )
    assert "Veröffentlicht: Nur an Brandenburg gemeldet" in text(
        client_for(app, EDITOR_BB).get("/benachrichtigungen")
    )
    # Another user's inbox is untouched by this one's "mark all read".
    assert _unread(app, FITKO_2) == other_before + 2
    assert f"Benachrichtigungen ({other_before + 2}) ungelesen" in visible_text(
        text(client_for(app, FITKO_2).get("/"))
    )


def test_anonymous_pages_run_no_notification_count(client, count_queries):
    client.get("/katalog")
    with count_queries() as counter:
        client.get("/katalog")
    assert not any("notification" in s.lower() for s in counter.statements)


# --- constant query counts -------------------------------------------------------------------------


def _bulk_published(app, count: int, word: str) -> None:
    """``count`` published listings inserted directly: only the number of rows matters here."""
    with app.app_context():
        bb = user(EDITOR_BB)
        now = utcnow()
        db.session.add_all(
            Listing(
                status=ListingStatus.PUBLISHED,
                provider_land_ags=("12", "09", "06", "05")[n % 4],
                title=f"Massenleistung {n} {word}",
                ozg_name="Massenleistung",
                ozg_id=str(10000 + n),
                leika_keys="99010004000000",
                themenfeld_number=1 + n % 14,
                reifegrad=n % 5,
                transport=(Transport.FIT_CONNECT, Transport.OSCI_DVDV)[n % 2],
                search_document=f"Massenleistung {word}",
                # Stemmed like the service does: a random "ae" in the word becomes "a".
                search_stems=f" massenleist {' '.join(stems_of(word))} ",
                created_by_id=bb.id,
                published_at=now,
                published_version=1,
            )
            for n in range(count)
        )
        db.session.commit()


@pytest.mark.parametrize("email", [None, FITKO_1])
def test_catalogue_runs_the_same_number_of_queries_for_10_and_500_listings(
    app, count_queries, email
):
    word = marker()
    client = client_for(app, email)
    urls = [
        "/katalog",
        f"/katalog?q={word}&sort=title&page=2",
        "/katalog?themenfeld=1&themenfeld=2&land=12&reifegrad=1&transport=fit_connect&sort=date",
    ]

    def measure() -> list[int]:
        counts = []
        for url in urls:
            client.get(url)  # warm-up (session touch, caches)
            with count_queries() as counter:
                assert client.get(url).status_code == 200
            counts.append(counter.count)
        return counts

    _bulk_published(app, 10, word)
    few = measure()
    _bulk_published(app, 490, word)
    many = measure()
    assert "500 Leistungen gefunden" in visible_text(text(client.get(urls[1])))
    assert many == few


def test_listing_page_runs_the_same_number_of_queries_whatever_it_holds(app, count_queries):
    def measure(listing_id: int, email: str | None) -> int:
        client = client_for(app, email)
        client.get(f"/leistungen/{listing_id}")
        with count_queries() as counter:
            assert client.get(f"/leistungen/{listing_id}").status_code == 200
        return counter.count

    small = make_listing(app, "published")
    large = make_listing(app, "published")
    with app.app_context():
        bb = user(EDITOR_BB)
        for number in range(2, 12):
            db.session.add(
                ListingVersion(listing_id=large, number=number, content="{}", published_by_id=bb.id)
            )
        for number in range(8):
            db.session.add(
                ListingDocument(
                    listing_id=large,
                    title=f"Dokument {number}",
                    filename=f"d{number}.pdf",
                    size=1000,
                    sha256="0" * 64,
                    content=pdf_bytes(1000),
                    uploaded_by_id=bb.id,
                )
            )
        db.session.get(Listing, large).published_version = 11
        db.session.commit()
    for email in (None, EDITOR_BB, FITKO_1):
        assert measure(small, email) == measure(large, email), email


def test_version_history_and_review_queue_query_counts_do_not_grow(app, count_queries):
    listing_id = make_listing(app, "published")
    fitko = client_for(app, FITKO_1)

    def measure(url: str) -> int:
        fitko.get(url)
        with count_queries() as counter:
            assert fitko.get(url).status_code == 200
        return counter.count

    def revise_and_accept(payment: str) -> None:
        with app.app_context():
            listings.update_listing(user(EDITOR_BB), listing_id, {**CONTENT, "payment": payment})
            listings.accept_revision(user(FITKO_1), listing_id)

    revise_and_accept("ePayBL 2")
    make_listing(app, "submitted")
    history_before = measure(f"/leistungen/{listing_id}/versionen")
    queue_before = measure("/pruefung")
    for n in range(5):
        revise_and_accept(f"ePayBL {n + 3}")
        make_listing(app, "submitted")
    assert measure(f"/leistungen/{listing_id}/versionen") == history_before
    assert measure("/pruefung") == queue_before


def test_the_exports_are_linked_with_the_current_filters(client):
    page = text(client.get("/katalog?themenfeld=4&sort=title"))
    assert 'href="/katalog.csv?themenfeld=4&amp;sort=title"' in page
    assert 'href="/katalog.json?themenfeld=4&amp;sort=title"' in page
    assert 'href="/leistungen/1/publiccode.yml"' in text(client.get("/leistungen/1"))


def test_the_provider_takes_back_a_pending_change_from_the_listing_page(app):
    listing_id = make_listing(app, "published")
    with app.app_context():
        listings.update_listing(user(EDITOR_BB), listing_id, {**CONTENT, "payment": "Giropay"})
    editor = client_for(app, EDITOR_BB)
    page = text(editor.get(f"/leistungen/{listing_id}"))
    assert f'action="/leistungen/{listing_id}/aenderung/verwerfen"' in page
    assert "aenderung/verwerfen" not in text(
        client_for(app, FITKO_1).get(f"/leistungen/{listing_id}")
    )
    response = editor.post(
        f"/leistungen/{listing_id}/aenderung/verwerfen",
        data={"lock_version": row(app, listing_id)["lock_version"]},
    )
    assert response.status_code == 302
    assert "Änderung ist zurückgenommen" in visible_text(
        text(editor.get(response.headers["Location"]))
    )
    assert "wartet auf die Prüfung" not in text(editor.get(f"/leistungen/{listing_id}"))
    assert "Giropay" not in text(client_for(app, FITKO_1).get("/pruefung"))
    # Another Land's editor may not.
    bavaria = client_for(app, "editor-by@demo.test")
    assert bavaria.post(f"/leistungen/{listing_id}/aenderung/verwerfen").status_code == 404
