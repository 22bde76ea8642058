"""Following in real Chromium: zero axe violations (WCAG 2.1 A/AA) on the follows page
(empty, with follows, with a form error) and on the listing page while following and
not following, reached through the real forms (CSRF included).

Each test uses its own demo user, one nobody else in the browser suite follows with,
so the shared live-server database never mixes their states.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import page_errors

pytestmark = pytest.mark.browser

LISTING = "/leistungen/1"  # Aufenthaltstitel, published


def test_anonymous_visitor_sees_the_sign_in_sentence(page, axe_check):
    errors = page_errors(page)
    page.goto(LISTING)
    box = page.locator("section.follow-box")
    expect(box).to_contain_text("Melden Sie sich an, um dieser Leistung zu folgen")
    expect(box.get_by_role("link", name="Anmelden")).to_have_attribute(
        "href", f"/anmelden?next={LISTING}"
    )
    axe_check(page)
    assert errors == []


def test_empty_follows_page_and_listing_not_followed(page, axe_check, logged_in_as):
    logged_in_as("viewer-rp@demo.test")
    errors = page_errors(page)
    page.goto("/konto/folgen")
    expect(page.locator("main")).to_contain_text("Sie folgen noch keiner Leistung und keinem Land.")
    axe_check(page)
    page.goto(LISTING)
    box = page.locator("section.follow-box")
    expect(box.get_by_label("im FIT-Store (Benachrichtigungen)")).to_be_checked()
    expect(box.get_by_label("per E-Mail")).not_to_be_checked()
    expect(box.get_by_role("button", name="Folgen", exact=True)).to_be_visible()
    axe_check(page)
    assert errors == []


def test_follow_change_error_and_unfollow(page, axe_check, logged_in_as):
    logged_in_as("viewer-sl@demo.test")
    errors = page_errors(page, refused=True)
    page.goto(LISTING)
    box = page.locator("section.follow-box")
    box.get_by_label("per E-Mail").check()
    with page.expect_navigation():
        box.get_by_role("button", name="Folgen", exact=True).click()
    assert page.url.endswith(LISTING)
    expect(box).to_contain_text("Sie folgen dieser Leistung (im FIT-Store und per E-Mail).")
    axe_check(page)  # following, the change form folded
    box.locator("summary").click()
    expect(box.get_by_role("button", name="Wege speichern")).to_be_visible()
    axe_check(page)  # following, the change form open

    # A Land from the follows page, then the page with follows.
    page.goto("/konto/folgen")
    page.get_by_label("Land", exact=True).select_option(label="Saarland")
    with page.expect_navigation():
        page.get_by_role("button", name="Land folgen").click()
    items = page.locator(".follow-item")
    expect(items).to_have_count(2)
    expect(page.locator("main")).to_contain_text("Sie folgen jetzt „Saarland“.")
    axe_check(page)

    # Nothing chosen: refused, the reason on the fieldset.
    first = items.first
    first.locator("summary").click()
    first.get_by_label("im FIT-Store (Benachrichtigungen)").uncheck()
    first.get_by_label("per E-Mail").uncheck()
    with page.expect_navigation():
        first.get_by_role("button", name="Wege speichern").click()
    error = page.locator("#follow-retry-error")
    expect(error).to_contain_text("Bitte wählen Sie mindestens einen Weg")
    expect(page.locator("#follow-retry-channels")).to_have_attribute(
        "aria-describedby", "follow-retry-hint follow-retry-error"
    )
    axe_check(page)

    # Unfollow from the listing page: back to the form to follow.
    page.goto(LISTING)
    with page.expect_navigation():
        box.get_by_role("button", name="Nicht mehr folgen").click()
    expect(page.locator("main")).to_contain_text("Sie folgen „Aufenthaltstitel“ nicht mehr.")
    expect(box.get_by_role("button", name="Folgen", exact=True)).to_be_visible()
    expect(box.get_by_role("button", name="Nicht mehr folgen")).to_have_count(0)
    axe_check(page)
    assert errors == []
