"""Browser harness: the real app behind a real HTTP server, driven by headless Chromium.

One live server and one Chromium serve the whole session (starting them is
the slow part); every test gets its own browser context, so cookies and the
session never leak from one test into the next.

Browser tests always run against SQLite, even when FITSTORE_TEST_DATABASE_URL
points at PostgreSQL: the live server runs in another thread, so the
per-test rollback trick of the PostgreSQL harness cannot apply to it.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright
from werkzeug.serving import make_server

from fitstore import create_app
from fitstore.extensions import db
from tests.conftest import BASE_CONFIG, DEMO_PASSWORD, PG_URL, build_template

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# BITV 2.0 = EN 301 549 = WCAG 2.1 AA; all four tags in one run (docs/quality.md).
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": WCAG_TAGS},
    # Only violations are asserted on; skipping passes/incomplete keeps each run fast.
    "resultTypes": ["violations"],
}
# Generous enough for a cold first page, short enough that a hang fails quickly.
TIMEOUT_MS = 10_000


@pytest.fixture(scope="session")
def browser_database(request, tmp_path_factory) -> Path:
    """A private SQLite copy of the template (migrations, reference data, demo users)."""
    target = tmp_path_factory.mktemp("browser") / "fitstore.sqlite"
    if PG_URL:
        # The shared template lives in PostgreSQL then; build an SQLite one of our own.
        build_template(f"sqlite:///{target}")
    else:
        shutil.copyfile(request.getfixturevalue("database_template"), target)
    return target


@pytest.fixture(scope="session")
def live_server(browser_database) -> Iterator[str]:
    app = create_app(
        {
            **BASE_CONFIG,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{browser_database}",
            # The browser must go through the same CSRF protection as a real user.
            "WTF_CSRF_ENABLED": True,
        }
    )
    # One access-log line per request would bury the axe report of a failing test.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    # A missing Chromium is a broken test environment, not a reason to skip.
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}; the browser tests need it")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def console_errors() -> list[str]:
    """Console errors and uncaught exceptions of the test's page (CSP reports land here)."""
    return []


@pytest.fixture
def page(browser, live_server, console_errors) -> Iterator[Page]:
    context = browser.new_context(
        base_url=live_server,
        viewport={"width": 1280, "height": 900},
        # German first, as for most users; English is reached through the switch.
        locale="de-DE",
        extra_http_headers={"Accept-Language": "de-DE,de;q=0.9"},
    )
    context.set_default_timeout(TIMEOUT_MS)
    new_page = context.new_page()

    def record(message: ConsoleMessage) -> None:
        if message.type == "error":
            console_errors.append(message.text)

    new_page.on("console", record)
    new_page.on("pageerror", lambda error: console_errors.append(str(error)))
    try:
        yield new_page
    finally:
        context.close()


# A refused form answers 4xx, which Chromium logs as an error; Chromium also asks for a
# favicon on its own. Neither is the page's fault.
REFUSED_RESPONSE = re.compile(
    r"Failed to load resource: the server responded with a status of 4\d\d"
)


def page_errors(page: Page, *, refused: bool = False) -> list[str]:
    """Collect the page's console errors and uncaught exceptions from now on (CSP reports
    of inline scripts or styles land here too). With ``refused`` the state under test
    answers a form with 4xx on purpose, so that console line is expected."""
    errors: list[str] = []

    def record(message: ConsoleMessage) -> None:
        if message.type != "error" or message.location.get("url", "").endswith("/favicon.ico"):
            return
        if not (refused and REFUSED_RESPONSE.search(message.text)):
            errors.append(message.text)

    page.on("console", record)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def login(page: Page, email: str, password: str = DEMO_PASSWORD) -> None:
    """Log in through the real form (CSRF token included) and wait for the redirect."""
    page.goto("/anmelden")
    form = page.locator("main form")
    form.locator("input[name=email]").fill(email)
    form.locator("input[name=password]").fill(password)
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert page.locator("header form[action='/abmelden']").count() == 1, (
        f"login of {email} failed; the page shows: {page.locator('main').inner_text()[:300]}"
    )


@pytest.fixture(scope="session")
def session_cookies(browser, live_server):
    """One real form login per demo user for the whole session, its cookies cached.

    Logging in through the form for each of dozens of page checks would double
    the run time. Tests that log out or change a password must use ``login``
    instead, because that ends the server-side session these cookies point to.
    """
    cache: dict[str, list] = {}

    def cookies_for(email: str) -> list:
        if email not in cache:
            context = browser.new_context(base_url=live_server)
            context.set_default_timeout(TIMEOUT_MS)
            try:
                login(context.new_page(), email)
                cache[email] = context.cookies()
            finally:
                context.close()
        return cache[email]

    return cookies_for


@pytest.fixture
def logged_in_as(page, session_cookies):
    """Put ``page`` into a logged-in session of ``email`` (shared with other tests)."""

    def enter(email: str) -> Page:
        page.context.add_cookies(session_cookies(email))
        return page

    return enter


def format_violations(violations: list[dict]) -> str:
    lines = [f"{len(violations)} axe violation(s):"]
    for violation in violations:
        lines.append(
            f"- {violation['id']} ({violation.get('impact')}): {violation['help']}"
            f" [{violation.get('helpUrl', '')}]"
        )
        for node in violation["nodes"]:
            target = " ".join(str(part) for part in node["target"])
            lines.append(f"    at {target}")
            summary = node.get("failureSummary")
            if summary:
                lines.append("      " + summary.replace("\n", "\n      "))
    return "\n".join(lines)


def assert_no_axe_violations(page: Page) -> None:
    """Run axe-core on the page as it is now and fail with an actionable report."""
    results = Axe().run(page, options=AXE_OPTIONS)
    violations = results.response["violations"]
    assert not violations, f"{page.url}\n{format_violations(violations)}"


@pytest.fixture
def axe_check():
    return assert_no_axe_violations
