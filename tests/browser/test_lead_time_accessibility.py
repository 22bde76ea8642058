"""The lead-time and waiting-list pages in real Chromium: zero axe violations (WCAG 2.1
A/AA) for FITKO and for Land users, with and without waits, with the chart and
without it, with the threshold refused, at desktop and phone width; the forms are used
the way a person uses them (choose, click), and every case first checks that the state
under test was really reached.

The demo data suffice: FITKO and Brandenburg (the Aufenthaltstitel's provider) see
long waits and completed stays; Hamburg has nothing to do with any reuse, so it sees
empty pages. The cases only read, so their order does not matter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import page_errors

pytestmark = pytest.mark.browser

FITKO = "fitko-1@demo.test"
PROVIDER = "editor-bb@demo.test"
NOBODY = "editor-hh@demo.test"  # Hamburg: no reuse, no alliance, no listing with reuses
LEAD_TIMES = "/auswertung/durchlaufzeiten"
WAITS = "/auswertung/wartende"


def lead_times_all(page: Page) -> None:
    response = page.goto(LEAD_TIMES)
    assert response is not None and response.status == 200
    expect(page.locator("#lead-times-table tbody tr")).to_have_count(6)
    expect(page.locator("svg.lead-time-chart__svg")).to_be_visible()


def lead_times_chosen(page: Page) -> None:
    page.goto(LEAD_TIMES)
    page.locator("#leistung").select_option(label="Aufenthaltstitel (Brandenburg)")
    with page.expect_navigation():
        page.get_by_role("button", name="Durchlaufzeiten anzeigen").click()
    expect(page.locator("#lead-times-heading")).to_have_text("Durchlaufzeiten: Aufenthaltstitel")
    expect(page.locator("svg.lead-time-chart__svg")).to_be_visible()


def lead_times_empty(page: Page) -> None:
    page.goto(LEAD_TIMES)
    expect(page.locator("#lead-times-table tbody tr")).to_have_count(6)
    expect(page.locator("svg.lead-time-chart__svg")).to_have_count(0)
    expect(page.locator("#leistung option")).to_have_count(1)


def waits_default(page: Page) -> None:
    response = page.goto(WAITS)
    assert response is not None and response.status == 200
    expect(page.locator("#waits-table tbody tr").first).to_be_visible()
    expect(page.locator("#tage")).to_have_value("30")


def threshold(value: str, status: int) -> Callable[[Page], None]:
    def drive(page: Page) -> None:
        page.goto(WAITS)
        page.locator("#tage").fill(value)
        with page.expect_navigation() as navigation:
            page.get_by_role("button", name="Liste anzeigen").click()
        assert navigation.value is not None and navigation.value.status == status

    return drive


def waits_none(page: Page) -> None:
    threshold("3650", 200)(page)
    expect(page.locator("#waits-table")).to_have_count(0)
    expect(page.locator("#waits-summary")).to_contain_text("3650 Tagen")


def waits_refused(page: Page) -> None:
    threshold("dreißig", 422)(page)
    expect(page.locator("#tage-error")).to_be_visible()
    expect(page.locator("#tage")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#waits-table tbody tr").first).to_be_visible()


def waits_empty_for_land(page: Page) -> None:
    page.goto(WAITS)
    expect(page.locator("#waits-table")).to_have_count(0)
    expect(page.locator("#waits-summary")).to_contain_text("0 Nachnutzungen")


def dashboard(url: str) -> Callable[[Page], None]:
    def drive(page: Page) -> None:
        page.goto(url)
        expect(page.locator(f"main a[href='{LEAD_TIMES}']")).to_be_visible()
        expect(page.locator(f"main a[href='{WAITS}']")).to_be_visible()

    return drive


@dataclass(frozen=True)
class State:
    drive: Callable[[Page], None]
    user: str
    refused: bool = False
    width: int | None = None


STATES = {
    "fitko-lead-times-all": State(lead_times_all, FITKO),
    "fitko-lead-times-one-listing": State(lead_times_chosen, FITKO),
    "fitko-waits": State(waits_default, FITKO),
    "fitko-waits-none": State(waits_none, FITKO),
    "fitko-waits-refused": State(waits_refused, FITKO, refused=True),
    "fitko-waits-phone": State(waits_default, FITKO, width=375),
    "fitko-dashboard-links": State(dashboard("/fitko"), FITKO),
    "land-lead-times": State(lead_times_all, PROVIDER),
    "land-lead-times-one-listing": State(lead_times_chosen, PROVIDER),
    "land-waits": State(waits_default, PROVIDER),
    "land-waits-refused": State(waits_refused, PROVIDER, refused=True),
    "land-dashboard-links": State(dashboard("/mein-land"), PROVIDER),
    "land-without-reuses-lead-times": State(lead_times_empty, NOBODY),
    "land-without-reuses-waits": State(waits_empty_for_land, NOBODY),
    "land-lead-times-phone": State(lead_times_all, PROVIDER, width=375),
}


@pytest.mark.parametrize("state", list(STATES.values()), ids=list(STATES))
def test_lead_time_page_state_has_no_axe_violations(page, axe_check, logged_in_as, state: State):
    errors = page_errors(page, refused=state.refused)
    if state.width:
        page.set_viewport_size({"width": state.width, "height": 800})
    logged_in_as(state.user)
    state.drive(page)
    axe_check(page)
    assert not errors, "console errors:\n" + "\n".join(errors)
