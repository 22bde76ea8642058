"""Listing pages in real Chromium: zero axe violations in every state, and a provider's
way from draft to published with a FITKO review in between (CSRF on, as for real users).

The listings are put into the live server's database through the service, by a
second app bound to the same SQLite file, before the first page is opened.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from fitstore import create_app
from fitstore.extensions import db
from fitstore.models import Organisation, User
from fitstore.services import listings
from tests.browser.conftest import TIMEOUT_MS, login
from tests.conftest import BASE_CONFIG

pytestmark = pytest.mark.browser

EDITOR_BB = "editor-bb@demo.test"
EDITOR_BY = "editor-by@demo.test"
FITKO_1 = "fitko-1@demo.test"
FITKO_2 = "fitko-2@demo.test"
# Only this module's listings carry the word; the demo listings never match it.
WORD = "Browserprobe"

CONTENT = {
    "title": f"{WORD} Wohngeld",
    "ozg_name": "Wohngeld",
    "ozg_id": "10180",
    "leika_keys": "99108011000000",
    "themenfeld_number": 2,
    "reifegrad": 3,
    "operator_id": None,
    "description": (
        "Antrag auf **Wohngeld** für Mieterinnen und Mieter.\n\n"
        "- Zuschuss zur Miete\n- Lastenzuschuss\n\n"
        "Mehr bei der [FITKO](https://www.fitko.de/)."
    ),
    "transport": "fit_connect",
    "xoev_standard": "XSozial",
    "user_account": "servicekonto_bundid",
    "payment": "",
    "requirements_note": "Zustellpunkt in FIT-Connect.\nSchnittstelle zum Fachverfahren.",
    "checklist": {"ui_barrierefrei": True, "ui_mandantenfaehig": True, "ui_mehrsprachig": True},
    "annual_cost_cents": 48_000_000,
    "connection_cost_cents": 1_500_000,
    "contact_name": "Referat Wohngeld",
    "contact_email": "wohngeld@mil.brandenburg.de",
}
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2048


@pytest.fixture(scope="module")
def listing_ids(browser_database, live_server) -> dict[str, int]:
    """26 published listings (more than a page), one with everything, one waiting for FITKO."""
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{browser_database}"})
    with app.app_context():
        users = {user.email: user for user in db.session.scalars(select(User))}
        bb, by = users[EDITOR_BB], users[EDITOR_BY]
        fitko, fitko_2 = users[FITKO_1], users[FITKO_2]
        for number in range(26):
            editor = bb if number % 2 == 0 else by
            created = listings.create_listing(
                editor,
                {
                    **CONTENT,
                    "title": f"{WORD} Leistung {number:02d}",
                    "themenfeld_number": (4, 9, 1)[number % 3],
                    "reifegrad": number % 5,
                    "transport": ("fit_connect", "osci_dvdv")[number % 2],
                },
            )
            listings.submit_listing(editor, created.id)
            listings.publish_listing(fitko, created.id)

        zit = db.session.scalar(select(Organisation.id).where(Organisation.short_name == "ZIT-BB"))
        rich = listings.create_listing(bb, {**CONTENT, "operator_id": zit}).id
        listings.add_document(
            bb, rich, title="Anbindungsleitfaden", filename="leitfaden.pdf", content=PDF
        )
        listings.submit_listing(bb, rich)
        listings.publish_listing(fitko, rich)
        listings.update_listing(bb, rich, {**CONTENT, "operator_id": zit, "payment": "ePayBL"})
        listings.accept_revision(fitko_2, rich)
        listings.update_listing(
            bb,
            rich,
            {
                **CONTENT,
                "operator_id": zit,
                "payment": "ePayBL",
                "annual_cost_cents": 52_000_000,
                "description": CONTENT["description"] + "\n\nJetzt auch mit Lastenzuschuss.",
            },
        )
        submitted = listings.create_listing(
            by, {**CONTENT, "title": f"{WORD} Elterngeld", "checklist": {}}
        ).id
        listings.submit_listing(by, submitted)
        ids = {"rich": rich, "submitted": submitted}
        db.session.remove()
        db.engine.dispose()
    return ids


# --- page states ---------------------------------------------------------------------------

Drive = Callable[[Page, dict], None]


@dataclass(frozen=True)
class State:
    drive: Drive
    user: str | None = None
    width: int | None = None


def visit(path: str, ready: str, status: int = 200) -> Drive:
    def drive(page: Page, ids: dict) -> None:
        response = page.goto(path.format(**ids))
        assert response is not None and response.status == status, (path, response.status)
        expect(page.locator(ready).first).to_be_visible()

    return drive


def form_with_errors(page: Page, ids: dict) -> None:
    page.goto("/leistungen/neu")
    form = page.locator("main form.listing-form")
    form.locator("[name=title]").fill("Wohngeld")
    form.locator("[name=ozg_id]").fill("12a")
    form.locator("[name=leika_keys]").fill("123")
    form.locator("[name=annual_cost]").fill("abc")
    with page.expect_navigation() as navigation:
        form.locator("button[type=submit]").click()
    assert navigation.value.status == 422
    expect(page.locator("#error-summary-title")).to_be_visible()
    expect(page.locator("#reifegrad-error")).to_be_visible()


def edit_form_with_errors(page: Page, ids: dict) -> None:
    page.goto(f"/leistungen/{ids['rich']}/bearbeiten")
    form = page.locator("main form.listing-form")
    form.locator("[name=ozg_id]").fill("10a55")
    form.locator("[name=leika_keys]").fill("9901001010400")
    with page.expect_navigation() as navigation:
        form.locator("button[type=submit]").click()
    assert navigation.value.status == 422
    expect(page.locator("#error-summary-title")).to_be_visible()
    expect(page.locator("#ozg_id-error")).to_be_visible()


def upload_with_error(page: Page, ids: dict) -> None:
    page.goto(f"/leistungen/{ids['rich']}")
    form = page.locator("main form[enctype='multipart/form-data']")
    form.locator("[name=title]").fill("Eingescanntes Bild")
    form.locator("[name=file]").set_input_files(
        files=[{"name": "scan.pdf", "mimeType": "application/pdf", "buffer": PNG}]
    )
    with page.expect_navigation() as navigation:
        form.locator("button[type=submit]").click()
    assert navigation.value.status == 422
    expect(page.locator("#file-error")).to_contain_text("kein PDF")


LISTING = "/leistungen/{rich}"
STATES = {
    "catalogue-empty": State(visit(f"/katalog?q={WORD}+gibtesnicht", "main p[role=status]")),
    "catalogue-filtered": State(
        visit(f"/katalog?q={WORD}&themenfeld=4&themenfeld=9&reifegrad=3", "ol.result-list")
    ),
    "catalogue-paged": State(visit(f"/katalog?q={WORD}&page=2", "a[rel=prev]")),
    "catalogue-fitko-status": State(
        visit(f"/katalog?q={WORD}&status=submitted", "#f-status-submitted"), user=FITKO_1
    ),
    "catalogue-phone": State(visit(f"/katalog?q={WORD}", "ol.result-list"), width=375),
    "listing-public": State(visit(LISTING, "#alliance-heading")),
    "listing-provider": State(visit(LISTING, ".pending-revision"), user=EDITOR_BB),
    "listing-fitko": State(visit(LISTING, "#revision-reason"), user=FITKO_1),
    "listing-submitted-fitko": State(
        visit("/leistungen/{submitted}", "#reject-reason"), user=FITKO_1
    ),
    "listing-phone": State(visit(LISTING, ".pending-revision"), user=EDITOR_BB, width=375),
    "listing-upload-error": State(upload_with_error, user=EDITOR_BB),
    "form-new": State(visit("/leistungen/neu", "main form.listing-form"), user=EDITOR_BB),
    "form-errors": State(form_with_errors, user=EDITOR_BB),
    "form-edit-published": State(
        visit("/leistungen/{rich}/bearbeiten", "main form.listing-form"), user=EDITOR_BB
    ),
    "form-edit-errors": State(edit_form_with_errors, user=EDITOR_BB),
    "versions": State(visit("/leistungen/{rich}/versionen", "#changes-2")),
    "review-queue": State(visit("/pruefung", "li.queue-item"), user=FITKO_1),
    "notifications": State(visit("/benachrichtigungen", "ol.notice-list"), user=EDITOR_BB),
}


@pytest.mark.parametrize("state", list(STATES.values()), ids=list(STATES))
def test_listing_page_state_has_no_axe_violations(
    page, console_errors, axe_check, logged_in_as, listing_ids, state: State
):
    if state.width:
        page.set_viewport_size({"width": state.width, "height": 800})
    if state.user:
        logged_in_as(state.user)
    state.drive(page, listing_ids)
    axe_check(page)
    csp = [error for error in console_errors if re.search("Content Security Policy", error, re.I)]
    assert not csp, "CSP violations:\n" + "\n".join(csp)


def test_catalogue_states_show_what_they_claim(page, listing_ids):
    page.goto(f"/katalog?q={WORD}")
    expect(page.locator("main p[role=status]")).to_contain_text("27 Leistungen gefunden")
    expect(page.locator("ol.result-list > li")).to_have_count(20)
    # Ticking a facet and applying it gives a shareable URL with repeated parameters.
    page.locator("#f-themenfeld-4").check()
    page.locator("#f-themenfeld-9").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Filter anwenden").click()
    assert re.search(r"themenfeld=4&themenfeld=9", page.url)
    expect(page.locator("main p[role=status]")).to_contain_text("18 Leistungen gefunden")
    page.goto(f"/katalog?q={WORD}+gibtesnicht")
    expect(page.locator("main p[role=status]")).to_contain_text("0 Leistungen gefunden")


# --- the walk from draft to published ------------------------------------------------------


def _context_page(browser: Browser, base_url: str) -> Page:
    context = browser.new_context(
        base_url=base_url,
        viewport={"width": 1280, "height": 900},
        locale="de-DE",
        extra_http_headers={"Accept-Language": "de-DE,de;q=0.9"},
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


def _flash(page: Page, text: str) -> None:
    expect(page.locator("main .kern-alert[role=status]").first).to_contain_text(text)


def test_provider_walks_a_listing_from_draft_to_published_with_fitko_review(
    browser, live_server, listing_ids
):
    title = "Aufenthaltstitel für Forschende (Probelauf)"
    editor = _context_page(browser, live_server)
    fitko_1 = _context_page(browser, live_server)
    fitko_2 = _context_page(browser, live_server)
    anonymous = _context_page(browser, live_server)
    try:
        # editor-bb creates the draft through the form and submits it.
        login(editor, EDITOR_BB)
        editor.goto("/katalog")
        with editor.expect_navigation():
            editor.get_by_role("link", name="Leistung anlegen").click()
        form = editor.locator("main form.listing-form")
        form.get_by_label("Titel", exact=True).fill(title)
        form.get_by_label("OZG-Leistung").fill("Aufenthaltstitel")
        form.get_by_label("OZG-ID").fill("10255")
        form.get_by_label("Leistungsschlüssel (LeiKa)").fill("99010004000000\n99010004001000")
        form.get_by_label("Themenfeld").select_option(label="Ein- & Auswanderung")
        form.get_by_label(re.compile(r"^3 – vollständig online")).check()
        form.get_by_role("radio", name="FIT-Connect").check()
        form.get_by_role("checkbox", name=re.compile("BITV 2.0")).check()
        form.get_by_label("Jährliche Betriebskosten in Euro").fill("1.200.000,00")
        form.get_by_label("E-Mail-Adresse der Ansprechperson").fill("efa@mik.brandenburg.de")
        with editor.expect_navigation():
            form.get_by_role("button", name="Entwurf anlegen").click()
        _flash(editor, "ist angelegt")
        expect(editor.locator("h1")).to_have_text(title)
        listing_url = editor.url
        with editor.expect_navigation():
            editor.get_by_role("button", name="Einreichen").click()
        _flash(editor, "zur Prüfung eingereicht")

        # fitko-1 finds it in the review queue and returns it with a reason.
        login(fitko_1, FITKO_1)
        with fitko_1.expect_navigation():
            fitko_1.locator("header").get_by_role("link", name="Prüfung").click()
        item = fitko_1.locator("li.queue-item", has_text=title)
        expect(item).to_contain_text("Brandenburg")
        reason = "Bitte die Anbindungskosten für die Kommunen ergänzen."
        item.get_by_label("Begründung für die Rückgabe").fill(reason)
        with fitko_1.expect_navigation():
            item.get_by_role("button", name=re.compile("^Zurückgeben")).click()
        _flash(fitko_1, "zurückgegeben")
        expect(fitko_1.locator("li.queue-item", has_text=title)).to_have_count(0)

        # editor-bb sees the reason and submits again.
        editor.goto(listing_url)
        expect(editor.locator(".rejection-reason")).to_have_text(reason)
        editor.goto("/benachrichtigungen")
        expect(editor.locator("ol.notice-list")).to_contain_text(reason)
        editor.goto(listing_url)
        with editor.expect_navigation():
            editor.get_by_role("button", name="Einreichen").click()
        _flash(editor, "zur Prüfung eingereicht")

        # fitko-2 publishes it from the queue.
        login(fitko_2, FITKO_2)
        fitko_2.goto("/pruefung")
        item = fitko_2.locator("li.queue-item", has_text=title)
        with fitko_2.expect_navigation():
            item.get_by_role("button", name=re.compile("^Veröffentlichen")).click()
        _flash(fitko_2, "veröffentlicht")

        # Anyone finds it in the catalogue by the genitive of a word in its title.
        anonymous.goto("/")
        with anonymous.expect_navigation():
            anonymous.get_by_role("link", name="Zum Katalog der EfA-Leistungen").click()
        anonymous.get_by_label("Suchbegriff").fill("Aufenthaltstitels")
        with anonymous.expect_navigation():
            anonymous.locator("#catalogue-form").get_by_role("button", name="Suchen").click()
        assert "q=Aufenthaltstitels" in anonymous.url
        with anonymous.expect_navigation():
            anonymous.get_by_role("link", name=title).click()
        expect(anonymous.locator("h1")).to_have_text(title)
        expect(anonymous.locator("main")).to_contain_text("1.200.000,00 €")
        expect(anonymous.locator("main")).not_to_contain_text(reason)
    finally:
        for tab in (editor, fitko_1, fitko_2, anonymous):
            tab.context.close()
