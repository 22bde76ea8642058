"""The cost pages of a listing over HTTP: the yearly split with its Rechenweg, the cost
plan kept by the provider, and the what-if simulator.

Most tests work on the worked example of domain.md as stored data
(``tests.factories.worked_example``): a Brandenburg listing with Brandenburg's own use
and contracts of Hessen, Niedersachsen and Sachsen, key koenigstein / participants in
2027, a plan of 1,200,000.00 EUR. Bayern is not involved in it.
"""

from __future__ import annotations

import math
import re
from datetime import date
from fractions import Fraction
from html import unescape
from html.parser import HTMLParser

import pytest
from sqlalchemy import func, select

from fitstore import costs
from fitstore.extensions import db
from fitstore.models import AuditEvent, CostPlanItem, Reuse
from fitstore.models.base import utcnow
from fitstore.models.reuse import Contract
from fitstore.services import alliances, cost_data, cost_sharing
from tests.factories import (
    WORKED_EXAMPLE_FULL_YEAR,
    WORKED_EXAMPLE_SN_FROM_JULY,
    WORKED_EXAMPLE_YEAR,
    contracted_reuse,
    user_by_email,
    worked_example,
)

YEAR = WORKED_EXAMPLE_YEAR
BB, HE, NI, SN, MV, SH = "12", "06", "03", "14", "13", "01"
EDITOR_BB = "editor-bb@demo.test"
VIEWER_BB = "viewer-bb@demo.test"
EDITOR_HE = "editor-he@demo.test"
EDITOR_BY = "editor-by@demo.test"
FITKO = "fitko-1@demo.test"
ADMIN = "admin@demo.test"


# --- reading pages ------------------------------------------------------------------------


