"""The public dashboard in real Chromium: zero axe violations (WCAG 2.1 A/AA) on every
page and variant, maps included, anonymous and signed in; no console errors (a CSP
report of an inline style or script would land there); the sort links work by
keyboard."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import page_errors

pytestmark = pytest.mark.browser

EDITOR_BB = "editor-bb@demo.test"
MAX_TABS = 60  # more than every focusable element before the first table's headers

PAGES = [
    ("/dashboard", "svg.map path[data-ags]", 16),
    ("/dashboard?ebene=kreise", "svg.map path[data-ags]", 401),
    ("/dashboard?leistung=1", "svg.map path[data-ags]", 16),
    ("/dashboard?leistung=1&ebene=kreise", "svg.map path[data-ags]", 401),
    ("/dashboard/laender/12", "svg.map path[data-ags]", 18),
    ("/dashboard/verlauf", "svg.history-chart__svg path.history-chart__line", 2),
    ("/dashboard/verlauf?leistung=1", "svg.history-chart__svg path.history-chart__line", 2),
]


@pytest.mark.parametrize(("path", "drawn", "count"), PAGES)
def test_dashboard_page_has_no_axe_violations(page, axe_check, path, drawn, count):
    errors = page_errors(page)
    page.goto(path)
    # The state under test is really there: the map or chart with all its parts.
    expect(page.locator(drawn)).to_have_count(count)
    expect(page.locator("main table caption").first).to_be_visible()
    axe_check(page)
    assert errors == []


def test_history_of_a_listing_without_go_lives_has_no_axe_violations(page, axe_check):
    page.goto("/dashboard/verlauf?leistung=6")  # BAföG online: nobody live in the demo
    expect(page.locator("#history-empty")).to_be_visible()
    axe_check(page)


def test_land_page_signed_in_with_the_follow_form_has_no_axe_violations(logged_in_as, axe_check):
    page = logged_in_as(EDITOR_BB)
    errors = page_errors(page)
    page.goto("/dashboard/laender/12")
    expect(page.locator("main form input[name=land_ags][value='12']")).to_have_count(1)
    expect(page.locator("svg.map path[data-ags]")).to_have_count(18)
    axe_check(page)
    assert errors == []


def test_the_sort_links_are_reachable_and_work_by_keyboard(page):
    page.goto("/dashboard")
    target = "table[data-table=laender] th[data-sort=leistungen] a"
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if page.locator(target).evaluate("element => element === document.activeElement"):
            break
    else:
        pytest.fail(f"the sort link was not reached within {MAX_TABS} Tab presses")
    # The focused link is visibly marked (KERN/app focus outline).
    outline = page.locator(target).evaluate("element => getComputedStyle(element).outlineStyle")
    assert outline != "none"

    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"sortierung=leistungen&richtung=auf#laender$"))
    header = page.locator("table[data-table=laender] th[data-sort=leistungen]")
    expect(header).to_have_attribute("aria-sort", "ascending")
    # Pressing the same header again turns the order round.
    header.locator("a").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(header).to_have_attribute("aria-sort", "descending")
    expect(page.locator("table[data-table=laender] caption")).to_contain_text("absteigend")
