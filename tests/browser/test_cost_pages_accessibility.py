"""Cost pages in real Chromium: zero axe violations (WCAG 2.1 A/AA) for the split of a
year (the worked example, and a year whose split cannot be computed), the cost plan with
a refused amount, and the what-if simulator before and after its script recomputed the
result in place.

The worked example of domain.md is put into the live server's database through the
services (``tests.factories.worked_example``) before the first page opens, with a cost
plan and a Königsteiner decision for 2031, a year without key data. The refused form
changes nothing and the simulator never writes, so the cases do not depend on order.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from fitstore import create_app
from fitstore.extensions import db
from fitstore.services import alliances, cost_sharing
from tests.browser.conftest import page_errors
from tests.conftest import BASE_CONFIG
from tests.factories import (
    WORKED_EXAMPLE_FULL_YEAR,
    WORKED_EXAMPLE_YEAR,
    user_by_email,
    worked_example,
)

pytestmark = pytest.mark.browser

YEAR = WORKED_EXAMPLE_YEAR
NO_KEY_DATA_YEAR = 2031


@pytest.fixture(scope="module")
def listing_id(browser_database, live_server) -> int:
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{browser_database}"})
    with app.app_context():
        listing_id = worked_example(title="Kostenprobe Seeadler")
        bb = user_by_email("editor-bb@demo.test")
        alliances.propose_cost_key(
            bb, listing_id, NO_KEY_DATA_YEAR, "koenigstein", "participants", {}, ""
        )
        cost_sharing.add_plan_item(bb, listing_id, NO_KEY_DATA_YEAR, "direct", 500_000, "")
        db.session.remove()
        db.engine.dispose()
    return listing_id


def euro(cents: int) -> str:
    """14679636 -> "146.796,36" (the page adds a non-breaking space and the sign)."""
    return f"{cents / 100:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def amount_of(page: Page, payer: str, column: int = -1) -> str:
    row = page.locator(f"#simulation-caption-table tr[data-payer='{payer}']")
    return row.locator("td").nth(column).inner_text()


def split_page(page: Page, listing_id: int) -> None:
    page.goto(f"/leistungen/{listing_id}/kosten/{YEAR}")
    for payer, cents in WORKED_EXAMPLE_FULL_YEAR.items():
        expect(page.locator(f"#split-caption-table tr[data-payer='{payer}']")).to_contain_text(
            euro(cents)
        )
    expect(page.locator("#rechenweg")).to_be_visible()
    expect(page.locator("svg[role=img]")).to_be_visible()


def split_problem(page: Page, listing_id: int) -> None:
    page.goto(f"/leistungen/{listing_id}/kosten/{NO_KEY_DATA_YEAR}")
    expect(page.get_by_role("alert")).to_contain_text("keine Schlüsseldaten")
    expect(page.locator("#split-caption-table")).to_have_count(0)


def plan_refused(page: Page, listing_id: int) -> None:
    page.goto(f"/leistungen/{listing_id}/kosten/{YEAR}/plan")
    page.locator("#amount").fill("zwölf Euro")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name=f"Zum Kostenplan {YEAR} hinzufügen").click()
    assert navigation.value.status == 422
    expect(page.locator("#amount-error")).to_be_visible()


def simulator(page: Page, listing_id: int) -> None:
    page.goto(f"/leistungen/{listing_id}/kosten/{YEAR}/simulation")
    expect(page.locator("#simulation-result")).to_contain_text(euro(WORKED_EXAMPLE_FULL_YEAR["12"]))


def simulator_updated(page: Page, listing_id: int) -> None:
    page.goto(f"/leistungen/{listing_id}/kosten/{YEAR}/simulation")
    before = amount_of(page, "12", 3)  # Brandenburg, "Betrag (Simulation)"
    assert euro(WORKED_EXAMPLE_FULL_YEAR["12"]) in before
    # A page reload would lose this marker: the result must come without one.
    page.evaluate("window.costSimulationMarker = 'still here'")
    page.locator("#land-13").check()
    page.locator("#ab_13").focus()
    with page.expect_response(re.compile(r"/simulation/ergebnis\?.*ab_13=4")) as answer:
        page.locator("#ab_13").select_option("4")
    assert answer.value.status == 200
    mv = page.locator("#simulation-caption-table tr[data-payer='13']")
    expect(mv.locator("td").nth(1)).to_have_text("9")  # months from April
    expect(page.locator("#simulation-result")).not_to_have_attribute("aria-busy", "true")
    after = amount_of(page, "12", 3)
    assert after != before
    assert amount_of(page, "12", 5).startswith("−")  # Brandenburg pays less than today
    assert page.evaluate("window.costSimulationMarker") == "still here"
    assert page.evaluate("document.activeElement.id") == "ab_13"
    assert "ab_13=4" in page.url  # the address shows the simulated situation


STATES = {
    "split (worked example)": ("fitko-1@demo.test", split_page, False),
    "split with a problem (admin)": ("admin@demo.test", split_problem, False),
    "plan with a refused amount": ("editor-bb@demo.test", plan_refused, True),
    "simulator": ("editor-he@demo.test", simulator, False),
    "simulator after the script's update": ("editor-bb@demo.test", simulator_updated, False),
}


@pytest.mark.parametrize("state", list(STATES.values()), ids=list(STATES))
def test_cost_page_state_has_no_axe_violations(page, axe_check, logged_in_as, listing_id, state):
    user, drive, refused = state
    errors = page_errors(page, refused=refused)
    logged_in_as(user)
    drive(page, listing_id)
    axe_check(page)
    assert not errors, "console errors:\n" + "\n".join(errors)