class _Tables(HTMLParser):
    """The tables of a page by id: per row its attributes and its cells' texts."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[dict]] = {}
        self._stack: list[list[dict]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "table":
            rows: list[dict] = []
            self._stack.append(rows)
            if attributes.get("id"):
                self.tables[attributes["id"]] = rows
        elif tag == "tr" and self._stack:
            self._stack[-1].append({"attrs": attributes, "cells": [], "cell_attrs": []})
        elif tag in ("td", "th") and self._stack and self._stack[-1]:
            self._cell = []
            self._stack[-1][-1]["cell_attrs"].append(attributes)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._stack:
            self._stack[-1][-1]["cells"].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table" and self._stack:
            self._stack.pop()

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def tables(html: str) -> dict[str, list[dict]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def cents(text: str) -> int:
    """ "146.796,36 €" -> 14679636 (a sign is kept)."""
    cleaned = text.replace("\xa0", "").replace("€", "").replace(" ", "")
    sign = -1 if cleaned.startswith(("−", "-")) else 1
    digits = cleaned.lstrip("+−-±").replace(".", "").replace(",", "")
    assert re.fullmatch(r"\d+", digits), text
    return sign * int(digits)


def payer_rows(html: str, table_id: str) -> dict[str, list[str]]:
    """Cells of the rows of one payer each (``data-payer``) of a table."""
    return {
        row["attrs"]["data-payer"]: row["cells"]
        for row in tables(html)[table_id]
        if "data-payer" in row["attrs"]
    }


def header(html: str, table_id: str) -> list[str]:
    return tables(html)[table_id][0]["cells"]


def column(html: str, table_id: str, name: str) -> dict[str, str]:
    index = header(html, table_id).index(name)
    return {payer: cells[index] for payer, cells in payer_rows(html, table_id).items()}


def visible(html: str) -> str:
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", body)).split())


def client_for(app, email: str | None):
    from tests.conftest import login

    client = app.test_client()
    if email:
        assert login(client, email).status_code == 302
    return client


def split_url(listing_id: int, year: int = YEAR) -> str:
    return f"/leistungen/{listing_id}/kosten/{year}"


def plan_url(listing_id: int, year: int = YEAR) -> str:
    return f"/leistungen/{listing_id}/kosten/{year}/plan"


def simulation_url(listing_id: int, year: int = YEAR) -> str:
    return f"/leistungen/{listing_id}/kosten/{year}/simulation"


@pytest.fixture
def example(app):
    with app.app_context():
        return worked_example()


def load_koenigstein(year: int) -> None:
    """The Königsteiner Schlüssel 2017 as the key data of ``year`` (inside an app context)."""
    from fitstore.services.system import SystemActor

    if cost_data.key_values("koenigstein", year):
        return
    rows = "".join(
        f"{ags};{value}\n" for ags, value in cost_data.key_values("koenigstein", 2017).items()
    )
    cost_data.import_key_csv(SystemActor(), "koenigstein", year, f"land;value\n{rows}".encode())


def items_of(app, listing_id: int, year: int = YEAR) -> list[tuple[int, str, int, str]]:
    with app.app_context():
        return [
            (item.id, str(item.cost_type), item.amount_cents, item.description)
            for item in db.session.scalars(
                select(CostPlanItem)
                .where(CostPlanItem.listing_id == listing_id, CostPlanItem.year == year)
                .order_by(CostPlanItem.id)
            )
        ]


def audit_count(app, action: str) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count(AuditEvent.id)).where(AuditEvent.action == action)
        )


def row_counts(app) -> dict[str, int]:
    with app.app_context():
        return {
            model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (CostPlanItem, Reuse, Contract, AuditEvent)
        }


# --- the split and its Rechenweg: the worked example to the cent ----------------------------

FULL_YEAR_EXACT = {BB: "14679636,06", HE: "35768363,85", NI: "45110820,60", SN: "24441179,49"}
SN_FROM_JULY_EXACT = {BB: "16344089,49", HE: "39823966,85", NI: "50225719,92", SN: "13606223,73"}


@pytest.mark.parametrize(
    ("sn_from_july", "expected", "exact", "winners", "text"),
    [
        (
            False,
            WORKED_EXAMPLE_FULL_YEAR,
            FULL_YEAR_EXACT,
            {HE, NI},
            "2 Cent bleiben übrig; sie gehen einzeln an die größten Reste: "
            "Hessen (Rest 0,85), Niedersachsen (Rest 0,60).",
        ),
        (
            True,
            WORKED_EXAMPLE_SN_FROM_JULY,
            SN_FROM_JULY_EXACT,
            {NI, HE, SN},
            "3 Cent bleiben übrig; sie gehen einzeln an die größten Reste: "
            "Niedersachsen (Rest 0,92), Hessen (Rest 0,85), Sachsen (Rest 0,73).",
        ),
    ],
    ids=["full year", "SN from July"],
)
def test_the_worked_example_comes_out_to_the_cent_on_the_page(
    app, sn_from_july, expected, exact, winners, text
):
    with app.app_context():
        listing_id = worked_example(sn_from_july=sn_from_july)
    response = client_for(app, FITKO).get(split_url(listing_id))
    assert response.status_code == 200
    html = response.get_data(as_text=True)

    amounts = column(html, "split-caption-table", "Betrag")
    assert {payer: cents(text) for payer, text in amounts.items()} == expected
    footer = tables(html)["split-caption-table"][-1]["cells"]
    assert footer[0] == "Summe" and cents(footer[-1]) == 120_000_000
    months = column(html, "split-caption-table", "Monate")
    assert months == {BB: "12", HE: "12", NI: "12", SN: "6" if sn_from_july else "12"}
    if not sn_from_july:
        # domain.md: Königsteiner Schlüssel 2017 as the weight, renormalised shares.
        weights = column(html, "split-caption-table", "Königsteiner Schlüssel 2027")
        assert weights == {BB: "3,03655", HE: "7,39885", NI: "9,33138", SN: "5,05577"}
        shares = column(html, "split-caption-table", "Anteil in %")
        assert shares == {BB: "12,23303", HE: "29,80697", NI: "37,59235", SN: "20,36765"}
        assert "146.796,36 €" in visible(html)
        assert "244.411,79 €" in visible(html)

    way = "way-participants-caption-table"
    assert column(html, way, "Exakte Cent") == exact
    extra = column(html, way, "Restcent")
    assert {payer for payer, mark in extra.items() if mark == "+1"} == winners
    floors = {
        payer: int(text.replace(".", ""))
        for payer, text in column(html, way, "Abgerundet (Cent)").items()
    }
    assert {payer: floors[payer] + (payer in winners) for payer in floors} == expected
    assert text in visible(html)
    floor_sum = sum(floors.values())
    assert f"ergeben {floor_sum:,} Cent von 120.000.000 Cent".replace(",", ".") in visible(html)
    # The chart is an image with a name, and its bars carry the same amounts as the table.
    assert re.search(r'<svg[^>]*role="img"[^>]*aria-labelledby="cost-chart-title', html)
    for payer_cents in expected.values():
        amount = f"{payer_cents / 100:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")
        assert html.count(amount) >= 3  # bar label, table, Rechenweg


def test_the_split_page_names_key_source_participants_and_plan(app, example):
    html = client_for(app, EDITOR_HE).get(split_url(example)).get_data(as_text=True)
    text = visible(html)
    assert "Königsteiner Schlüssel" in text
    assert "Beteiligte Länder tragen 100 %" in text
    assert "beschlossen" in text and "Einstimmiger Beschluss der Allianz" in text
    participants = {
        row["attrs"]["data-land"]: row["cells"][1:]
        for row in tables(html)["participants-table"]
        if "data-land" in row["attrs"]
    }
    assert set(participants) == {BB, HE, NI, SN}
    assert participants[BB][:2] == ["12", "Januar–Dezember"]
    assert participants[BB][2].startswith("Eigennutzung des bereitstellenden Landes seit ")
    assert re.fullmatch(r"Vertrag NV-\d{4}-\d+ seit 01\.01\.2027", participants[HE][2])
    assert "Betrieb technische Infrastruktur 800.000,00 €" in text
    assert "Fachliche Weiterentwicklung 400.000,00 €" in text
    assert "Gesamtkosten 1.200.000,00 €" in text
    # Links to the plan, the simulator, the usage figures and the alliance.
    for href in (
        plan_url(example),
        simulation_url(example),
        f"/leistungen/{example}/nutzung?jahr={YEAR}",
        f"/leistungen/{example}/allianz",
    ):
        assert f'href="{href}"' in html


def test_efa_2024_shows_the_three_pools_and_sums_to_the_total(app):
    with app.app_context():
        listing_id = worked_example()
        bb = user_by_email(EDITOR_BB)
        alliances.propose_cost_key(bb, listing_id, YEAR + 1, "koenigstein", "efa_2024", {}, "")
        load_koenigstein(YEAR + 1)
        cost_sharing.add_plan_item(bb, listing_id, YEAR + 1, "platform_fees", 100_000_001, "")
        expected = cost_sharing.listing_split(bb, listing_id, YEAR + 1).split
    html = client_for(app, FITKO).get(split_url(listing_id, YEAR + 1)).get_data(as_text=True)
    table = "split-caption-table"
    assert header(html, table)[4:7] == ["Beteiligte (50 %)", "Bund (25 %)", "Alle Länder (25 %)"]
    amounts = {payer: cents(text) for payer, text in column(html, table, "Betrag").items()}
    assert amounts == dict(expected.cents)
    assert len(amounts) == 17  # 16 Länder and the Bund
    assert sum(amounts.values()) == 100_000_001
    footer = tables(html)[table][-1]["cells"]
    assert [cents(cell) for cell in footer[4:]] == [50_000_001, 25_000_000, 25_000_000, 100_000_001]
    assert "Schritt 0: der Gesamtbetrag in drei Töpfe" in visible(html)
    assert "way-laender-caption-table" in tables(html)


def test_a_mixed_key_shows_each_component_renormalised_and_combined(app, example):
    with app.app_context():
        bb = user_by_email(EDITOR_BB)
        parameters = {"equal": "50", "koenigstein": "50"}
        alliances.propose_cost_key(bb, example, YEAR + 1, "mixed", "participants", parameters, "")
        load_koenigstein(YEAR + 1)
        cost_sharing.add_plan_item(bb, example, YEAR + 1, "direct", 120_000_000, "")
    html = client_for(app, FITKO).get(split_url(example, YEAR + 1)).get_data(as_text=True)
    assert "Mischschlüssel: Gleiche Teile 50 %, Königsteiner Schlüssel 50 %" in visible(html)
    components = [row["cells"] for row in tables(html)["way-participants-mix-table"][1:]]
    by_land = {(cells[0], cells[1]): cells[2:] for cells in components}
    # Brandenburg: 1 of 4 equal parts; 3.03655 of the four Länder's 24.82255 points.
    assert by_land[("Brandenburg", "Gleiche Teile")] == ["–", "25,00000", "50 %", "12,50000"]
    assert by_land[("Brandenburg", "Königsteiner Schlüssel")] == [
        "3,03655",
        "12,23303",
        "50 %",
        "6,11652",
    ]
    combined = column(html, "way-participants-caption-table", "Kombinierter Anteil in %")
    assert combined[BB] == "18,61652"
    amounts = {p: cents(t) for p, t in column(html, "split-caption-table", "Betrag").items()}
    assert sum(amounts.values()) == 120_000_000
    exact = 120_000_000 * (Fraction(1, 8) + Fraction(1, 2) * Fraction(303655, 2482255))
    assert amounts[BB] in (math.floor(exact), math.floor(exact) + 1)


# --- who sees what -------------------------------------------------------------------------


@pytest.mark.parametrize("email", [FITKO, ADMIN, EDITOR_BB, VIEWER_BB, EDITOR_HE])
def test_provider_participants_fitko_and_admins_see_every_cost_page(app, example, email):
    client = client_for(app, email)
    for url in (
        split_url(example),
        plan_url(example),
        simulation_url(example),
        simulation_url(example) + "/ergebnis",
    ):
        assert client.get(url).status_code == 200, url
    overview = client.get(f"/leistungen/{example}/kosten")
    assert overview.status_code == 302
    assert overview.headers["Location"].endswith(split_url(example))


def test_an_uninvolved_land_gets_404_everywhere_and_no_link(app, example):
    client = client_for(app, EDITOR_BY)
    for url in (
        f"/leistungen/{example}/kosten",
        split_url(example),
        plan_url(example),
        simulation_url(example),
        simulation_url(example) + "/ergebnis?key=equal&funding_model=participants&land=09&ab_09=1",
    ):
        assert client.get(url).status_code == 404, url
    assert (
        client.post(plan_url(example), data={"cost_type": "direct", "amount": "1"}).status_code
        == 404
    )
    for page in (f"/leistungen/{example}", f"/leistungen/{example}/allianz"):
        assert "Kosten und Aufteilung" not in client.get(page).get_data(as_text=True)
    assert len(items_of(app, example)) == 2


def test_a_participant_outside_the_alliance_sees_only_its_own_contract_number(app, example):
    # Hessen takes part but is no member of the alliance: as on the reuse pages, the
    # contracts of the other Länder stay private; the provider sees every number.
    with app.app_context():
        numbers = dict(
            db.session.execute(
                select(Reuse.adopter_land_ags, Contract.number)
                .join(Contract, Contract.reuse_id == Reuse.id)
                .where(Reuse.listing_id == example)
            ).all()
        )
    seen_by_hessen = client_for(app, EDITOR_HE).get(split_url(example)).get_data(as_text=True)
    assert numbers[HE] in seen_by_hessen
    assert numbers[NI] not in seen_by_hessen and numbers[SN] not in seen_by_hessen
    assert "Nachnutzungsvertrag in Kraft" in seen_by_hessen
    seen_by_provider = client_for(app, EDITOR_BB).get(split_url(example)).get_data(as_text=True)
    assert all(numbers[land] in seen_by_provider for land in (HE, NI, SN))


def test_anonymous_visitors_are_sent_to_the_login(app, example):
    client = app.test_client()
    for url in (
        f"/leistungen/{example}/kosten",
        split_url(example),
        plan_url(example),
        simulation_url(example),
    ):
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/anmelden?next=" in response.headers["Location"]
    assert "Kosten und Aufteilung" not in client.get(f"/leistungen/{example}").get_data(
        as_text=True
    )


@pytest.mark.parametrize("email", [EDITOR_HE, FITKO])
def test_the_listing_and_alliance_pages_link_to_the_costs_for_those_who_may_see_them(
    app, example, email
):
    client = client_for(app, email)
    link = f'href="/leistungen/{example}/kosten"'
    assert link in client.get(f"/leistungen/{example}").get_data(as_text=True)
    assert link in client.get(f"/leistungen/{example}/allianz").get_data(as_text=True)


def test_viewer_of_the_provider_sees_the_plan_without_edit_controls(app, example):
    client = client_for(app, VIEWER_BB)
    html = client.get(plan_url(example)).get_data(as_text=True)
    assert "Betrieb technische Infrastruktur" in html
    assert "Position hinzufügen" not in html
    item_id = items_of(app, example)[0][0]
    assert "/loeschen" not in html and f"/plan/{item_id}" not in html
    assert client.get(f"{plan_url(example)}/{item_id}").status_code == 403
    assert (
        client.post(plan_url(example), data={"cost_type": "direct", "amount": "5"}).status_code
        == 403
    )
    assert len(items_of(app, example)) == 2


# --- editing the plan ---------------------------------------------------------------------


def test_the_provider_adds_edits_and_deletes_an_item_with_one_audit_row_each(app, example):
    client = client_for(app, EDITOR_BB)
    html = client.get(plan_url(example)).get_data(as_text=True)
    assert "Einmalige Anbindungskosten gehören nicht in den Kostenplan" in visible(html)
    for label in (
        "Betrieb technische Infrastruktur",
        "Fachliche Weiterentwicklung",
        "Plattformentgelte",
        "Betrieb Online-Dienst",
        "Direkte Kosten",
    ):
        assert f">{label}</option>" in html
    before = {
        action: audit_count(app, action)
        for action in ("cost_plan.item_added", "cost_plan.item_changed", "cost_plan.item_removed")
    }

    response = client.post(
        plan_url(example),
        data={"cost_type": "platform_fees", "description": "Plattform", "amount": "12.345,67"},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(plan_url(example))
    added = items_of(app, example)[-1]
    assert added[1:] == ("platform_fees", 1_234_567, "Plattform")
    assert audit_count(app, "cost_plan.item_added") == before["cost_plan.item_added"] + 1
    page = client.get(plan_url(example)).get_data(as_text=True)
    assert "ist im Kostenplan 2027" in visible(page)
    assert "1.200.000,00 €" not in visible(page) and "1.212.345,67 €" in visible(page)

    edit_url = f"{plan_url(example)}/{added[0]}"
    form = client.get(edit_url).get_data(as_text=True)
    assert 'value="12.345,67"' in form
    assert re.search(r'name="lock_version" value="1"', form)
    response = client.post(
        edit_url,
        data={
            "cost_type": "service_operation",
            "description": "Betrieb",
            "amount": "20000",
            "lock_version": "1",
        },
    )
    assert response.status_code == 302
    assert items_of(app, example)[-1][1:] == ("service_operation", 2_000_000, "Betrieb")
    assert audit_count(app, "cost_plan.item_changed") == before["cost_plan.item_changed"] + 1

    response = client.post(f"{edit_url}/loeschen", data={"lock_version": "2"})
    assert response.status_code == 302
    assert added[0] not in [item[0] for item in items_of(app, example)]
    assert audit_count(app, "cost_plan.item_removed") == before["cost_plan.item_removed"] + 1
    assert audit_count(app, "cost_plan.item_added") == before["cost_plan.item_added"] + 1
    assert audit_count(app, "cost_plan.item_changed") == before["cost_plan.item_changed"] + 1
    assert "ist gelöscht" in visible(client.get(plan_url(example)).get_data(as_text=True))


def test_a_participant_who_is_not_the_provider_cannot_change_the_plan(app, example):
    client = client_for(app, EDITOR_HE)
    item_id = items_of(app, example)[0][0]
    before = items_of(app, example)
    assert (
        client.post(plan_url(example), data={"cost_type": "direct", "amount": "5"}).status_code
        == 403
    )
    assert client.get(f"{plan_url(example)}/{item_id}").status_code == 403
    assert (
        client.post(
            f"{plan_url(example)}/{item_id}",
            data={"cost_type": "direct", "amount": "5", "lock_version": "1"},
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"{plan_url(example)}/{item_id}/loeschen", data={"lock_version": "1"}
        ).status_code
        == 403
    )
    assert items_of(app, example) == before


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("-5", "Der Betrag darf nicht negativ sein."),
        ("abc", "Bitte geben Sie einen Betrag in Euro an"),
        ("1,234", "Bitte höchstens zwei Nachkommastellen (Cent) angeben."),
        ("1" * 25, "Der Betrag ist zu groß."),
        ("", "Bitte geben Sie den Betrag in Euro an"),
    ],
)
def test_bad_amounts_are_refused_with_a_german_message_and_nothing_stored(
    app, example, amount, message
):
    client = client_for(app, EDITOR_BB)
    before, audits = items_of(app, example), audit_count(app, "cost_plan.item_added")
    response = client.post(
        plan_url(example), data={"cost_type": "direct", "description": "X", "amount": amount}
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = re.search(r'<p class="kern-error" id="amount-error"[^>]*>(.*?)</p>', html, re.S)
    assert error and message in visible(error.group(1))
    assert re.search(
        r'<input[^>]*aria-invalid="true"[^>]*id="amount"|<input[^>]*id="amount"[^>]*aria-invalid="true"',
        html,
    )
    assert "Bitte prüfen Sie Ihre Angaben" in html
    assert items_of(app, example) == before
    assert audit_count(app, "cost_plan.item_added") == audits
    item_id = before[0][0]
    response = client.post(
        f"{plan_url(example)}/{item_id}",
        data={"cost_type": "direct", "amount": amount, "lock_version": "1"},
    )
    assert response.status_code == 422
    assert items_of(app, example) == before


def test_a_plan_sum_beyond_a_bigint_is_refused_by_the_service(app, example):
    almost = 999_999_999_999_999_999  # the largest amount the form takes, in cents
    with app.app_context():
        bb = user_by_email(EDITOR_BB)
        for _n in range(9):
            cost_sharing.add_plan_item(bb, example, YEAR + 2, "direct", almost, "")
    client = client_for(app, EDITOR_BB)
    response = client.post(
        plan_url(example, YEAR + 2),
        data={"cost_type": "direct", "amount": "9.999.999.999.999.999,99"},
    )
    assert response.status_code == 422
    assert "überstiege die Summe des Kostenplans" in visible(response.get_data(as_text=True))
    assert len(items_of(app, example, YEAR + 2)) == 9


def test_a_stale_version_is_refused_with_the_current_state_and_nothing_lost(app, example):
    client = client_for(app, EDITOR_BB)
    item_id, _type, amount, _description = items_of(app, example)[0]
    url = f"{plan_url(example)}/{item_id}"
    first = {
        "cost_type": "direct",
        "description": "erste Änderung",
        "amount": "1,00",
        "lock_version": "1",
    }
    assert client.post(url, data=first).status_code == 302
    stale = {
        "cost_type": "direct",
        "description": "zweite Änderung",
        "amount": "2,00",
        "lock_version": "1",
    }
    response = client.post(url, data=stale)
    assert response.status_code == 412
    html = response.get_data(as_text=True)
    assert "inzwischen geändert" in visible(html)
    assert "Aktueller Stand der Position" in visible(html) and "erste Änderung" in html
    assert 'value="2,00"' in html  # what the user typed is still there
    assert items_of(app, example)[0][2:] == (100, "erste Änderung")
    response = client.post(f"{url}/loeschen", data={"lock_version": "1"})
    assert response.status_code == 412
    assert "inzwischen geändert" in visible(response.get_data(as_text=True))
    assert items_of(app, example)[0][0] == item_id


def test_years_outside_the_range_and_foreign_items_are_not_found(app, example):
    client = client_for(app, EDITOR_BB)
    assert client.get(split_url(example, 1999)).status_code == 404
    assert client.get(plan_url(example, 2101)).status_code == 404
    item_id = items_of(app, example)[0][0]
    assert client.get(f"{plan_url(example, YEAR + 1)}/{item_id}").status_code == 404
    assert client.get(f"{plan_url(example)}/999999").status_code == 404


# --- the simulator --------------------------------------------------------------------------


def _query(participants: dict[str, int], key="koenigstein", model="participants", **extra) -> dict:
    """The simulator's GET query: ``participants`` maps AGS -> start month."""
    query: dict = {"key": key, "funding_model": model, "land": list(participants), "total": ""}
    query.update({f"ab_{ags}": str(start) for ags, start in participants.items()})
    query.update(extra)
    return query


