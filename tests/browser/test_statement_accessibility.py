"""The cost statement pages in real Chromium: zero axe violations (WCAG 2.1 A/AA) for the
choice form (as it opens, and refusing a bad year) and for Hessen's statement of 2027 with
shared rows (one under efa_2024), one-off Anbindungskosten and a listing that cannot be
computed; and the statement printed: navigation, header and buttons hidden, the tables
there, on A4.

The data are put into the live server's database through the services before the first
page opens: the worked example of domain.md, a listing Hessen joins in March 2027 with
Anbindungskosten, one under efa_2024 and one whose default key ("usage") has no figures.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import Page, expect

from fitstore import create_app
from fitstore.extensions import db
from fitstore.services import alliances, cost_sharing, listings, reuses
from tests.browser.conftest import page_errors
from tests.conftest import BASE_CONFIG
from tests.factories import (
    WORKED_EXAMPLE_YEAR,
    contracted_reuse,
    listing_content,
    user_by_email,
    worked_example,
)

pytestmark = pytest.mark.browser

YEAR = WORKED_EXAMPLE_YEAR
STATEMENT = f"/kosten/abrechnung/06/{YEAR}"
# A4 in PostScript points (210 mm × 297 mm); Chromium rounds to a few hundredths.
A4 = (595.0, 842.0)


def _bb_listing(title: str, key: str | None, funding_model: str = "participants") -> int:
    bb, fitko = user_by_email("editor-bb@demo.test"), user_by_email("fitko-1@demo.test")
    listing = listings.create_listing(bb, listing_content(title=title))
    listings.submit_listing(bb, listing.id)
    listings.publish_listing(fitko, listing.id)
    reuses.record_own_use(bb, listing.id, "2025-01-01")
    if key:
        alliances.propose_cost_key(bb, listing.id, YEAR, key, funding_model, {}, "")
    cost_sharing.add_plan_item(bb, listing.id, YEAR, "service_operation", 2_400_000, "Betrieb")
    return listing.id


@pytest.fixture(scope="module")
def statement_data(browser_database, live_server) -> dict[str, int]:
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{browser_database}"})
    with app.app_context():
        ids = {"worked": worked_example(title="Abrechnungsprobe Aufenthalt")}
        ids["connection"] = _bb_listing("Abrechnungsprobe Anbindung", "equal")
        contracted_reuse(ids["connection"], "he", date(YEAR, 3, 1), connection_cents=250_000)
        ids["efa"] = _bb_listing("Abrechnungsprobe EfA", "koenigstein", "efa_2024")
        contracted_reuse(ids["efa"], "he", date(YEAR, 1, 1))
        ids["open"] = _bb_listing("Abrechnungsprobe ohne Nutzungszahlen", None)
        contracted_reuse(ids["open"], "he", date(YEAR, 1, 1))
        db.session.remove()
        db.engine.dispose()
    return ids


def index_page(page: Page, _ids: dict[str, int]) -> None:
    response = page.goto("/kosten/abrechnung")
    assert response is not None and response.status == 200
    expect(page.locator("#land option")).to_have_count(1)
    expect(page.locator("#jahr")).to_have_value(re.compile(r"^\d{4}$"))


def index_refused(page: Page, _ids: dict[str, int]) -> None:
    page.goto("/kosten/abrechnung")
    page.locator("#jahr").fill("zwanzig")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Abrechnung anzeigen").click()
    assert navigation.value.status == 422
    expect(page.locator("#jahr-error")).to_contain_text("vierstellig")


def statement_page(page: Page, ids: dict[str, int]) -> None:
    response = page.goto(STATEMENT)
    assert response is not None and response.status == 200
    expect(page.locator("h1")).to_have_text(f"Kostenabrechnung Hessen {YEAR}")
    for name in ("worked", "connection", "efa"):
        expect(page.locator(f"#shares-table tr[data-listing='{ids[name]}']")).to_be_visible()
    expect(page.locator(f"#shares-table tr[data-listing='{ids['worked']}']")).to_contain_text(
        "357.683,64"
    )
    expect(
        page.locator(f"#connection-table tr[data-listing='{ids['connection']}']")
    ).to_contain_text("2.500,00")
    expect(page.locator(f".open-items li[data-listing='{ids['open']}']")).to_contain_text(
        "Nutzungszahlen"
    )
    # The print button needs its script; with it, it is there.
    expect(page.get_by_role("button", name="Drucken")).to_be_visible()


STATES = {
    "choice form (Land user)": ("editor-he@demo.test", index_page, False),
    "choice form refusing a bad year": ("editor-he@demo.test", index_refused, True),
    "statement with rows, one-off costs, open item": ("editor-he@demo.test", statement_page, False),
    "statement (FITKO)": ("fitko-1@demo.test", statement_page, False),
}


@pytest.mark.parametrize("state", list(STATES.values()), ids=list(STATES))
def test_statement_page_state_has_no_axe_violations(
    page, axe_check, logged_in_as, statement_data, state
):
    user, drive, refused = state
    errors = page_errors(page, refused=refused)
    logged_in_as(user)
    drive(page, statement_data)
    axe_check(page)
    assert not errors, "console errors:\n" + "\n".join(errors)


def test_the_printed_statement_hides_navigation_and_buttons_and_is_a4(
    page, logged_in_as, statement_data
):
    logged_in_as("editor-he@demo.test")
    statement_page(page, statement_data)
    expect(page.locator(".site-nav")).to_be_visible()
    expect(page.locator(".print-only")).to_be_hidden()

    page.emulate_media(media="print")
    for hidden in (
        ".site-nav",
        ".site-header",
        ".kern-kopfzeile",
        ".site-footer",
        ".statement-actions",
        ".statement-years",
    ):
        expect(page.locator(hidden).first).to_be_hidden()
    expect(page.get_by_role("button", name="Drucken")).to_be_hidden()
    for shown in ("h1", "#shares-table", "#connection-table", "#statement-total", ".open-items"):
        expect(page.locator(shown)).to_be_visible()
    expect(page.locator(".print-only")).to_contain_text("Erstellt am")
    # No table is cut off at the right edge: the responsive wrapper does not scroll.
    assert page.evaluate(
        "() => [...document.querySelectorAll('.statement .kern-table-responsive')]"
        ".every(box => box.scrollWidth <= box.clientWidth + 1)"
    )

    pdf = page.pdf(prefer_css_page_size=True)
    boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    assert boxes, "no page in the printed PDF"
    for width, height in boxes:
        assert abs(float(width) - A4[0]) < 2 and abs(float(height) - A4[1]) < 2, (width, height)
