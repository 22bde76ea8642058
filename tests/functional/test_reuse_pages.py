"""The HTML side of reuses and contracts: the whole journey from interest to live through
the pages, the refusals a person meets on the way, tenant isolation, the four-eyes
contract page, and constant query counts.

Runs on SQLite and on PostgreSQL (FITSTORE_TEST_DATABASE_URL). Every scenario starts
from a fresh listing of Brandenburg published through the listings service, so demo
reuses never interfere; Bayern is the adopter, Hessen the outsider.
"""

from __future__ import annotations

import html
import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from fitstore.extensions import db
from fitstore.models import (
    Contract,
    ContractStatus,
    Reuse,
    ReuseStage,
    ReuseTransition,
    User,
)
from fitstore.models.base import utcnow
from fitstore.permissions import alliance_member_lands
from fitstore.services import listings, reuses
from tests.conftest import login
from tests.factories import listing_content

EDITOR_BB = "editor-bb@demo.test"
VIEWER_BB = "viewer-bb@demo.test"
EDITOR_BY = "editor-by@demo.test"
VIEWER_BY = "viewer-by@demo.test"
EDITOR_HE = "editor-he@demo.test"
VIEWER_HE = "viewer-he@demo.test"
FITKO_1 = "fitko-1@demo.test"
FITKO_2 = "fitko-2@demo.test"
ADMIN = "admin@demo.test"

CONDITIONS_FORM = {
    "condition_model": "annual_fee",
    "annual_fee": "50.000,00",
    "share_rule": "",
    "connection_cost": "25.000",
    "scope": "Betrieb, Support und Updates des Onlinedienstes durch ZIT-BB.",
    "conditions_start": "2027-01-01",
}
SERVICE_CONDITIONS = {
    "condition_model": "annual_fee",
    "annual_fee_cents": 5_000_000,
    "connection_cost_cents": 2_500_000,
    "scope": "Betrieb, Support und Updates.",
    "conditions_start": "2027-01-01",
}


# --- helpers --------------------------------------------------------------------------------


def user(email: str) -> User:
    return db.session.scalar(select(User).where(User.email == email))


def client_for(app, email: str | None):
    client = app.test_client()
    if email:
        assert login(client, email).status_code == 302
    return client


def text(response) -> str:
    return response.get_data(as_text=True)