def test_the_simulator_is_prefilled_with_the_real_situation(app):
    with app.app_context():
        listing_id = worked_example(sn_from_july=True)
    html = client_for(app, EDITOR_HE).get(simulation_url(listing_id)).get_data(as_text=True)
    assert "Simulation – es wird nichts gespeichert" in visible(html)
    checked = set(re.findall(r'name="land" value="(\d\d)" checked', html))
    assert checked == {BB, HE, NI, SN}
    sn_select = re.search(r'<select[^>]*name="ab_14".*?</select>', html, re.S).group(0)
    assert re.search(r'<option value="7" selected>Juli</option>', sn_select)
    assert '<option selected value="koenigstein">' in html
    assert 'value="1.200.000,00"' in html
    assert '<script src="/static/js/cost-simulation.js" defer></script>' in html
    assert 'aria-live="polite"' in html


def test_adding_mv_and_sh_from_april_recomputes_and_saves_nothing(app, example):
    client = client_for(app, EDITOR_BB)
    before = row_counts(app)
    participants = {BB: 1, HE: 1, NI: 1, SN: 1, MV: 4, SH: 4}
    response = client.get(simulation_url(example), query_string=_query(participants))
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    table = "simulation-caption-table"
    with app.app_context():
        expected = costs.split(
            costs.SplitRequest(
                total_cents=120_000_000,
                participants=[
                    costs.Participant(ags, 13 - start) for ags, start in participants.items()
                ],
                key="koenigstein",
                key_data={"koenigstein": cost_data.key_values("koenigstein", YEAR)},
            )
        ).cents
    simulated = {
        payer: cents(text) for payer, text in column(html, table, "Betrag (Simulation)").items()
    }
    assert simulated == dict(expected)
    assert column(html, table, "Monate")[MV] == "9" and column(html, table, "Monate")[SH] == "9"
    assert simulated[MV] > 0 and simulated[SH] > 0
    today = {payer: cents(text) for payer, text in column(html, table, "Betrag bisher").items()}
    assert today == {**WORKED_EXAMPLE_FULL_YEAR, MV: 0, SH: 0}
    differences = {payer: cents(text) for payer, text in column(html, table, "Differenz").items()}
    assert differences == {payer: simulated[payer] - today[payer] for payer in simulated}
    assert all(differences[payer] < 0 for payer in (BB, HE, NI, SN))
    assert row_counts(app) == before


