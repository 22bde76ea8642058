"""The whole reuse journey in real Chromium, through the real forms (CSRF on), one browser
context per person: Brandenburg's listing, Bayern's interest, Brandenburg's conditions,
Bayern's order, FITKO's check by fitko-1, the countersignature by fitko-2 (four eyes),
the onboarding checklist, test, live, and two Bavarian authorities live.

The listing is a fresh published one, put into the live server's database through the
service by a second app bound to the same SQLite file, so the demo reuses (Bayern already
reuses demo listing 1) do not interfere.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Response, expect
from sqlalchemy import select

from fitstore import create_app
from fitstore.extensions import db
from fitstore.models import User
from fitstore.models.base import utcnow
from fitstore.services import listings
from tests.browser.conftest import TIMEOUT_MS, assert_no_axe_violations, login
from tests.conftest import BASE_CONFIG
from tests.factories import listing_content

pytestmark = pytest.mark.browser

EDITOR_BB = "editor-bb@demo.test"
EDITOR_BY = "editor-by@demo.test"
FITKO_1 = "fitko-1@demo.test"
FITKO_2 = "fitko-2@demo.test"
TITLE = "Wegprobe Einbürgerungsantrag"
# Bavarian authorities (fitstore/data/gemeinden.csv, kreise.csv): the Gemeinde München
# (Landeshauptstadt) and the Landkreis Fürstenfeldbruck.
MUENCHEN, FUERSTENFELDBRUCK = "09162000", "09179"
FAVICON = "/favicon.ico"


@pytest.fixture(scope="module")
def listing_id(browser_database, live_server) -> int:
    """A fresh published listing of Brandenburg that no Land reuses yet."""
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{browser_database}"})
    with app.app_context():
        users = {user.email: user for user in db.session.scalars(select(User))}
        bb = users[EDITOR_BB]
        listing = listings.create_listing(
            bb,
            listing_content(
                title=TITLE,
                ozg_name="Einbürgerung",
                ozg_id="98201",
                transport="fit_connect",
                user_account="servicekonto_bundid",
                payment="ePayBL",
                xoev_standard="XStA",
            ),
        )
        listings.submit_listing(bb, listing.id)
        listings.publish_listing(users[FITKO_1], listing.id)
        created = listing.id
        db.session.remove()
        db.engine.dispose()
    return created


def _person(browser: Browser, base_url: str, email: str, errors: list, pages: list) -> Page:
    """A browser context of its own for one person, logged in through the form. Console
    errors and refused requests of its page go to ``errors``."""
    context = browser.new_context(
        base_url=base_url,
        viewport={"width": 1280, "height": 900},
        locale="de-DE",
        extra_http_headers={"Accept-Language": "de-DE,de;q=0.9"},
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    pages.append(page)

    def console(message: ConsoleMessage) -> None:
        # The app has no favicon; Chromium asks for one on its own, not the page.
        if message.type == "error" and not message.location.get("url", "").endswith(FAVICON):
            errors.append(f"{email} on {page.url}: {message.text}")

    def response(answer: Response) -> None:
        # The happy path has no refused request at all; a 4xx names its URL here.
        if answer.status >= 400:
            errors.append(f"{email}: {answer.status} {answer.url}")

    page.on("console", console)
    page.on("response", response)
    page.on("pageerror", lambda error: errors.append(f"{email}: {error}"))
    login(page, email)
    return page


def _flash(page: Page, text: str) -> None:
    expect(page.locator("main .kern-alert[role=status]").first).to_contain_text(text)


def _stage(page: Page, label: str) -> None:
    """The stage the reuse's page shows, in words and as the current step."""
    expect(page.locator(".current-stage")).to_have_text(label)
    expect(page.locator("ol.steps [aria-current=step]")).to_contain_text(label)


def _submit(page: Page, button) -> None:
    with page.expect_navigation() as navigation:
        button.click()
    response = navigation.value
    assert response is not None and response.status == 200, (page.url, response.status)


def _step(page: Page, action: str, label: str, comment: str = "") -> None:
    """Take one step of the stage machine through its form on the reuse's page."""
    form = page.locator("form.step-form", has=page.locator(f"input[name=action][value={action}]"))
    if comment:
        form.get_by_label(re.compile(f"Kommentar zu „{label}“")).fill(comment)
    _submit(page, form.get_by_role("button", name=label, exact=True))
    _flash(page, f"„{label}“ ist erledigt")


