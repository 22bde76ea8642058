"""Reuse pages in real Chromium: zero axe violations (WCAG 2.1 A/AA) in every state of
the reuse issue, for the side (adopter, provider, FITKO, outsider) that sees it.

The reuses are put into the live server's database through the services, by a second
app bound to the same SQLite file, before the first page is opened: fresh published
Brandenburg listings that Bayern reuses, one per stage of the main line, with rollouts,
an alliance with a member, a pending request and an open cost-key vote, and one more
listing nobody reuses yet (for the interest form). Each case then drives a fresh browser context into
one state, asserts that the state was really reached, and runs axe on it. Apart from the
forms sent with mistakes (which change nothing), the cases only read, so their order
does not matter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from fitstore import create_app
from fitstore.extensions import db
from fitstore.models import User
from fitstore.models.base import utcnow
from fitstore.services import alliances, listings, reuses
from tests.browser.conftest import page_errors
from tests.conftest import BASE_CONFIG
from tests.factories import listing_content

pytestmark = pytest.mark.browser

EDITOR_BB = "editor-bb@demo.test"  # the provider Land, lead of the alliance
EDITOR_BY = "editor-by@demo.test"
VIEWER_BY = "viewer-by@demo.test"
FITKO_1 = "fitko-1@demo.test"
FITKO_2 = "fitko-2@demo.test"
OUTSIDER = "editor-nw@demo.test"  # no reuse of the main listing, not in its alliance
# Only this module's listings carry the word; neither the demo data nor the other
# browser modules use it.
WORD = "Barrierenprobe"

# Steps of the main line, in order; a reuse of the fixture is taken up to one of them.
STEPS = (
    "interest",
    "coordination",
    "conditions",
    "ordered",
    "checked",
    "contracted",
    "connecting",
    "testing",
    "live",
)
# Bayern reuses one Brandenburg listing per stage; the listing of "connecting" is the
# main one (with the alliance). Every adopter state is Bayern's: fewer logins, same pages.
STAGES = ("interest", "coordination", "conditions", "ordered", "checked", "contracted")
MAIN = "connecting"
LIVE = "live"
# Bavarian authorities: Gemeinden Ingolstadt and München, the whole kreisfreie Stadt
# Rosenheim (Kreis and its Gemeinde).
MAIN_AUTHORITIES = ["09161000", "09162000", "09163", "09163000"]
LIVE_AUTHORITIES = ["09163", "09163000"]


def _reuse_up_to(users: dict[str, User], listing_id: int, last: str) -> int:
    """Bayern's reuse of ``listing_id``, taken through the services up to the step
    ``last`` (each step by the side whose turn it is)."""
    adopter, provider = users[EDITOR_BY], users[EDITOR_BB]
    fitko_1, fitko_2 = users[FITKO_1], users[FITKO_2]
    today = utcnow().date()
    reuse_id = reuses.express_interest(
        adopter,
        listing_id,
        {"planned_start": today.isoformat(), "expected_usage": 12_000, "note": "Start im Herbst."},
    ).id

    def step(name: str) -> None:
        if name == "coordination":
            reuses.transition(provider, reuse_id, "start_coordination", "Gern, sprechen wir.")
        elif name == "conditions":
            reuses.propose_conditions(
                provider,
                reuse_id,
                {
                    "condition_model": "annual_fee",
                    "annual_fee_cents": 5_000_000,
                    "connection_cost_cents": 2_500_000,
                    "scope": "Betrieb, Support und Updates durch den ZIT-BB.",
                    "conditions_start": today.isoformat(),
                },
            )
        elif name == "ordered":
            reuses.transition(adopter, reuse_id, "order", "Verbindlich bestellt.")
        elif name == "checked":
            contract_id = reuses.get_reuse(adopter, reuse_id).contract.id
            reuses.check_contract(
                fitko_1,
                contract_id,
                {"eligibility_basis": "traeger", "legal_basis": reuses.DEFAULT_LEGAL_BASIS},
            )
        elif name == "contracted":
            contract_id = reuses.get_reuse(adopter, reuse_id).contract.id
            reuses.countersign_contract(fitko_2, contract_id, {"effective_date": today})
        elif name == "connecting":
            reuses.transition(adopter, reuse_id, "start_connecting")
            # One item done, the rest open: both looks of the checklist on one page.
            reuses.update_onboarding_item(adopter, reuse_id, "transport", True, None, "ZP-4711")
        elif name == "testing":
            reuse = reuses.get_reuse(adopter, reuse_id)
            for item in reuse.onboarding_items:
                reuses.update_onboarding_item(adopter, reuse_id, item.key, True)
            reuses.transition(adopter, reuse_id, "start_testing")
        elif name == "live":
            reuses.transition(adopter, reuse_id, "go_live", "Seit heute produktiv.")

    for name in STEPS[1 : STEPS.index(last) + 1]:
        step(name)
    return reuse_id


@pytest.fixture(scope="module")
def reuse_ids(browser_database, live_server) -> dict[str, int]:
    """Reuse ids by stage ("interest" … "live"), contract ids ("ordered_contract" …),
    listing ids ("main", "fresh") and the year of the open cost-key vote."""
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{browser_database}"})
    with app.app_context():
        users = {user.email: user for user in db.session.scalars(select(User))}
        bb, by, fitko_1 = users[EDITOR_BB], users[EDITOR_BY], users[FITKO_1]

        def published(title: str, number: int) -> int:
            listing = listings.create_listing(
                bb,
                listing_content(
                    title=f"{WORD} {title}", ozg_name=title, ozg_id=f"{98100 + number}"
                ),
            )
            listings.submit_listing(bb, listing.id)
            listings.publish_listing(fitko_1, listing.id)
            return listing.id

        ids = {"fresh": published("Meldebescheinigung", 0)}
        for number, stage in enumerate((*STAGES, MAIN, LIVE), start=1):
            listing_id = published(f"Leistung {stage}", number)
            ids[stage] = _reuse_up_to(users, listing_id, stage)
            if stage == MAIN:
                ids["main"] = listing_id
        for stage in ("ordered", "checked", MAIN):
            ids[f"{stage}_contract"] = reuses.get_reuse(by, ids[stage]).contract.id

        today = utcnow().date()
        reuses.add_rollout_authorities(by, ids[MAIN], MAIN_AUTHORITIES, today)
        reuses.update_rollout(by, ids[MAIN], ["09162000"], "connecting", today)
        reuses.add_rollout_authorities(by, ids[LIVE], LIVE_AUTHORITIES, today)
        reuses.update_rollout(by, ids[LIVE], LIVE_AUTHORITIES, "connecting", today)
        reuses.update_rollout(by, ids[LIVE], ["09163000"], "live", today)

        # The alliance of the main listing: Bayern a member, Hessen waiting for an answer,
        # and an open cost-key proposal of the lead that Bayern has not voted on yet.
        main = ids["main"]
        alliances.request_join(by, main, "Wir nutzen die Leistung bereits an.")
        alliances.decide_join(bb, main, "09", True)
        alliances.request_join(users["editor-he@demo.test"], main, "Hessen möchte mitmachen.")
        alliances.propose_cost_key(
            bb, main, today.year + 1, "koenigstein", "participants", {}, "Wie im Vorjahr."
        )
        db.session.remove()
        db.engine.dispose()
    return ids


# --- page states ---------------------------------------------------------------------------

Drive = Callable[[Page, dict], None]


@dataclass(frozen=True)
class State:
    drive: Drive
    user: str | None = None
    width: int | None = None
    # A state reached by a refused form (4xx): Chromium logs the status as a console error.
    refused: bool = False


def visit(path: str, *ready: str, status: int = 200, text: tuple[str, str] | None = None):
    """Open ``path``; every ``ready`` selector must be visible, ``text`` = (selector,
    text it must contain)."""

    def drive(page: Page, ids: dict) -> None:
        response = page.goto(path.format(**ids))
        assert response is not None and response.status == status, (path, response.status)
        for selector in ready:
            expect(page.locator(selector).first).to_be_visible()
        if text:
            expect(page.locator(text[0]).first).to_contain_text(text[1])

    return drive


def detail(key: str, stage: str, *ready: str) -> Drive:
    """A reuse's page: its stage shown as ``stage``, and ``ready`` visible."""
    return visit(f"/nachnutzungen/{{{key}}}", *ready, text=(".current-stage", stage))


