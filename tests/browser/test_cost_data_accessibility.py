"""Cost data pages in real Chromium: zero axe violations (WCAG 2.1 A/AA) for the key data
page (filled, upload refused) and the usage page (each side, entry and import refused).

A fresh Brandenburg listing that Bayern reuses under a contract is put into the live
server's database through the services before the first page opens, with the usage
figure of Bayern. The refused forms change nothing, so the cases do not depend on order.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from fitstore import create_app
from fitstore.extensions import db
from fitstore.models import Reuse, User
from fitstore.models.base import utcnow
from fitstore.services import cost_data, listings, reuses
from tests.browser.conftest import page_errors
from tests.conftest import BASE_CONFIG
from tests.factories import listing_content

pytestmark = pytest.mark.browser

YEAR = utcnow().year - 1


@pytest.fixture(scope="module")
def listing_id(browser_database, live_server) -> int:
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{browser_database}"})
    with app.app_context():
        users = {user.email: user for user in db.session.scalars(select(User))}
        bb, by = users["editor-bb@demo.test"], users["editor-by@demo.test"]
        fitko_1, fitko_2 = users["fitko-1@demo.test"], users["fitko-2@demo.test"]
        listing = listings.create_listing(
            bb, listing_content(title="Nutzungsprobe Kranich", ozg_id="98199")
        )
        listings.submit_listing(bb, listing.id)
        listings.publish_listing(fitko_1, listing.id)
        reuse = reuses.express_interest(
            by, listing.id, {"planned_start": "2026-01-01", "expected_usage": 10, "note": ""}
        )
        reuses.transition(bb, reuse.id, "start_coordination")
        reuses.propose_conditions(
            bb,
            reuse.id,
            {
                "condition_model": "annual_fee",
                "annual_fee_cents": 100_000,
                "connection_cost_cents": 0,
                "scope": "Betrieb",
                "conditions_start": "2025-01-01",
            },
        )
        reuses.transition(by, reuse.id, "order")
        contract_id = db.session.get(Reuse, reuse.id).contract.id
        reuses.check_contract(
            fitko_1, contract_id, {"eligibility_basis": "traeger", "legal_basis": "§ 108 GWB"}
        )
        reuses.countersign_contract(fitko_2, contract_id, {"effective_date": utcnow().date()})
        cost_data.record_usage(by, listing.id, YEAR, 48213)
        listing_id = listing.id
        db.session.remove()
        db.engine.dispose()
    return listing_id


def upload(page: Page, form: str, content: bytes, button: str, shows: str) -> None:
    target = page.locator(form)
    target.locator("input[type=file]").set_input_files(
        {"name": "daten.csv", "mimeType": "text/csv", "buffer": content}
    )
    with page.expect_navigation() as navigation:
        target.get_by_role("button", name=button, exact=True).click()
    assert navigation.value.status == 422
    expect(page.locator(shows).first).to_be_visible()


def key_page(page: Page, _listing_id: int) -> None:
    page.goto("/verwaltung/schluesseldaten")
    expect(page.locator("caption").first).to_contain_text("Königsteiner Schlüssel")


def key_upload_refused(page: Page, _listing_id: int) -> None:
    page.goto("/verwaltung/schluesseldaten")
    page.locator("#year").fill("2024")
    upload(
        page,
        "main form[enctype]",
        b"land;value\nBB;drei\nHH;-1\n",
        "Hochladen und prüfen",
        "#file-error li",
    )


def usage_page(page: Page, listing_id: int) -> None:
    page.goto(f"/leistungen/{listing_id}/nutzung?jahr={YEAR}")
    expect(page.locator("#figures-caption")).to_be_visible()


def usage_entry_refused(page: Page, listing_id: int) -> None:
    page.goto(f"/leistungen/{listing_id}/nutzung?jahr={YEAR}")
    page.locator("#cases").fill("zwölf")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name=f"Für {YEAR} speichern").click()
    assert navigation.value.status == 422
    expect(page.locator("#cases-error")).to_be_visible()


def usage_import_refused(page: Page, listing_id: int) -> None:
    page.goto(f"/leistungen/{listing_id}/nutzung?jahr={YEAR}")
    upload(page, "main form[enctype]", b"land;cases\nBY;1\nXX;-2\n", "Importieren", "#file-error")


STATES = {
    "key data (admin)": ("admin@demo.test", key_page, False),
    "key data upload refused": ("admin@demo.test", key_upload_refused, True),
    "usage (adopter, entry form)": ("editor-by@demo.test", usage_page, False),
    "usage entry refused": ("editor-by@demo.test", usage_entry_refused, True),
    "usage (FITKO, import form)": ("fitko-1@demo.test", usage_page, False),
    "usage import refused": ("fitko-1@demo.test", usage_import_refused, True),
    "usage (uninvolved Land)": ("editor-nw@demo.test", usage_page, False),
}


@pytest.mark.parametrize("state", list(STATES.values()), ids=list(STATES))
def test_cost_data_page_state_has_no_axe_violations(
    page, axe_check, logged_in_as, listing_id, state
):
    user, drive, refused = state
    errors = page_errors(page, refused=refused)
    logged_in_as(user)
    drive(page, listing_id)
    axe_check(page)
    assert not errors, "console errors:\n" + "\n".join(errors)
