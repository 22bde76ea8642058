"""What keyboard and browser users depend on, checked in real Chromium with CSRF on."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import login

pytestmark = pytest.mark.browser

EDITOR = "editor-bb@demo.test"
MAX_TABS = 80  # more than every focusable element before the map and in it


def is_focused(page: Page, selector: str) -> bool:
    return page.locator(selector).evaluate("element => element === document.activeElement")


@pytest.mark.parametrize("path", ["/", "/laender/12", "/anmelden"])
def test_first_tab_focuses_the_skip_link_which_moves_focus_to_main(page, path):
    page.goto(path)
    page.keyboard.press("Tab")
    skip_link = page.locator("a.skip-link")
    expect(skip_link).to_be_focused()
    # Hidden off-screen until focused; a sighted keyboard user must see it now.
    box = skip_link.bounding_box()
    assert box is not None and box["y"] >= 0 and box["height"] > 0, box
    expect(skip_link).to_have_text("Zum Inhalt springen")

    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()
    # The next Tab continues inside main, past the header navigation.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('main') !== null"), page.evaluate(
        "document.activeElement.outerHTML"
    )


def test_a_land_on_the_map_is_reachable_by_keyboard_and_enter_opens_it(page):
    page.goto("/")
    target = "svg.map a[aria-label='Brandenburg']"
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if is_focused(page, target):
            break
    else:
        pytest.fail(f"Brandenburg on the map was not reached within {MAX_TABS} Tab presses")

    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/laender/12$"))
    expect(page.locator("h1")).to_have_text("Brandenburg")


def test_login_and_logout_work_with_csrf(page):
    login(page, EDITOR)
    expect(page.locator("main .kern-alert--success")).to_contain_text("Sie sind angemeldet.")
    expect(page.locator("header nav")).to_contain_text("Mein Konto")
    page.goto("/konto")
    expect(page.locator("main")).to_contain_text(EDITOR)

    with page.expect_navigation():
        page.locator("header form[action='/abmelden'] button").click()
    expect(page.locator("main .kern-alert--success")).to_contain_text("Sie sind abgemeldet.")
    expect(page.locator("header nav a[href='/anmelden']")).to_be_visible()
    # The session is really gone: the account page asks for a login again.
    page.goto("/konto")
    expect(page).to_have_url(re.compile(r"/anmelden\?next=(/|%2F)konto$"))


def test_a_login_without_csrf_token_is_rejected(page, axe_check):
    page.goto("/anmelden")
    # What a forged cross-site form would send: the right fields, but no token.
    page.locator("main form input[name=csrf_token]").evaluate("element => element.remove()")
    page.locator("main form input[name=email]").fill(EDITOR)
    page.locator("main form input[name=password]").fill("fitstore-demo")
    with page.expect_navigation() as navigation:
        page.locator("main form button[type=submit]").click()
    assert navigation.value.status == 400
    expect(page.locator("main")).to_contain_text("Das Formular ist abgelaufen oder unvollständig")
    expect(page.locator("header form[action='/abmelden']")).to_have_count(0)
    # The error page a user with an expired form lands on is a page state too.
    axe_check(page)


def test_language_switch_changes_html_lang_and_back(page):
    page.goto("/laender/12?q=pots")
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "de")
    switch = page.locator("header form.lang-switch button")
    expect(switch).to_have_text("English")
    expect(switch).to_have_attribute("lang", "en")

    with page.expect_navigation():
        switch.click()
    expect(html).to_have_attribute("lang", "en")
    # The switch returns to the same page, search included.
    expect(page).to_have_url(re.compile(r"/laender/12\?q=pots$"))
    expect(page.locator("a.skip-link")).to_have_text("Skip to content")
    expect(switch).to_have_text("Deutsch")
    expect(switch).to_have_attribute("lang", "de")
    # The choice is kept in the session, not only for one response.
    page.goto("/impressum")
    expect(html).to_have_attribute("lang", "en")

    with page.expect_navigation():
        switch.click()
    expect(html).to_have_attribute("lang", "de")
    expect(page).to_have_url(re.compile(r"/impressum$"))
    expect(page.locator("a.skip-link")).to_have_text("Zum Inhalt springen")