def test_bayern_reuses_a_brandenburg_listing_until_two_authorities_are_live(
    browser, live_server, listing_id
):
    errors: list[str] = []
    today = utcnow().date()
    pages: list[Page] = []
    try:
        # --- Bayern's interest ------------------------------------------------------------
        by = _person(browser, live_server, EDITOR_BY, errors, pages)
        by.goto(f"/leistungen/{listing_id}")
        expect(by.locator("h1")).to_have_text(TITLE)
        # Nobody reuses it yet: the map's table says so for Bayern.
        expect(by.locator(".stage-table tr[data-land='09'] .stage-label")).to_have_text(
            "keine Nachnutzung"
        )
        with by.expect_navigation():
            by.get_by_role("link", name="Nachnutzung anfragen").click()
        form = by.locator("main form[action$='/nachnutzen']")
        form.get_by_label("Geplanter Start").fill(today.isoformat())
        form.get_by_label("Erwartete Fälle pro Jahr").fill("12.000")
        form.get_by_label("Anmerkung").fill("Start mit der Landeshauptstadt und einem Landkreis.")
        assert_no_axe_violations(by)
        _submit(by, form.get_by_role("button", name="Interesse bekunden"))
        _flash(by, "Ihre Interessenbekundung ist abgegeben")
        _stage(by, "Interessenbekundung")
        expect(by.locator("#interest-heading + dl")).to_contain_text("12.000")
        reuse_url = by.url
        reuse_id = int(re.search(r"/nachnutzungen/(\d+)$", reuse_url).group(1))
        # Before the provider proposes conditions there is nothing to order.
        expect(by.get_by_role("button", name="Verbindlich bestellen")).to_have_count(0)

        # --- Brandenburg takes it up and proposes conditions -------------------------------
        bb = _person(browser, live_server, EDITOR_BB, errors, pages)
        # The interest arrives in the provider's inbox; one notice is marked read there.
        bb.goto("/benachrichtigungen")
        notice = bb.locator("ol.notice-list > li", has_text=f"Bayern möchte {TITLE} nachnutzen")
        expect(notice.locator(".kern-badge")).to_have_text("neu")
        _submit(bb, notice.get_by_role("button", name=re.compile("^Als gelesen markieren")))
        _flash(bb, "Die Benachrichtigung ist als gelesen markiert")
        expect(notice.locator(".kern-badge")).to_have_count(0)
        expect(notice.get_by_role("link")).to_have_attribute("href", f"/nachnutzungen/{reuse_id}")
        bb.goto("/mein-land")
        row = bb.locator(f".waiting-table tr[data-reuse='{reuse_id}']")
        expect(row.locator(".todo-action")).to_contain_text("Abstimmung aufnehmen")
        with bb.expect_navigation():
            row.get_by_role("link").click()
        _stage(bb, "Interessenbekundung")
        _step(bb, "start_coordination", "Abstimmung aufnehmen", "Gern, hier unsere Bedingungen.")
        _stage(bb, "Abstimmung")
        with bb.expect_navigation():
            bb.get_by_role("link", name="Bedingungen vorschlagen").click()
        form = bb.locator("main form[action$='/bedingungen']")
        form.get_by_role("radio", name="Jahresentgelt").check()
        form.get_by_label("Jahresentgelt in Euro").fill("50.000,00")
        form.get_by_label("Einmalige Anbindungskosten in Euro").fill("25.000,00")
        form.get_by_label("Leistungsumfang").fill("Betrieb, Support und Updates durch den ZIT-BB.")
        form.get_by_label("Geplanter Beginn").fill(today.isoformat())
        _submit(bb, form.get_by_role("button", name="Bedingungen vorschlagen"))
        _flash(bb, "Die Bedingungen sind vorgeschlagen")
        _stage(bb, "Abstimmung")
        expect(bb.locator("dl.conditions")).to_contain_text("50.000,00 €")
        expect(bb.locator("dl.conditions")).to_contain_text("25.000,00 €")

        # --- Bayern orders -----------------------------------------------------------------
        by.goto(reuse_url)
        _stage(by, "Abstimmung")
        expect(by.locator("dl.conditions")).to_contain_text("50.000,00 €")
        assert_no_axe_violations(by)
        _step(by, "order", "Verbindlich bestellen", "Bestellt laut Kabinettsbeschluss.")
        _stage(by, "Bestellt")
        expect(by.locator("#vertrag + dl .contract-status")).to_have_text("wartet auf Prüfung")
        contract_url = by.locator("a[href^='/vertraege/']").get_attribute("href")

        # --- fitko-1 checks (and may not countersign) --------------------------------------
        fitko_1 = _person(browser, live_server, FITKO_1, errors, pages)
        fitko_1.goto("/fitko")
        queued = fitko_1.locator("#waiting-check tr", has_text=TITLE)
        expect(queued).to_contain_text("Bayern")
        with fitko_1.expect_navigation():
            queued.get_by_role("link").click()
        assert fitko_1.url.endswith(contract_url)
        expect(fitko_1.locator(".contract-status")).to_have_text("wartet auf Prüfung")
        expect(fitko_1.locator("#contract-terms + dl")).to_contain_text("50.000,00 €")
        form = fitko_1.locator("main form[action$='/pruefung']")
        form.get_by_role("radio", name="Träger der FITKO (Land)").check()
        expect(form.get_by_label("Rechtsgrundlage")).to_have_value(re.compile("GWB"))
        form.get_by_label("Bemerkungen zur Prüfung").fill("Bayern ist Träger der FITKO.")
        _submit(fitko_1, form.get_by_role("button", name="Prüfung vermerken"))
        _flash(fitko_1, "Die Prüfung ist vermerkt")
        expect(fitko_1.locator(".contract-status")).to_have_text("wartet auf Gegenzeichnung")
        expect(fitko_1.locator(".signature-check")).to_contain_text("Träger der FITKO")
        # Four eyes: the checker gets the note, not the countersign form.
        expect(fitko_1.locator("main form[action$='/gegenzeichnung']")).to_have_count(0)
        expect(fitko_1.locator(".four-eyes-note")).to_contain_text("Vier-Augen-Prinzip")
        assert_no_axe_violations(fitko_1)
        fitko_1.goto(reuse_url)
        _stage(fitko_1, "Bestellt")
        expect(fitko_1.get_by_role("link", name="Vertrag gegenzeichnen")).to_have_count(0)

        # --- fitko-2 countersigns -----------------------------------------------------------
        fitko_2 = _person(browser, live_server, FITKO_2, errors, pages)
        fitko_2.goto("/fitko")
        queued = fitko_2.locator("#waiting-sign tr", has_text=TITLE)
        with fitko_2.expect_navigation():
            queued.get_by_role("link").click()
        form = fitko_2.locator("main form[action$='/gegenzeichnung']")
        expect(form.get_by_label("Wirksam ab")).to_have_value(today.isoformat())
        _submit(fitko_2, form.get_by_role("button", name="Gegenzeichnen"))
        _flash(fitko_2, "ist gegengezeichnet und wirksam ab")
        expect(fitko_2.locator(".contract-status")).to_have_text("in Kraft")
        expect(fitko_2.locator(".signature-countersign")).to_be_visible()
        fitko_2.goto(reuse_url)
        _stage(fitko_2, "Vertrag geschlossen")

        # --- Bayern: technical onboarding with the checklist, test, live -------------------
        by.goto(reuse_url)
        _stage(by, "Vertrag geschlossen")
        expect(by.locator("#vertrag + dl .contract-status")).to_have_text("in Kraft")
        _step(by, "start_connecting", "Technische Anbindung beginnen")
        _stage(by, "Technische Anbindung")
        checklist = by.locator("form[action*='/anbindung/']")
        keys = [
            re.search(r"/anbindung/(\w+)$", action).group(1)
            for action in checklist.evaluate_all("forms => forms.map(f => f.action)")
        ]
        assert keys == ["transport", "user_account", "payment", "xoev"]
        # Testing cannot begin while mandatory items are open; the page says so.
        expect(by.locator("#hint-start_testing")).to_contain_text("Pflichtpunkte")
        for key in keys:
            item = by.locator(f"form[action$='/anbindung/{key}']")
            item.get_by_label("Erledigt", exact=True).check()
            item.get_by_label("Notiz").fill(f"erledigt ({key})")
            _submit(by, item.get_by_role("button", name="Speichern"))
            _flash(by, "ist als erledigt am")
            expect(by.locator(f"tr[data-item='{key}']")).to_contain_text("erledigt")
        expect(by.locator("#anbindung ~ p").first).to_contain_text(
            "4 von 4 Punkten erledigt. Alle Pflichtpunkte sind erledigt."
        )
        expect(by.locator("#hint-start_testing")).to_have_count(0)
        _step(by, "start_testing", "Test beginnen", "Testfälle mit der LHS München.")
        _stage(by, "Test")
        _step(by, "go_live", "Produktivbetrieb melden")
        _stage(by, "Produktivbetrieb")
        # Every step is in the history, in order, with who took it.
        expect(by.locator(".history-table tbody tr td:nth-child(4)")).to_have_text(
            [
                "Interessenbekundung",
                "Abstimmung",
                "Bestellt",
                "Vertrag geschlossen",
                "Technische Anbindung",
                "Test",
                "Produktivbetrieb",
            ]
        )
        history = by.locator(".history-table tbody tr")
        expect(history.nth(2)).to_contain_text("Bestellt laut Kabinettsbeschluss.")
        expect(history.nth(3)).to_contain_text("FITKO")

        # --- Bayern: two authorities, in Anbindung, then live ------------------------------
        with by.expect_navigation():
            by.get_by_role("link", name="Einführung bei den Behörden ansehen").click()
        expect(by.locator("#progress-text")).to_contain_text("Noch keine Behörde")
        for query, code in (("Fürstenfeldbruck", FUERSTENFELDBRUCK), ("München", MUENCHEN)):
            search = by.locator("main form[aria-labelledby=search-heading]")
            search.get_by_label("Name oder AGS einer Behörde in Bayern").fill(query)
            _submit(by, search.get_by_role("button", name="Suchen"))
            found = by.locator(f"#add-{code}")
            found.check()
            add = by.locator("main form[action*='/einfuehrung/hinzufuegen']", has=found)
            _submit(by, add.get_by_role("button", name="Ausgewählte Behörden hinzufügen"))
            _flash(by, "1 Behörde zur Einführung hinzugefügt")
        expect(by.locator("#progress-text")).to_contain_text("0 von 2 Behörden live")
        rows = by.locator("#rollout-table tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.filter(has_text="Landkreis")).to_contain_text("Fürstenfeldbruck")
        expect(rows.filter(has_text=MUENCHEN)).to_contain_text("München")

        for status, label in (("connecting", "in Anbindung"), ("live", "live")):
            bulk = by.locator("main form[action*='/einfuehrung/status']")
            for row_box in bulk.locator("#rollout-table input[name=codes]").all():
                row_box.check()
            bulk.locator(f"input[name=status][value={status}]").check()
            expect(bulk.get_by_label("Datum des Schritts")).to_have_value(today.isoformat())
            _submit(by, bulk.get_by_role("button", name="Ausgewählte Behörden setzen"))
            _flash(by, f"2 Behörden auf „{label}“ gesetzt")
            expect(by.locator("#rollout-table tbody tr").filter(has_text=label)).to_have_count(2)
        expect(by.locator("#progress-text")).to_contain_text("2 von 2 Behörden live")
        expect(by.locator("#progress-text")).to_contain_text("100")
        expect(by.locator("#kreis-table tfoot td").last).to_have_text("2")
        assert_no_axe_violations(by)

        # The listing page shows Bayern live on the map's table; the reuse page the rollout.
        by.goto(reuse_url)
        expect(by.locator("#rollout-summary")).to_contain_text("2 von 2 Behörden live")
        bb.goto(f"/leistungen/{listing_id}")
        expect(bb.locator(".stage-table tr[data-land='09'] .stage-label")).to_have_text(
            "Produktivbetrieb"
        )
        expect(bb.locator(".stage-map path[data-land='09']")).to_have_class(
            re.compile("stage--live")
        )
        assert not errors, "console errors or refused requests:\n" + "\n".join(errors)
    finally:
        for page in pages:
            page.context.close()