def test_removing_a_land_shows_it_with_nothing_to_pay(app, example):
    client = client_for(app, EDITOR_BB)
    html = client.get(simulation_url(example), query_string=_query({BB: 1, HE: 1, NI: 1})).get_data(
        as_text=True
    )
    table = "simulation-caption-table"
    simulated = {
        payer: cents(text) for payer, text in column(html, table, "Betrag (Simulation)").items()
    }
    assert simulated[SN] == 0 and sum(simulated.values()) == 120_000_000
    assert cents(column(html, table, "Differenz")[SN]) == -WORKED_EXAMPLE_FULL_YEAR[SN]


def test_a_mixed_key_not_summing_to_100_is_refused_at_its_field(app, example):
    client = client_for(app, EDITOR_BB)
    before = row_counts(app)
    query = _query({BB: 1, HE: 1}, key="mixed", share_usage="60", share_koenigstein="30")
    response = client.get(simulation_url(example), query_string=query)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = re.search(r'<p class="kern-error" id="shares-error"[^>]*>(.*?)</p>', html, re.S)
    assert error and "100" in visible(error.group(1)) and "90" in visible(error.group(1))
    assert 'href="#shares"' in html
    assert "simulation-caption-table" not in tables(html)
    fragment = client.get(simulation_url(example) + "/ergebnis", query_string=query)
    assert fragment.status_code == 422
    assert "100" in visible(fragment.get_data(as_text=True))
    assert row_counts(app) == before


