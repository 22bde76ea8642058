"""The open data page in real Chromium: zero axe violations (WCAG 2.1 A/AA), no CSP
errors, and its links lead to the files they name."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import page_errors

pytestmark = pytest.mark.browser

EDITOR = "editor-bb@demo.test"
PHONE = 375


def open_page(page: Page, path: str = "/opendata") -> list[str]:
    errors = page_errors(page)
    response = page.goto(path)
    assert response is not None and response.status == 200
    # Both column tables are rendered: the state worth checking.
    expect(page.locator("table.opendata-columns")).to_have_count(2)
    return errors


@pytest.mark.parametrize(
    ("user", "lang", "width"),
    [
        pytest.param(None, "de", None, id="anonymous"),
        pytest.param(EDITOR, "de", None, id="editor"),
        pytest.param(None, "en", None, id="english"),
        pytest.param(None, "de", PHONE, id="phone"),
    ],
)
def test_the_open_data_page_has_no_axe_violations(page, logged_in_as, axe_check, user, lang, width):
    if width:
        page.set_viewport_size({"width": width, "height": 800})
    if user:
        logged_in_as(user)
    errors = open_page(page, "/opendata" + ("?lang=en" if lang == "en" else ""))
    expect(page.locator("html")).to_have_attribute("lang", lang)
    if user:
        expect(page.locator("header form[action='/abmelden']")).to_have_count(1)
    axe_check(page)
    assert not errors, "console errors (CSP?):\n" + "\n".join(errors)


def test_the_column_tables_can_be_scrolled_by_keyboard(page):
    open_page(page)
    region = page.locator("#nachnutzung-laender .kern-table-responsive")
    expect(region).to_have_attribute("tabindex", "0")
    region.focus()
    expect(region).to_be_focused()
    # The region is named by its caption, so a screen reader announces what it holds.
    expect(region).to_have_accessible_name("Spalten des Datensatzes nachnutzung-laender")


def test_every_link_on_the_page_leads_to_its_file(page):
    open_page(page)
    expected = {
        "nachnutzung-laender.csv": "text/csv",
        "nachnutzung-laender.json": "application/json",
        "nachnutzung-behoerden.csv": "text/csv",
        "nachnutzung-behoerden.json": "application/json",
        "datapackage.json": "application/json",
        "dcat.rdf": "application/rdf+xml",
    }
    hrefs = page.locator("main a[href*='/opendata/']").evaluate_all(
        "links => links.map(link => link.href)"
    )
    assert sorted({href.rsplit("/", 1)[1] for href in hrefs}) == sorted(expected)
    for href in set(hrefs):
        response = page.request.get(href)
        assert response.ok, href
        content_type = response.headers["content-type"].split(";")[0]
        assert content_type == expected[href.rsplit("/", 1)[1]], href
        assert response.body()