def send(path: str, form: str, fill: dict[str, str], button: str, shows: str, status=422):
    """Open ``path``, fill ``form`` (selector -> value; "check" ticks a box or radio),
    press ``button`` and check what comes back (nothing is saved)."""

    def drive(page: Page, ids: dict) -> None:
        page.goto(path.format(**ids))
        target = page.locator(form)
        for selector, value in fill.items():
            field = target.locator(selector)
            if value == "check":
                field.check()
            else:
                field.fill(value)
        with page.expect_navigation() as navigation:
            target.get_by_role("button", name=button, exact=True).click()
        assert navigation.value.status == status, (path, navigation.value.status)
        expect(page.locator(shows).first).to_be_visible()

    return drive


def open_side_actions(path: str, *ready: str) -> Drive:
    """The detail page with the side steps (hold, withdraw …) unfolded."""

    def drive(page: Page, ids: dict) -> None:
        visit(path, *ready)(page, ids)
        page.locator("details.side-actions summary").click()
        expect(page.locator("details.side-actions form").first).to_be_visible()

    return drive


def english_detail(key: str, *ready: str) -> Drive:
    """A reuse's page in English (``?lang=en``), whatever the browser asks for."""

    def drive(page: Page, ids: dict) -> None:
        visit(f"/nachnutzungen/{{{key}}}?lang=en", *ready)(page, ids)
        expect(page.locator("html")).to_have_attribute("lang", "en")

    return drive