def test_a_valid_mixed_key_recomputes_with_the_given_total(app, example):
    client = client_for(app, EDITOR_BB)
    query = _query(
        {BB: 1, HE: 1}, key="mixed", share_equal="50", share_koenigstein="50", total="1.000,00"
    )
    html = client.get(simulation_url(example), query_string=query).get_data(as_text=True)
    simulated = column(html, "simulation-caption-table", "Betrag (Simulation)")
    # BB: half of the equal halves plus half of its Königsteiner share among the two.
    exact = 100_000 * (Fraction(1, 4) + Fraction(1, 2) * Fraction(303655, 303655 + 739885))
    assert cents(simulated[BB]) in (math.floor(exact), math.floor(exact) + 1)
    assert sum(cents(text) for text in simulated.values()) == 100_000
    assert "Gesamtbetrag 1.000,00" in visible(html)


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"land": []}, "land", "mindestens ein teilnehmendes Land"),
        ({"ab_12": "13"}, "ab_12", "einen Monat von Januar bis Dezember"),
        ({"total": "-3"}, "total", "nicht negativ"),
        ({"key": "dice"}, "key", "Unbekannter Schlüssel"),
        ({"funding_model": "lottery"}, "funding_model", "Unbekanntes Finanzierungsmodell"),
    ],
)
def test_invalid_simulator_input_is_tied_to_its_field(app, example, query, field, message):
    client = client_for(app, EDITOR_BB)
    response = client.get(simulation_url(example), query_string={**_query({BB: 1}), **query})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    error = re.search(rf'id="{field}-error"[^>]*>(.*?)</p>', html, re.S)
    assert error and message in visible(error.group(1)), html[:200]


