"""Every page state has zero axe-core violations for WCAG 2.1 A/AA (BITV 2.0).

Each case drives a fresh browser context into one state (who is logged in,
which language, which page, which form submitted how) and asserts first that
the state was really reached, then that axe finds nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

EDITOR = "editor-bb@demo.test"
ADMIN = "admin@demo.test"
FITKO = "fitko-1@demo.test"

Drive = Callable[[Page], None]


@dataclass(frozen=True)
class State:
    drive: Drive
    user: str | None = None
    lang: str = "de"
    # A phone-sized viewport (CSS px); None keeps the desktop default.
    width: int | None = None


def visit(path: str, status: int = 200, ready: str | None = None) -> Drive:
    def drive(page: Page) -> None:
        response = page.goto(path)
        assert response is not None and response.status == status, (
            f"GET {path}: expected {status}, got {response and response.status}"
        )
        if ready:
            expect(page.locator(ready).first).to_be_visible()

    return drive


def submit(path: str, form: str, values: dict[str, str], shows: str, status: int) -> Drive:
    """Open ``path``, fill ``form`` with ``values``, send it and check what comes back."""

    def drive(page: Page) -> None:
        page.goto(path)
        target = page.locator(form)
        for name, value in values.items():
            target.locator(f"[name='{name}']").fill(value)
        with page.expect_navigation() as navigation:
            target.locator("button[type=submit]").click()
        response = navigation.value
        # A redirect (post/redirect/get) lands on the page that the final response shows.
        assert response is not None and response.status == status, (
            f"POST {form} on {path}: expected {status}, got {response and response.status}"
        )
        expect(page.locator(shows).first).to_be_visible()

    return drive


def click_first(path: str, link: str, shows: str) -> Drive:
    def drive(page: Page) -> None:
        page.goto(path)
        with page.expect_navigation():
            page.locator(link).first.click()
        expect(page.locator(shows).first).to_be_visible()

    return drive


def then(*drives: Drive) -> Drive:
    def drive(page: Page) -> None:
        for step in drives:
            step(page)

    return drive


LAENDER_OPERATION = "#operations-api_reference-get_api_v1_laender"


def expand_operation(page: Page) -> None:
    page.locator(f"{LAENDER_OPERATION} .opblock-summary-control").click()
    expect(page.locator(f"{LAENDER_OPERATION} .opblock-body")).to_be_visible()


def try_it_out(page: Page) -> None:
    """Send a real request from the docs page, so the response panel is shown."""
    expand_operation(page)
    page.locator(f"{LAENDER_OPERATION} .try-out__btn").click()
    page.locator(f"{LAENDER_OPERATION} .btn.execute").click()
    expect(page.locator(f"{LAENDER_OPERATION} .live-responses-table")).to_be_visible()


def open_authorize_dialog(page: Page) -> None:
    page.locator("#swagger-ui .btn.authorize").click()
    expect(page.locator("#swagger-ui .modal-ux")).to_be_visible()


def expand_schema(page: Page) -> None:
    page.locator("#swagger-ui .models .json-schema-2020-12-accordion").first.click()
    expect(page.locator("#swagger-ui .models .json-schema-2020-12-body").first).to_be_visible()


ERRORS = "#error-summary-title"
FEEDBACK_FORM = "main form[action='/barrierefreiheit']"
LOGIN_FORM = "main form[action='/anmelden']"
FEEDBACK = {"message": "Die Karte lässt sich mit der Bildschirmlupe schwer bedienen."}
# Swagger UI renders after fetching the spec; its operations mark the end.
API_DOCS = visit("/api/v1/docs", ready="#swagger-ui .opblock")

# Pages anybody can open; checked logged out and logged in (the header differs).
PUBLIC = {
    "home": visit("/", ready="svg.map"),
    "land": visit("/laender/12", ready="#authorities-caption"),
    "land-search": visit("/laender/12?q=pots", ready="#authorities-caption"),
    "accessibility": visit("/barrierefreiheit"),
    "feedback-empty": submit("/barrierefreiheit", FEEDBACK_FORM, {}, ERRORS, 422),
    "imprint": visit("/impressum"),
    "privacy": visit("/datenschutz"),
    "api-docs": API_DOCS,
    "not-found": visit("/gibt-es-nicht", status=404),
}

LOGGED_OUT = {
    # Same body logged in; checked once, also to stay far below the feedback rate limit.
    "land-search-empty": visit("/laender/12?q=xyzzy-gibt-es-nicht", ready="main p[role=status]"),
    "feedback-sent": submit(
        "/barrierefreiheit", FEEDBACK_FORM, FEEDBACK, ".kern-alert--success", 200
    ),
    # The interactive states of Swagger UI look the same for everybody; checked once.
    "api-docs-operation": then(API_DOCS, expand_operation),
    "api-docs-try-it-out": then(API_DOCS, try_it_out),
    "api-docs-authorize": then(API_DOCS, open_authorize_dialog),
    "api-docs-schema": then(API_DOCS, expand_schema),
    "login": visit("/anmelden"),
    "login-wrong-password": submit(
        "/anmelden",
        LOGIN_FORM,
        # An unknown account, so the per-account rate limit of real users stays untouched.
        {"email": "niemand@demo.test", "password": "falsches-passwort"},
        ".kern-alert--danger",
        401,
    ),
    "login-empty": submit("/anmelden", LOGIN_FORM, {}, ERRORS, 422),
    "login-required-redirect": visit("/konto", ready=".kern-alert--info"),
}

TOKEN_FORM = "main form[action='/konto/tokens']"
PASSWORD_FORM = "main form[action='/konto/passwort']"

EDITOR_PAGES = {
    "account": visit("/konto"),
    "account-token-created": submit(
        "/konto", TOKEN_FORM, {"token-name": "Fachverfahren"}, "#new-token", 201
    ),
    "account-password-empty": submit("/konto", PASSWORD_FORM, {}, ERRORS, 422),
    "account-password-wrong": submit(
        "/konto",
        PASSWORD_FORM,
        {"pw-current_password": "nicht-das-passwort", "pw-new_password": "ein ganz neues Passwort"},
        ".kern-alert--danger",
        422,
    ),
    "audit": visit("/protokoll", ready="#audit-caption"),
    "audit-event": click_first("/protokoll", "main table a", "main dl"),
    "users": visit("/verwaltung/benutzer", ready="#users-caption"),
    "user": click_first("/verwaltung/benutzer", "main table a", "main dl"),
    "forbidden": visit("/verwaltung/organisationen", status=403),
}

ORGANISATION_FORM = "main form[action='/verwaltung/organisationen/neu']"
USER_FORM = "main form[action='/verwaltung/benutzer/neu']"

ADMIN_PAGES = {
    "organisations": visit("/verwaltung/organisationen", ready="#orgs-caption"),
    "organisation-new": visit("/verwaltung/organisationen/neu"),
    "organisation-new-errors": submit(
        "/verwaltung/organisationen/neu", ORGANISATION_FORM, {}, ERRORS, 422
    ),
    "users": visit("/verwaltung/benutzer", ready="#users-caption"),
    # An admin sees the deactivate button on another user's page.
    "user": click_first("/verwaltung/benutzer?q=editor-bb", "main table a", "main form button"),
    "user-new": visit("/verwaltung/benutzer/neu"),
    "user-new-errors": submit(
        "/verwaltung/benutzer/neu", USER_FORM, {"email": "keine-adresse"}, ERRORS, 422
    ),
    # Sent first so the list shows a table, the state worth checking.
    "feedback-list": then(
        submit("/barrierefreiheit", FEEDBACK_FORM, FEEDBACK, ".kern-alert--success", 200),
        visit("/verwaltung/rueckmeldungen", ready="#feedback-caption"),
    ),
}

FITKO_PAGES = {
    "audit": visit("/protokoll", ready="#audit-caption"),
    "users": visit("/verwaltung/benutzer", ready="#users-caption"),
}

# English: the language switch is part of the header, so every English state
# also proves the other layout strings render; a sample of pages is enough.
ENGLISH = {
    "home": State(PUBLIC["home"], lang="en"),
    "land-search": State(PUBLIC["land-search"], lang="en"),
    "login": State(LOGGED_OUT["login"], lang="en"),
    "login-empty": State(LOGGED_OUT["login-empty"], lang="en"),
    "feedback-empty": State(PUBLIC["feedback-empty"], lang="en"),
    "account": State(EDITOR_PAGES["account"], user=EDITOR, lang="en"),
    "admin-user-new-errors": State(ADMIN_PAGES["user-new-errors"], user=ADMIN, lang="en"),
}


# Narrow screens: tables and header wrap or scroll differently there (reflow).
PHONE = 375
MOBILE = {
    "home": State(PUBLIC["home"], width=PHONE),
    "land": State(PUBLIC["land"], width=PHONE),
    "login-empty": State(LOGGED_OUT["login-empty"], width=PHONE),
    "api-docs-operation": State(LOGGED_OUT["api-docs-operation"], width=PHONE),
    "admin-organisations": State(ADMIN_PAGES["organisations"], user=ADMIN, width=PHONE),
    "editor-audit": State(EDITOR_PAGES["audit"], user=EDITOR, width=PHONE),
}


def _cases():
    groups = [
        ("anonymous", None, PUBLIC),
        ("anonymous", None, LOGGED_OUT),
        ("editor", EDITOR, PUBLIC),
        ("editor", EDITOR, EDITOR_PAGES),
        ("admin", ADMIN, ADMIN_PAGES),
        ("fitko", FITKO, FITKO_PAGES),
    ]
    for prefix, user, pages in groups:
        for name, drive in pages.items():
            yield pytest.param(State(drive, user=user), id=f"{prefix}-{name}")
    for name, state in ENGLISH.items():
        yield pytest.param(state, id=f"en-{name}")
    for name, state in MOBILE.items():
        yield pytest.param(state, id=f"phone-{name}")


def switch_to_english(page: Page) -> None:
    page.goto("/")
    with page.expect_navigation():
        page.locator("header form.lang-switch button").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")


@pytest.mark.parametrize("state", list(_cases()))
def test_page_state_has_no_axe_violations(
    page, console_errors, axe_check, logged_in_as, state: State
):
    if state.width:
        page.set_viewport_size({"width": state.width, "height": 800})
    if state.user:
        logged_in_as(state.user)
    if state.lang == "en":
        switch_to_english(page)
    state.drive(page)
    expect(page.locator("html")).to_have_attribute("lang", state.lang)
    axe_check(page)
    # The CSP forbids inline scripts and styles; a template that uses them shows up here.
    csp = [error for error in console_errors if re.search("Content Security Policy", error, re.I)]
    assert not csp, "CSP violations:\n" + "\n".join(csp)


def test_axe_check_reports_each_violation_with_its_help_and_targets(page, axe_check):
    # Guards against a vacuous check (e.g. axe not running): a known defect must fail it.
    page.goto("/impressum")
    page.locator("main h1").evaluate(
        "h1 => h1.insertAdjacentHTML('afterend', '<img id=\"no-alt\" src=\"/static/none.png\">')"
    )
    with pytest.raises(AssertionError) as failure:
        axe_check(page)
    message = str(failure.value)
    assert "image-alt" in message
    assert "Images must have alternative text" in message
    assert "#no-alt" in message