ERRORS = "#error-summary-title"
ROLLOUT = "/nachnutzungen/{%s}/einfuehrung"
ALLIANCE = "/leistungen/{main}/allianz"
CONTRACT = "/vertraege/{%s_contract}"

STATES = {
    # The list and the interest form (on the listing nobody reuses yet).
    "list": State(visit("/nachnutzungen", "#reuses-caption"), user=EDITOR_BY),
    "list-filtered": State(
        visit("/nachnutzungen?stage=live&side=provider", "#reuses-caption"), user=EDITOR_BB
    ),
    "interest-form": State(
        visit("/leistungen/{fresh}/nachnutzen", "main form[action$='/nachnutzen']"),
        user=EDITOR_BY,
    ),
    "interest-errors": State(
        send(
            "/leistungen/{fresh}/nachnutzen",
            "main form[action$='/nachnutzen']",
            {"[name=expected_usage]": "zwölftausend"},
            "Interesse bekunden",
            "#expected_usage-error",
        ),
        user=EDITOR_BY,
        refused=True,
    ),
    # A reuse's page in each stage, for the adopter (Bayern) and the provider (Brandenburg).
    "detail-interest-adopter": State(
        open_side_actions("/nachnutzungen/{interest}", "#interest-heading"), user=EDITOR_BY
    ),
    "detail-interest-provider": State(
        detail("interest", "Interessenbekundung", "#comment-start_coordination"), user=EDITOR_BB
    ),
    "detail-coordination-adopter": State(
        detail("coordination", "Abstimmung", "#bedingungen"), user=EDITOR_BY
    ),
    "detail-conditions-adopter": State(
        detail("conditions", "Abstimmung", "dl.conditions", "#comment-order"), user=EDITOR_BY
    ),
    "detail-conditions-provider": State(
        detail("conditions", "Abstimmung", "dl.conditions", "a[href$='/bedingungen']"),
        user=EDITOR_BB,
    ),
    "detail-ordered-adopter": State(
        detail("ordered", "Bestellt", ".contract-status"), user=EDITOR_BY
    ),
    "detail-ordered-provider": State(detail("ordered", "Bestellt", "#bedingungen"), user=EDITOR_BB),
    "detail-ordered-fitko": State(
        detail("ordered", "Bestellt", "main .reuse-actions a[href*='/vertraege/']"), user=FITKO_1
    ),
    "detail-contracted-adopter": State(
        detail("contracted", "Vertrag geschlossen", "#comment-start_connecting"), user=EDITOR_BY
    ),
    "detail-connecting-adopter": State(
        detail("connecting", "Technische Anbindung", "#done-payment", ".onboarding-table"),
        user=EDITOR_BY,
    ),
    "detail-connecting-provider": State(
        detail("connecting", "Technische Anbindung", ".onboarding-table", "#rollout-summary"),
        user=EDITOR_BB,
    ),
    "detail-live-adopter": State(
        detail("live", "Produktivbetrieb", "#rollout-summary"), user=EDITOR_BY
    ),
    "detail-live-provider": State(
        detail("live", "Produktivbetrieb", "#rollout-summary", ".history-table"), user=EDITOR_BB
    ),
    # The provider's conditions form.
    "conditions-empty": State(
        visit("/nachnutzungen/{coordination}/bedingungen", "#condition_model", "#scope"),
        user=EDITOR_BB,
    ),
    "conditions-errors": State(
        send(
            "/nachnutzungen/{coordination}/bedingungen",
            "main form[action$='/bedingungen']",
            {"#condition_model-0": "check", "#annual_fee": "sehr viel", "#scope": ""},
            "Bedingungen vorschlagen",
            "#annual_fee-error",
        ),
        user=EDITOR_BB,
        refused=True,
    ),
    "conditions-after-order": State(
        visit("/nachnutzungen/{ordered}/bedingungen", "main .kern-alert--info"), user=EDITOR_BB
    ),
    # The contract and FITKO's four eyes.
    "contract-awaiting-check": State(
        visit(CONTRACT % "ordered", "#check-form-heading"), user=FITKO_1
    ),
    "contract-check-errors": State(
        send(
            CONTRACT % "ordered",
            "main form[action$='/pruefung']",
            {"[name=legal_basis]": ""},
            "Prüfung vermerken",
            "#eligibility_basis-error",
        ),
        user=FITKO_1,
        refused=True,
    ),
    "contract-countersign-checker": State(
        visit(CONTRACT % "checked", ".four-eyes-note", ".signature-check"), user=FITKO_1
    ),
    "contract-countersign-form": State(
        visit(CONTRACT % "checked", "#sign-form-heading"), user=FITKO_2
    ),
    "contract-in-force": State(
        visit(CONTRACT % MAIN, ".signature-countersign", text=(".contract-status", "in Kraft")),
        user=EDITOR_BY,
    ),
    # Rollout to the authorities.
    "rollout-empty": State(
        visit(ROLLOUT % "contracted", "#kreis-heading", text=("#progress-text", "Noch keine")),
        user=EDITOR_BY,
    ),
    "rollout-search": State(
        visit((ROLLOUT % "contracted") + "?suche=Passau", "fieldset#add-codes"), user=EDITOR_BY
    ),
    "rollout-rows": State(
        visit(ROLLOUT % MAIN, "#rollout-table", "#kreis-table", "svg.map--kreise"),
        user=EDITOR_BY,
    ),
    "rollout-error": State(
        send(
            ROLLOUT % MAIN,
            "main form[action*='/einfuehrung/status']",
            {},
            "Ausgewählte Behörden setzen",
            ERRORS,
        ),
        user=EDITOR_BY,
        refused=True,
    ),
    "rollout-live-provider": State(
        visit(ROLLOUT % LIVE, "#rollout-table", text=("#progress-text", "1 von 2")),
        user=EDITOR_BB,
    ),
    # Dashboards and the listing's stage map.
    "land-dashboard-provider": State(
        visit("/mein-land", ".waiting-table", ".provided-table"), user=EDITOR_BB
    ),
    "land-dashboard-viewer": State(visit("/mein-land", ".reused-table"), user=VIEWER_BY),
    "fitko-dashboard": State(
        visit("/fitko", "#waiting-check", "#waiting-sign", ".stage-matrix"), user=FITKO_1
    ),
    "listing-stage-map-demo": State(visit("/leistungen/1", ".stage-map", ".stage-table")),
    "listing-stage-map-provider": State(
        visit("/leistungen/{main}", ".stage-map", ".stage-table"), user=EDITOR_BB
    ),
    # The alliance of the main listing.
    "alliance-lead": State(visit(ALLIANCE, ".requests-table", "#propose-heading"), user=EDITOR_BB),
    "alliance-lead-proposal-errors": State(
        send(
            ALLIANCE,
            "main form[action$='/kostenschluessel']",
            {"#year": "2020", "#key-5": "check", "#share_usage": "30"},
            "Vorschlag zur Abstimmung stellen",
            "#anteile-error",
        ),
        user=EDITOR_BB,
        refused=True,
    ),
    "alliance-member": State(
        visit(ALLIANCE, "form[action$='/stimme']", ".votes-table"), user=EDITOR_BY
    ),
    "alliance-outsider": State(visit(ALLIANCE, "#join-heading"), user=OUTSIDER),
    "alliance-anonymous": State(visit(ALLIANCE, ".members-table")),
    # The inbox and the account page.
    "inbox": State(visit("/benachrichtigungen", "form.notice__action"), user=EDITOR_BY),
    "account": State(visit("/konto", "#notify-email_notifications"), user=EDITOR_BY),
    # One English state, and phone-width ones.
    "detail-english": State(english_detail(MAIN, "#done-payment"), user=EDITOR_BY),
    "rollout-phone": State(
        visit(ROLLOUT % MAIN, "#rollout-table", "#bulk-fieldset"), user=EDITOR_BY, width=375
    ),
}


@pytest.mark.parametrize("state", list(STATES.values()), ids=list(STATES))
def test_reuse_page_state_has_no_axe_violations(
    page, axe_check, logged_in_as, reuse_ids, state: State
):
    errors = page_errors(page, refused=state.refused)
    if state.width:
        page.set_viewport_size({"width": state.width, "height": 800})
    if state.user:
        logged_in_as(state.user)
    state.drive(page, reuse_ids)
    axe_check(page)
    # CSP reports of inline scripts or styles would land here too.
    assert not errors, "console errors:\n" + "\n".join(errors)