def test_the_fragment_is_the_result_region_only(app, example):
    client = client_for(app, EDITOR_BB)
    response = client.get(
        simulation_url(example) + "/ergebnis", query_string=_query({BB: 1, HE: 1, MV: 4})
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" not in html and "<form" not in html and "<nav" not in html
    assert list(tables(html)) == ["simulation-caption-table"]
    simulated = column(html, "simulation-caption-table", "Betrag (Simulation)")
    assert set(simulated) == {BB, HE, MV, NI, SN}
    assert cents(simulated[NI]) == 0 and cents(simulated[MV]) > 0


def test_a_simulated_year_without_key_data_shows_the_problem(app, example):
    html = (
        client_for(app, EDITOR_BB)
        .get(simulation_url(example, 2031), query_string=_query({BB: 1}, total="100"))
        .get_data(as_text=True)
    )
    assert "Für 2031 liegen keine Schlüsseldaten „Königsteiner Schlüssel“ vor" in visible(html)


# --- problems instead of a split ------------------------------------------------------------


def test_a_year_without_key_data_names_the_key_and_where_to_fix_it(app, example):
    with app.app_context():
        bb = user_by_email(EDITOR_BB)
        alliances.propose_cost_key(bb, example, 2031, "koenigstein", "participants", {}, "")
        cost_sharing.add_plan_item(bb, example, 2031, "direct", 500_000, "")
    for email, link in ((ADMIN, True), (FITKO, False)):
        html = client_for(app, email).get(split_url(example, 2031)).get_data(as_text=True)
        assert 'class="kern-alert kern-alert--danger" role="alert"' in html
        assert "Für 2031 liegen keine Schlüsseldaten „Königsteiner Schlüssel“ vor" in visible(html)
        assert ('href="/verwaltung/schluesseldaten"' in html) is link
        assert "split-caption-table" not in tables(html)
        assert 'id="rechenweg"' not in html


def test_a_usage_key_without_figures_links_to_the_usage_page(app, example):
    with app.app_context():
        cost_sharing.add_plan_item(user_by_email(EDITOR_BB), example, YEAR + 1, "direct", 100, "")
    html = client_for(app, EDITOR_HE).get(split_url(example, YEAR + 1)).get_data(as_text=True)
    assert "Tatsächliche Nutzung" in visible(html)
    assert "braucht Nutzungszahlen" in visible(html)
    assert f'href="/leistungen/{example}/nutzung?jahr={YEAR + 1}"' in html
    assert "split-caption-table" not in tables(html)


def test_a_year_without_plan_links_to_the_plan(app, example):
    html = client_for(app, EDITOR_BB).get(split_url(example, YEAR + 3)).get_data(as_text=True)
    assert f"Für {YEAR + 3} gibt es noch keinen Kostenplan" in visible(html)
    assert f'href="{plan_url(example, YEAR + 3)}"' in html


def test_usage_warnings_are_shown(app, example):
    # Usage is counted, never forecast: this year, in which Brandenburg uses the listing
    # itself and Bayern's contract takes effect today, but only Brandenburg reports figures.
    year = utcnow().year
    with app.app_context():
        bb = user_by_email(EDITOR_BB)
        contracted_reuse(example, "by", utcnow().date())
        cost_sharing.add_plan_item(bb, example, year, "direct", 100, "")
        cost_data.record_usage(bb, example, year, 10)
    html = client_for(app, FITKO).get(split_url(example, year)).get_data(as_text=True)
    assert "Hinweise zur Berechnung" in visible(html)
    assert f"Ohne Nutzungszahl für {year}, daher mit 0 gezählt: Bayern." in visible(html)
    amounts = column(html, "split-caption-table", "Betrag")
    assert {payer: cents(text) for payer, text in amounts.items()} == {BB: 100, "09": 0}


# --- constant queries -----------------------------------------------------------------------


def test_the_split_page_runs_the_same_queries_for_4_and_12_participants(
    app, example, count_queries
):
    client = client_for(app, FITKO)

    def measure() -> int:
        client.get(split_url(example))  # warm-up
        with count_queries() as counter:
            assert client.get(split_url(example)).status_code == 200
        return counter.count

    few = measure()
    with app.app_context():
        for code in ("by", "nw", "mv", "sh", "rp", "sl", "be", "th"):
            contracted_reuse(example, code, date(YEAR, 3, 1))
    many = measure()
    html = client.get(split_url(example)).get_data(as_text=True)
    assert len(payer_rows(html, "split-caption-table")) == 12
    assert many == few