def visible_text(markup: str) -> str:
    """The page's text as a reader gets it: tags removed, entities decoded, spaces joined."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", markup))).strip()


def follow(client, response):
    """The page a redirect leads to (with the flash message it carries)."""
    assert response.status_code == 302, response.status_code
    return client.get(response.headers["Location"])


def version_on(page: str, action: str | None = None) -> str:
    """The hidden ``version`` of a step form (of ``action``, or the first one)."""
    if action:
        match = re.search(
            rf'name="action" value="{action}">\s*<input type="hidden" name="version" value="(\d+)"',
            page,
        )
    else:
        match = re.search(
            r'name="version"[^>]*value="(\d+)"|value="(\d+)"[^>]*name="version"', page
        )
    assert match, f"no version field for {action}"
    return next(group for group in match.groups() if group)


def current_step(page: str) -> str:
    match = re.search(r'aria-current="step">(.*?)</li>', page, re.S)
    assert match, "no current step marked"
    return visible_text(match.group(1))


def make_listing(app, title: str | None = None) -> int:
    """A fresh published listing of Brandenburg, through the service like a real one."""
    title = title or f"Fachkräfteeinwanderung {uuid.uuid4().hex[:6]}"
    with app.app_context():
        listing = listings.create_listing(
            user(EDITOR_BB), listing_content(title=title, ozg_id="98765")
        )
        listings.submit_listing(user(EDITOR_BB), listing.id)
        listings.publish_listing(user(FITKO_1), listing.id)
        return listing.id


def reuse_row(app, reuse_id: int) -> Reuse:
    with app.app_context():
        reuse = db.session.get(Reuse, reuse_id)
        db.session.expunge(reuse)
        return reuse


def contract_row(app, contract_id: int) -> Contract:
    with app.app_context():
        contract = db.session.get(Contract, contract_id)
        db.session.expunge(contract)
        return contract


def advance(app, reuse_id: int, *steps: tuple[str, str]) -> None:
    """Take a reuse on through the service: (email, action) per step."""
    with app.app_context():
        for email, action in steps:
            if action == "conditions":
                reuses.propose_conditions(user(email), reuse_id, SERVICE_CONDITIONS)
            else:
                reuses.transition(user(email), reuse_id, action)


def interest(app, listing_id: int, email: str = EDITOR_BY) -> int:
    with app.app_context():
        return reuses.express_interest(user(email), listing_id, {}).id


def ordered_reuse(app) -> tuple[int, int]:
    """A reuse of Bayern that is ordered (contract awaiting the check): (reuse, contract)."""
    reuse_id = interest(app, make_listing(app))
    advance(
        app,
        reuse_id,
        (EDITOR_BB, "start_coordination"),
        (EDITOR_BB, "conditions"),
        (EDITOR_BY, "order"),
    )
    with app.app_context():
        return reuse_id, db.session.get(Reuse, reuse_id).contract.id


def contracted_reuse(app) -> tuple[int, int]:
    reuse_id, contract_id = ordered_reuse(app)
    with app.app_context():
        reuses.check_contract(
            user(FITKO_1),
            contract_id,
            {"eligibility_basis": "traeger", "legal_basis": reuses.DEFAULT_LEGAL_BASIS},
        )
        reuses.countersign_contract(
            user(FITKO_2), contract_id, {"effective_date": utcnow().date().isoformat()}
        )
    return reuse_id, contract_id


def step(client, reuse_id: int, action: str, version: str, comment: str = ""):
    return client.post(
        f"/nachnutzungen/{reuse_id}/schritt",
        data={"action": action, "version": version, "comment": comment},
    )


# --- the whole journey ------------------------------------------------------------------------


def test_the_whole_journey_from_interest_to_live_through_the_pages(app):
    listing_id = make_listing(app, title="Fachkräfteeinwanderung Zaunkönig")
    bayern, brandenburg = client_for(app, EDITOR_BY), client_for(app, EDITOR_BB)
    fitko_1, fitko_2 = client_for(app, FITKO_1), client_for(app, FITKO_2)
    today = utcnow().date()

    # Bayern finds the call to action on the listing page and states its interest.
    listing_page = text(bayern.get(f"/leistungen/{listing_id}"))
    assert f'href="/leistungen/{listing_id}/nachnutzen"' in listing_page
    assert "Nachnutzung anfragen" in listing_page
    form_page = bayern.get(f"/leistungen/{listing_id}/nachnutzen")
    assert form_page.status_code == 200
    assert 'type="date"' in text(form_page)
    response = bayern.post(
        f"/leistungen/{listing_id}/nachnutzen",
        data={"planned_start": "2027-01-01", "expected_usage": "12.000", "note": "Ab 2027."},
    )
    reuse_id = int(response.headers["Location"].rsplit("/", 1)[1])
    page = text(follow(bayern, response))
    assert "Ihre Interessenbekundung ist abgegeben" in page
    assert current_step(page).startswith("1 Interessenbekundung")
    assert "Am Zug: Bereitsteller." in visible_text(page)
    assert "12.000" in visible_text(page)
    assert reuse_row(app, reuse_id).expected_usage == 12000
    # The listing page now leads to the running reuse instead of asking again.
    listing_page = text(bayern.get(f"/leistungen/{listing_id}"))
    assert f'href="/nachnutzungen/{reuse_id}"' in listing_page
    assert "Nachnutzung anfragen" not in listing_page
    assert bayern.get(f"/leistungen/{listing_id}/nachnutzen").status_code == 302

    # Brandenburg takes up coordination and proposes conditions in euros.
    page = text(brandenburg.get(f"/nachnutzungen/{reuse_id}"))
    assert "Abstimmung aufnehmen" in page
    page = text(
        follow(
            brandenburg,
            step(brandenburg, reuse_id, "start_coordination", version_on(page), "Gerne."),
        )
    )
    assert "„Abstimmung aufnehmen“ ist erledigt. Neuer Stand: Abstimmung." in page
    assert current_step(page).startswith("2 Abstimmung")
    assert f'href="/nachnutzungen/{reuse_id}/bedingungen"' in page
    form_page = text(brandenburg.get(f"/nachnutzungen/{reuse_id}/bedingungen"))
    assert "<legend" in form_page and "Entgeltmodell" in form_page
    assert 'value="2027-01-01"' in form_page  # the planned start as a default
    response = brandenburg.post(
        f"/nachnutzungen/{reuse_id}/bedingungen",
        data={**CONDITIONS_FORM, "version": version_on(form_page)},
    )
    page = visible_text(text(follow(brandenburg, response)))
    assert "Die Bedingungen sind vorgeschlagen" in page
    assert "Jahresentgelt 50.000,00 €" in page
    assert "Einmalige Anbindungskosten 25.000,00 €" in page
    row = reuse_row(app, reuse_id)
    assert (row.annual_fee_cents, row.connection_cost_cents) == (5_000_000, 2_500_000)

    # Bayern orders on exactly these terms.
    page = text(bayern.get(f"/nachnutzungen/{reuse_id}"))
    assert "Verbindlich bestellen" in page
    page = text(follow(bayern, step(bayern, reuse_id, "order", version_on(page, "order"))))
    assert "Neuer Stand: Bestellt." in page
    with app.app_context():
        contract_id = db.session.get(Reuse, reuse_id).contract.id
    assert f'href="/vertraege/{contract_id}"' in page
    assert "wartet auf Prüfung" in page
    assert "Am Zug: FITKO." in visible_text(page)

    # fitko-1 checks the in-house eligibility.
    contract_page = text(fitko_1.get(f"/vertraege/{contract_id}"))
    assert "Prüfung vermerken" in contract_page
    assert reuses.DEFAULT_LEGAL_BASIS in contract_page  # prefilled
    assert "Inhouse-Fähigkeit des nachnutzenden Landes</legend>" in contract_page
    response = fitko_1.post(
        f"/vertraege/{contract_id}/pruefung",
        data={
            "eligibility_basis": "traeger",
            "legal_basis": reuses.DEFAULT_LEGAL_BASIS,
            "remarks": "Bayern ist Träger der FITKO.",
            "version": version_on(contract_page),
        },
    )
    page = text(follow(fitko_1, response))
    assert "Die Prüfung ist vermerkt" in page
    assert "wartet auf Gegenzeichnung" in page

    # fitko-1 cannot countersign: no form, a clear note, and a direct POST changes nothing.
    assert "Vier-Augen-Prinzip: Sie haben diesen Vertrag geprüft." in page
    assert "Gegenzeichnen</span></button>" not in page
    response = fitko_1.post(
        f"/vertraege/{contract_id}/gegenzeichnung", data={"effective_date": today.isoformat()}
    )
    page = visible_text(text(follow(fitko_1, response)))
    assert "Wer den Vertrag geprüft hat, darf ihn nicht auch gegenzeichnen" in page
    assert contract_row(app, contract_id).status == ContractStatus.AWAITING_COUNTERSIGN
    assert reuse_row(app, reuse_id).stage == ReuseStage.ORDERED

    # fitko-2 countersigns; a date before the order is refused on the field.
    contract_page = text(fitko_2.get(f"/vertraege/{contract_id}"))
    assert "Gegenzeichnen</span></button>" in contract_page
    assert f'value="{today.isoformat()}"' in contract_page
    too_early = fitko_2.post(
        f"/vertraege/{contract_id}/gegenzeichnung",
        data={"effective_date": (today - timedelta(days=30)).isoformat()},
    )
    assert too_early.status_code == 422
    page = text(too_early)
    assert 'id="effective_date-error"' in page
    assert "Der Vertrag kann nicht vor der Bestellung" in page
    assert contract_row(app, contract_id).status == ContractStatus.AWAITING_COUNTERSIGN
    response = fitko_2.post(
        f"/vertraege/{contract_id}/gegenzeichnung",
        data={"effective_date": today.isoformat(), "version": version_on(contract_page)},
    )
    page = visible_text(text(follow(fitko_2, response)))
    assert "ist gegengezeichnet und wirksam ab" in page
    assert "Status in Kraft" in page
    # Both FITKO signatures, on the contract as every party sees it.
    page = visible_text(text(bayern.get(f"/vertraege/{contract_id}")))
    assert "Geprüft von Erika Prüferin (FITKO)" in page
    assert "Gegengezeichnet von Max Gegenzeichner (FITKO)" in page
    assert "Inhouse-Fähigkeit Träger der FITKO (Land)" in page
    assert reuse_row(app, reuse_id).stage == ReuseStage.CONTRACTED

    # Bayern connects: the checklist appears, testing waits for the mandatory items.
    page = text(bayern.get(f"/nachnutzungen/{reuse_id}"))
    assert current_step(page).startswith("4 Vertrag geschlossen")
    assert f'href="/nachnutzungen/{reuse_id}/einfuehrung"' in page
    page = text(follow(bayern, step(bayern, reuse_id, "start_connecting", version_on(page))))
    assert "Checkliste der technischen Anbindung" in page
    assert "0 von 4 Punkten erledigt" in visible_text(page)
    response = bayern.post(
        f"/nachnutzungen/{reuse_id}/anbindung/transport",
        data={"done": "y", "done_on": today.isoformat(), "note": "Zustellpunkt angelegt"},
    )
    page = text(follow(bayern, response))
    assert "„FIT-Connect-Zustellpunkt eingerichtet“ ist als erledigt" in page
    assert "Zustellpunkt angelegt" in page
    page = text(follow(bayern, step(bayern, reuse_id, "start_testing", version_on(page))))
    assert "Der Test kann erst beginnen" in page
    assert "Servicekonto/BundID angebunden" in page
    assert reuse_row(app, reuse_id).stage == ReuseStage.CONNECTING
    for key in ("user_account", "payment", "xoev"):
        assert (
            bayern.post(
                f"/nachnutzungen/{reuse_id}/anbindung/{key}", data={"done": "y"}
            ).status_code
            == 302
        )
    page = text(bayern.get(f"/nachnutzungen/{reuse_id}"))
    assert "4 von 4 Punkten erledigt. Alle Pflichtpunkte sind erledigt." in visible_text(page)
    page = text(follow(bayern, step(bayern, reuse_id, "start_testing", version_on(page))))
    assert "Neuer Stand: Test." in page
    page = text(follow(bayern, step(bayern, reuse_id, "go_live", version_on(page))))
    assert "Neuer Stand: Produktivbetrieb." in page
    assert current_step(page).startswith("7 Produktivbetrieb")
    assert page.count("steps__item--done") == 6

    # The history tells who moved what when, from where to where, and why.
    history = visible_text(page.split('id="history-heading"', 1)[1])
    assert "7 Schritte" in history
    assert "Abstimmung Gerne." in history  # to-stage and comment of Brandenburg's step
    assert "Max Gegenzeichner (FITKO)" in history
    assert reuse_row(app, reuse_id).stage == ReuseStage.LIVE


# --- refusals: a clear message, nothing changed -----------------------------------------------------


def test_ordering_without_conditions_is_refused_with_a_message(app):
    reuse_id = interest(app, make_listing(app))
    advance(app, reuse_id, (EDITOR_BB, "start_coordination"))
    bayern = client_for(app, EDITOR_BY)
    page = text(bayern.get(f"/nachnutzungen/{reuse_id}"))
    # No order button while there is nothing to accept, but a word why.
    assert 'name="action" value="order"' not in page
    assert "sobald der Bereitsteller Bedingungen vorgeschlagen hat" in page
    before = reuse_row(app, reuse_id).lock_version
    response = step(bayern, reuse_id, "order", str(before))
    assert response.headers["Location"].endswith(f"/nachnutzungen/{reuse_id}#aktionen")
    page = text(follow(bayern, response))
    assert "ohne Bedingungen kann nicht bestellt werden" in page
    assert "kern-alert--danger" in page
    row = reuse_row(app, reuse_id)
    assert (row.stage, row.lock_version) == (ReuseStage.COORDINATION, before)


def test_countersigning_before_the_check_is_refused(app):
    reuse_id, contract_id = ordered_reuse(app)
    fitko_2 = client_for(app, FITKO_2)
    page = text(fitko_2.get(f"/vertraege/{contract_id}"))
    assert "Gegenzeichnen</span></button>" not in page  # only the check form for now
    assert "Prüfung vermerken" in page
    response = fitko_2.post(
        f"/vertraege/{contract_id}/gegenzeichnung",
        data={"effective_date": utcnow().date().isoformat()},
    )
    page = text(follow(fitko_2, response))
    assert "Der Vertrag ist noch nicht geprüft." in page
    assert contract_row(app, contract_id).status == ContractStatus.AWAITING_CHECK
    assert reuse_row(app, reuse_id).stage == ReuseStage.ORDERED


def test_a_stale_page_gets_a_message_instead_of_overriding(app):
    reuse_id = interest(app, make_listing(app))
    brandenburg = client_for(app, EDITOR_BB)
    stale_page = text(brandenburg.get(f"/nachnutzungen/{reuse_id}"))
    # Meanwhile Bayern puts the reuse on hold and resumes it: same stage, newer version.
    advance(app, reuse_id, (EDITOR_BY, "hold"), (EDITOR_BY, "resume"))
    before = reuse_row(app, reuse_id)
    response = step(brandenburg, reuse_id, "start_coordination", version_on(stale_page))
    page = text(follow(brandenburg, response))
    assert "Die Nachnutzung wurde inzwischen geändert" in page
    after = reuse_row(app, reuse_id)
    assert (after.stage, after.lock_version) == (ReuseStage.INTEREST, before.lock_version)
    # The conditions form says the same when its page went stale.
    advance(app, reuse_id, (EDITOR_BB, "start_coordination"))
    form_page = text(brandenburg.get(f"/nachnutzungen/{reuse_id}/bedingungen"))
    advance(app, reuse_id, (EDITOR_BY, "hold"), (EDITOR_BY, "resume"))
    response = brandenburg.post(
        f"/nachnutzungen/{reuse_id}/bedingungen",
        data={**CONDITIONS_FORM, "version": version_on(form_page)},
    )
    assert response.status_code == 412
    assert "Aktuellen Stand laden" in text(response)
    assert not reuse_row(app, reuse_id).has_conditions


def test_the_wrong_side_and_unknown_steps_get_a_message(app):
    reuse_id = interest(app, make_listing(app))
    bayern = client_for(app, EDITOR_BY)
    version = str(reuse_row(app, reuse_id).lock_version)
    page = text(follow(bayern, step(bayern, reuse_id, "start_coordination", version)))
    assert "Diesen Schritt darf Ihre Rolle bei dieser Nachnutzung nicht ausführen." in page
    page = text(follow(bayern, step(bayern, reuse_id, "go_live", version)))
    assert "Unbekannter Schritt" not in page and "nicht möglich" in page
    page = text(follow(bayern, step(bayern, reuse_id, "fly_to_the_moon", version)))
    assert "Unbekannter Schritt" in page
    # A viewer of the provider Land sees the reuse but has no buttons and no say.
    viewer = client_for(app, VIEWER_BB)
    assert 'name="action"' not in text(viewer.get(f"/nachnutzungen/{reuse_id}"))
    page = text(follow(viewer, step(viewer, reuse_id, "start_coordination", version)))
    assert "Diesen Schritt darf Ihre Rolle" in page
    assert reuse_row(app, reuse_id).stage == ReuseStage.INTEREST


def test_the_conditions_form_reads_euros_and_refuses_bad_amounts(app):
    reuse_id = interest(app, make_listing(app))
    advance(app, reuse_id, (EDITOR_BB, "start_coordination"))
    brandenburg = client_for(app, EDITOR_BB)
    url = f"/nachnutzungen/{reuse_id}/bedingungen"
    response = brandenburg.post(
        url, data={**CONDITIONS_FORM, "annual_fee": "-5", "connection_cost": "zehn Euro"}
    )
    assert response.status_code == 422
    page = text(response)
    assert 'id="annual_fee-error"' in page and "Der Betrag darf nicht negativ sein." in page
    assert 'id="connection_cost-error"' in page
    assert "Bitte geben Sie einen Betrag in Euro an" in page
    assert 'href="#annual_fee"' in page  # the error summary links to the field
    assert not reuse_row(app, reuse_id).has_conditions
    # Every missing field at once: the model, the scope, the date.
    response = brandenburg.post(url, data={"annual_fee": "1.000"})
    page = text(response)
    assert response.status_code == 422
    for name in ("condition_model", "connection_cost", "scope", "conditions_start"):
        assert f'id="{name}-error"' in page, name
    # A plain "1234.56" is as good as the German form; the amount is exact in cents.
    response = brandenburg.post(
        url, data={**CONDITIONS_FORM, "annual_fee": "1234.56", "connection_cost": "0"}
    )
    assert response.status_code == 302
    row = reuse_row(app, reuse_id)
    assert (row.annual_fee_cents, row.connection_cost_cents) == (123_456, 0)
    # The share rule model needs its rule and drops a stray fee.
    response = brandenburg.post(
        url, data={**CONDITIONS_FORM, "condition_model": "share_rule", "share_rule": ""}
    )
    assert response.status_code == 422
    assert 'id="share_rule-error"' in text(response)
    response = brandenburg.post(
        url,
        data={
            **CONDITIONS_FORM,
            "condition_model": "share_rule",
            "share_rule": "Anteil nach dem Kostenschlüssel der Allianz",
        },
    )
    assert response.status_code == 302
    row = reuse_row(app, reuse_id)
    assert row.annual_fee_cents is None and row.share_rule.startswith("Anteil")
    page = visible_text(text(brandenburg.get(f"/nachnutzungen/{reuse_id}")))
    assert "Anteilsregel Anteil nach dem Kostenschlüssel der Allianz" in page
    # The form shows the stored amounts back in German.
    assert 'value="25.000,00"' in text(brandenburg.get(url))


def test_only_the_provider_edits_conditions_and_only_in_coordination(app):
    reuse_id = interest(app, make_listing(app))
    url = f"/nachnutzungen/{reuse_id}/bedingungen"
    assert client_for(app, EDITOR_BY).get(url).status_code == 403
    assert client_for(app, FITKO_1).get(url).status_code == 403
    assert client_for(app, EDITOR_HE).get(url).status_code == 404
    brandenburg = client_for(app, EDITOR_BB)
    page = brandenburg.get(url)
    assert page.status_code == 200
    assert "nur in der Abstimmung" in text(page)
    assert "<form" not in text(page).split('id="form-heading"', 1)[1]
    response = brandenburg.post(url, data=CONDITIONS_FORM)
    assert response.status_code == 409
    assert not reuse_row(app, reuse_id).has_conditions


def test_interest_form_errors_and_own_listings(app):
    listing_id = make_listing(app)
    bayern = client_for(app, EDITOR_BY)
    response = bayern.post(
        f"/leistungen/{listing_id}/nachnutzen",
        data={"planned_start": "morgen", "expected_usage": "viele"},
    )
    assert response.status_code == 422
    page = text(response)
    # Both mistakes at once, each on its field.
    assert 'id="planned_start-error"' in page and "JJJJ-MM-TT" in page
    assert 'id="expected_usage-error"' in page
    assert "als ganze Zahl ab 0" in page
    # "1.5" is no number of cases (and not 15).
    response = bayern.post(f"/leistungen/{listing_id}/nachnutzen", data={"expected_usage": "1.5"})
    assert response.status_code == 422
    assert 'id="expected_usage-error"' in text(response)
    with app.app_context():
        assert reuses.open_reuse(listing_id, "09") is None
    # Brandenburg provides the listing itself: no call to action, no form.
    brandenburg = client_for(app, EDITOR_BB)
    assert "Nachnutzung anfragen" not in text(brandenburg.get(f"/leistungen/{listing_id}"))
    assert brandenburg.get(f"/leistungen/{listing_id}/nachnutzen").status_code == 403
    # Viewers and FITKO do not ask for reuse; anonymous visitors must log in first.
    assert "Nachnutzung anfragen" not in text(
        client_for(app, VIEWER_BY).get(f"/leistungen/{listing_id}")
    )
    assert client_for(app, VIEWER_BY).get(f"/leistungen/{listing_id}/nachnutzen").status_code == 403
    assert client_for(app, FITKO_1).get(f"/leistungen/{listing_id}/nachnutzen").status_code == 403
    anonymous = client_for(app, None)
    assert "Nachnutzung anfragen" not in text(anonymous.get(f"/leistungen/{listing_id}"))
    assert anonymous.get(f"/leistungen/{listing_id}/nachnutzen").status_code == 302


def test_planned_start_in_a_wrong_format_gets_a_field_error(app):
    listing_id = make_listing(app)
    response = client_for(app, EDITOR_BY).post(
        f"/leistungen/{listing_id}/nachnutzen", data={"planned_start": "1.1.2027"}
    )
    assert response.status_code == 422
    page = text(response)
    assert 'id="planned_start-error"' in page and "JJJJ-MM-TT" in page


# --- who sees what ------------------------------------------------------------------------------


def test_another_lands_users_get_404_for_reuse_and_contract(app):
    reuse_id, contract_id = ordered_reuse(app)
    with app.app_context():
        listing_id = db.session.get(Reuse, reuse_id).listing_id
        assert "06" not in alliance_member_lands(listing_id)
    for email in (VIEWER_HE, EDITOR_HE):
        outsider = client_for(app, email)
        assert outsider.get(f"/nachnutzungen/{reuse_id}").status_code == 404
        assert outsider.get(f"/vertraege/{contract_id}").status_code == 404
        assert outsider.get(f"/nachnutzungen/{reuse_id}/bedingungen").status_code in (403, 404)
        response = step(outsider, reuse_id, "withdraw", "")
        assert response.status_code == 404
        # A viewer's role never ticks checklist items (403); an editor's reuse is not there.
        expected = 404 if email == EDITOR_HE else 403
        assert (
            outsider.post(f"/nachnutzungen/{reuse_id}/anbindung/transport").status_code == expected
        )
        page = text(outsider.get("/nachnutzungen"))
        assert f'href="/nachnutzungen/{reuse_id}"' not in page
    assert reuse_row(app, reuse_id).stage == ReuseStage.ORDERED
    # Both parties' Länder and FITKO see both pages.
    for email in (VIEWER_BY, VIEWER_BB, FITKO_1, ADMIN):
        insider = client_for(app, email)
        assert insider.get(f"/nachnutzungen/{reuse_id}").status_code == 200, email
        assert insider.get(f"/vertraege/{contract_id}").status_code == 200, email
    anonymous = client_for(app, None)
    assert anonymous.get(f"/vertraege/{contract_id}").status_code == 302
    assert anonymous.get(f"/nachnutzungen/{reuse_id}").status_code == 302


def test_land_users_never_see_or_use_the_fitko_contract_forms(app):
    reuse_id, contract_id = ordered_reuse(app)
    for email in (EDITOR_BY, EDITOR_BB, VIEWER_BY, ADMIN):
        page = text(client_for(app, email).get(f"/vertraege/{contract_id}"))
        assert "Prüfung vermerken" not in page, email
        assert "/pruefung" not in page and "/gegenzeichnung" not in page, email
    bayern = client_for(app, EDITOR_BY)
    assert (
        bayern.post(
            f"/vertraege/{contract_id}/pruefung",
            data={"eligibility_basis": "traeger", "legal_basis": "§ 108 GWB"},
        ).status_code
        == 403
    )
    with app.app_context():
        reuses.check_contract(
            user(FITKO_1), contract_id, {"eligibility_basis": "traeger", "legal_basis": "GWB"}
        )
    for email in (EDITOR_BY, EDITOR_BB, ADMIN):
        page = text(client_for(app, email).get(f"/vertraege/{contract_id}"))
        assert "Gegenzeichnen</span></button>" not in page, email
    response = bayern.post(
        f"/vertraege/{contract_id}/gegenzeichnung",
        data={"effective_date": utcnow().date().isoformat()},
    )
    assert response.status_code == 403
    assert contract_row(app, contract_id).status == ContractStatus.AWAITING_COUNTERSIGN


def test_the_check_form_refuses_a_missing_basis_on_its_field(app):
    _reuse_id, contract_id = ordered_reuse(app)
    fitko = client_for(app, FITKO_1)
    response = fitko.post(
        f"/vertraege/{contract_id}/pruefung", data={"legal_basis": "x", "remarks": ""}
    )
    assert response.status_code == 422
    page = text(response)
    assert 'id="eligibility_basis-error"' in page
    assert 'id="legal_basis-error"' in page
    assert "Bitte prüfen Sie Ihre Angaben" in page
    assert contract_row(app, contract_id).status == ContractStatus.AWAITING_CHECK


def test_the_contract_page_prints_clean_and_shows_both_signatures(app):
    reuse_id, contract_id = contracted_reuse(app)
    page = text(client_for(app, FITKO_1).get(f"/vertraege/{contract_id}"))
    words = visible_text(page)
    assert "SaaS-Nachnutzungsvertrag NV-" in words
    assert "Anbieter FITKO (Föderale IT-Kooperation)" in words
    assert "Nachnutzer Land Bayern" in words
    assert "Brandenburg als Bereitsteller" in words
    assert "OZG-ID 98765" in words
    assert "Jahresentgelt 50.000,00 €" in words
    assert "Einmalige Anbindungskosten 25.000,00 €" in words
    assert "Geprüft von Erika Prüferin (FITKO)" in words
    assert "Gegengezeichnet von Max Gegenzeichner (FITKO)" in words
    assert "Rechtsgrundlage " + reuses.DEFAULT_LEGAL_BASIS in words
    assert "Status in Kraft" in words
    # Nothing left to do: no forms; the way back is not printed.
    assert "<form" not in page.split('class="contract-document"', 1)[1]
    assert '<p class="no-print"><a class="kern-link" href="/nachnutzungen/' in page
    # The contract shows the conditions as ordered, even if the reuse's own ones changed.
    with app.app_context():
        reuse = db.session.get(Reuse, reuse_id)
        reuse.annual_fee_cents = 1
        db.session.commit()
    assert "50.000,00 €" in visible_text(
        text(client_for(app, EDITOR_BY).get(f"/vertraege/{contract_id}"))
    )


def test_fitko_finds_its_contract_task_on_the_reuse_page(app):
    reuse_id, contract_id = ordered_reuse(app)
    fitko_1, fitko_2 = client_for(app, FITKO_1), client_for(app, FITKO_2)
    contract_link = f'href="/vertraege/{contract_id}"'
    page = text(fitko_1.get(f"/nachnutzungen/{reuse_id}"))
    assert "Vertrag prüfen" in page and contract_link in page
    with app.app_context():
        reuses.check_contract(
            user(FITKO_1), contract_id, {"eligibility_basis": "cooperation", "legal_basis": "GWB"}
        )
    # The checker has nothing more to do; the second person is asked to countersign.
    assert "Vertrag gegenzeichnen" not in text(fitko_1.get(f"/nachnutzungen/{reuse_id}"))
    assert "Vertrag gegenzeichnen" in text(fitko_2.get(f"/nachnutzungen/{reuse_id}"))
    # Land users have no such task.
    page = text(client_for(app, EDITOR_BY).get(f"/nachnutzungen/{reuse_id}"))
    assert "Vertrag gegenzeichnen" not in page and "Vertrag prüfen" not in page


def test_the_rollout_summary_counts_authorities_live(app):
    reuse_id, _contract_id = contracted_reuse(app)
    today = utcnow().date().isoformat()
    codes = ["09576111", "09273111", "09577111"]
    advance(app, reuse_id, (EDITOR_BY, "start_connecting"))
    with app.app_context():
        for key in ("transport", "user_account", "payment", "xoev"):
            reuses.update_onboarding_item(user(EDITOR_BY), reuse_id, key, True)
        reuses.add_rollout_authorities(user(EDITOR_BY), reuse_id, codes, today)
        reuses.update_rollout(user(EDITOR_BY), reuse_id, codes[:2], "connecting", today)
    advance(app, reuse_id, (EDITOR_BY, "start_testing"), (EDITOR_BY, "go_live"))
    with app.app_context():
        reuses.update_rollout(user(EDITOR_BY), reuse_id, codes[:1], "live", today)
    page = text(client_for(app, VIEWER_BB).get(f"/nachnutzungen/{reuse_id}"))
    words = visible_text(page)
    assert "1 von 3 Behörden live (33 %) · 1 in Anbindung · 1 geplant" in words
    assert (
        '<progress class="progress-bar" max="3" value="1" aria-labelledby="rollout-summary">'
        in page
    )
    assert f'href="/nachnutzungen/{reuse_id}/einfuehrung"' in page


# --- the list ------------------------------------------------------------------------------------


def test_the_reuse_list_shows_stage_party_and_filters(app):
    listing_id = make_listing(app, title="Listentest Rotkehlchen")
    reuse_id = interest(app, listing_id)
    bayern = client_for(app, EDITOR_BY)
    page = text(bayern.get("/nachnutzungen"))
    assert 'href="/nachnutzungen"' in page and "Nachnutzungen</a>" in page  # main navigation
    assert f'href="/nachnutzungen/{reuse_id}"' in page
    row = visible_text(page.split(f'href="/nachnutzungen/{reuse_id}"', 1)[0].rsplit("<tr", 1)[1])
    assert "Listentest Rotkehlchen" in row and "Bayern" in row
    assert "Interessenbekundung" in row and "Bereitsteller" in row
    assert "swatch stage--interest" in page
    # Filters: stage, Land, my role.
    assert f'href="/nachnutzungen/{reuse_id}"' in text(bayern.get("/nachnutzungen?stage=interest"))
    assert f'href="/nachnutzungen/{reuse_id}"' not in text(bayern.get("/nachnutzungen?stage=live"))
    assert f'href="/nachnutzungen/{reuse_id}"' in text(bayern.get("/nachnutzungen?land=09"))
    assert f'href="/nachnutzungen/{reuse_id}"' not in text(bayern.get("/nachnutzungen?land=12"))
    assert f'href="/nachnutzungen/{reuse_id}"' in text(bayern.get("/nachnutzungen?side=adopter"))
    assert f'href="/nachnutzungen/{reuse_id}"' not in text(
        bayern.get("/nachnutzungen?side=provider")
    )
    brandenburg = client_for(app, EDITOR_BB)
    assert f'href="/nachnutzungen/{reuse_id}"' in text(
        brandenburg.get("/nachnutzungen?side=provider")
    )
    # Nonsense in the query string is a message, not an error page.
    response = bayern.get("/nachnutzungen?stage=nonsense&land=99&page=abc")
    assert response.status_code == 200
    assert "Unbekannter Wert" in text(response)
    # FITKO sees every Land's reuses; "my role" means nothing there.
    page = text(client_for(app, FITKO_1).get("/nachnutzungen"))
    assert 'name="side"' not in page
    assert f'href="/nachnutzungen/{reuse_id}"' in text(
        client_for(app, FITKO_1).get("/nachnutzungen?land=09&stage=interest")
    )


# --- query counts -----------------------------------------------------------------------------------


def test_the_reuse_page_runs_a_constant_number_of_queries(app, count_queries):
    reuse_id, _contract_id = contracted_reuse(app)
    advance(app, reuse_id, (EDITOR_BY, "start_connecting"))
    bayern = client_for(app, EDITOR_BY)
    url = f"/nachnutzungen/{reuse_id}"
    bayern.get(url)
    with app.app_context():
        before_rows = len(
            db.session.scalars(
                select(ReuseTransition).where(ReuseTransition.reuse_id == reuse_id)
            ).all()
        )
    with count_queries() as before:
        assert bayern.get(url).status_code == 200
    # Grow the history (by people of three organisations) well past its first size.
    for index in range(9):
        who = (EDITOR_BY, FITKO_1, FITKO_2)[index % 3]
        advance(app, reuse_id, (who, "hold"), (who, "resume"))
    with app.app_context():
        after_rows = len(
            db.session.scalars(
                select(ReuseTransition).where(ReuseTransition.reuse_id == reuse_id)
            ).all()
        )
    assert after_rows >= before_rows + 18
    with count_queries() as after:
        page = text(bayern.get(url))
    assert f"{after_rows} Schritte" in page
    assert after.count == before.count


def test_the_reuse_list_runs_a_constant_number_of_queries(app, count_queries):
    bayern = client_for(app, EDITOR_BY)
    interest(app, make_listing(app))
    bayern.get("/nachnutzungen")
    with count_queries() as before:
        assert bayern.get("/nachnutzungen").status_code == 200
    for _ in range(4):
        interest(app, make_listing(app))
    with count_queries() as after:
        assert bayern.get("/nachnutzungen").status_code == 200
    assert after.count == before.count


def test_the_contract_page_runs_a_constant_number_of_queries(app, count_queries):
    _reuse_id, contract_id = contracted_reuse(app)
    fitko = client_for(app, FITKO_1)
    url = f"/vertraege/{contract_id}"
    fitko.get(url)
    with count_queries() as counter:
        assert fitko.get(url).status_code == 200
    assert counter.count <= 12


@pytest.mark.parametrize("email", [EDITOR_BY, EDITOR_BB, VIEWER_BY, FITKO_1, FITKO_2, ADMIN])
def test_no_page_of_a_reuse_errors_for_any_role_at_any_stage(app, email):
    """Every stage of one reuse, seen by each role: pages answer, never a 500."""
    reuse_id, contract_id = contracted_reuse(app)
    client = client_for(app, email)
    for action in ("start_connecting", "hold", "resume", "terminate"):
        for url in (
            f"/nachnutzungen/{reuse_id}",
            f"/vertraege/{contract_id}",
            f"/nachnutzungen/{reuse_id}/bedingungen",
            "/nachnutzungen",
        ):
            response = client.get(url)
            assert response.status_code in (200, 403), (url, response.status_code)
        advance(app, reuse_id, (EDITOR_BY, action))
    page = text(client.get(f"/nachnutzungen/{reuse_id}"))
    assert "Die Nachnutzung ist gekündigt" in page
    assert 'aria-current="step"' not in page
    assert contract_row(app, contract_id).status == ContractStatus.TERMINATED
