"""The cost statement of a Land over HTTP: the page, its CSV and XLSX downloads, who sees
which Land's statement, and a constant number of queries.

The data come from the worked example of domain.md (``tests.factories.worked_example``,
year 2027: Brandenburg provides and uses the listing, Hessen, Niedersachsen and Sachsen
have contracts) and from small listings of Brandenburg made here through the services.
The demo data of the test database may hold other listings of the same year, so the
tests look at the rows of their own listings and at sums, never at a fixed row count.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser

import openpyxl
import pytest

from fitstore.services import alliances, cost_data, cost_sharing, listings, reuses
from tests.factories import (
    WORKED_EXAMPLE_FULL_YEAR,
    WORKED_EXAMPLE_SN_FROM_JULY,
    WORKED_EXAMPLE_YEAR,
    contracted_reuse,
    listing_content,
    user_by_email,
    worked_example,
)

YEAR = WORKED_EXAMPLE_YEAR
NAMES = {"12": "Brandenburg", "06": "Hessen", "03": "Niedersachsen", "14": "Sachsen"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def url(ags: str, year: int = YEAR, suffix: str = "") -> str:
    return f"/kosten/abrechnung/{ags}/{year}{suffix}"


# --- data through the services ----------------------------------------------------------


def bb_listing(title: str, *, key: str | None = "equal", plan_cents: int | None = 1_000_000):
    """A published listing of Brandenburg that Brandenburg uses itself since 2025, with the
    alliance's key for 2027 (adopted at once: the lead is the only member) and a plan."""
    bb, fitko = user_by_email("editor-bb@demo.test"), user_by_email("fitko-1@demo.test")
    listing = listings.create_listing(bb, listing_content(title=title))
    listing_id = listing.id
    listings.submit_listing(bb, listing_id)
    listings.publish_listing(fitko, listing_id)
    reuses.record_own_use(bb, listing_id, "2025-01-01")
    if key:
        alliances.propose_cost_key(bb, listing_id, YEAR, key, "participants", {}, "")
    if plan_cents:
        cost_sharing.add_plan_item(bb, listing_id, YEAR, "infrastructure", plan_cents, "Betrieb")
    return listing_id


def split_cents(listing_id: int, year: int = YEAR) -> dict[str, int]:
    result = cost_sharing.listing_split(user_by_email("fitko-1@demo.test"), listing_id, year)
    assert result.problem is None, result.problem
    return dict(result.split.cents)


def switch_to(client, login_as, email: str) -> None:
    """Log out and in as ``email`` (the login page sends a logged-in user home)."""
    assert client.post("/abmelden").status_code == 302
    login_as(email)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


# --- reading the page -------------------------------------------------------------------


class Tables(HTMLParser):
    """The rows of every table with an id: per row its ``data-listing``, the text of each
    cell and the links in it."""

    def __init__(self, markup: str):
        super().__init__()
        self.tables: dict[str, list[dict]] = {}
        self._table: str | None = None
        self._row: dict | None = None
        self._cell: dict | None = None
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "table" and attributes.get("id"):
            self._table = attributes["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self._row = {"listing": attributes.get("data-listing"), "cells": [], "links": []}
        elif tag in ("th", "td") and self._row is not None:
            self._cell = {"text": ""}
        elif tag == "a" and self._row is not None:
            self._row["links"].append(attributes.get("href"))

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self._cell is not None:
            self._row["cells"].append(" ".join(self._cell["text"].split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data


def cents(text: str) -> int:
    """ "357.683,64 €" (as the page shows it) -> 35768364."""
    match = re.search(r"(\d{1,3}(?:\.\d{3})*),(\d{2})\s*€", text)
    assert match, f"no Euro amount in {text!r}"
    return int(match.group(1).replace(".", "") + match.group(2))


def body_rows(page: str, table: str) -> list[dict]:
    rows = Tables(page).tables[table]
    return list(rows[1:-1])  # without the header row and the sum row


def row_of(page: str, table: str, listing_id: int) -> dict:
    (row,) = [row for row in body_rows(page, table) if row["listing"] == str(listing_id)]
    return row


def grand_total(page: str) -> int:
    match = re.search(r'data-cents="(\d+)" data-total><strong>([^<]+)</strong>', page)
    assert match, "no grand total on the page"
    assert int(match.group(1)) == cents(match.group(2))
    return cents(match.group(2))


def table_sum(page: str, table: str) -> int:
    return cents(Tables(page).tables[table][-1]["cells"][-1])


# --- the worked example -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("sn_from_july", "expected"),
    [(False, WORKED_EXAMPLE_FULL_YEAR), (True, WORKED_EXAMPLE_SN_FROM_JULY)],
    ids=["full-year", "sn-from-july"],
)
def test_each_participant_statement_shows_its_worked_example_cents(
    app, client, login_as, sn_from_july, expected
):
    with app.app_context():
        listing_id = worked_example(sn_from_july=sn_from_july)
    login_as("fitko-1@demo.test")
    for ags, expected_cents in expected.items():
        page = client.get(url(ags)).get_data(as_text=True)
        assert f"Kostenabrechnung {NAMES[ags]} {YEAR}" in page
        row = row_of(page, "shares-table", listing_id)
        assert cents(row["cells"][-1]) == expected_cents, ags
        months = 6 if sn_from_july and ags == "14" else 12
        assert row["cells"][3] == str(months)


def test_hessen_sees_its_share_with_key_months_percent_and_a_link_to_the_split(
    app, client, login_as
):
    with app.app_context():
        listing_id = worked_example()
    login_as("editor-he@demo.test")
    response = client.get(url("06"))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f'<h1 class="kern-heading-x-large">Kostenabrechnung Hessen {YEAR}</h1>' in page
    row = row_of(page, "shares-table", listing_id)
    title, key, model, months, share, plan, amount = row["cells"]
    assert title == "Kostenbeispiel Aufenthalt"
    assert key.startswith("Königsteiner Schlüssel")
    assert "Einstimmiger Beschluss der Allianz" in key
    assert model == "Beteiligte Länder tragen 100 %"
    assert months == "12"
    assert share == "29,80697 %"
    assert cents(plan) == 120_000_000
    assert amount == "357.683,64 €"
    assert "357.683,64\xa0€</td>" in page  # as the Euro filter writes it
    assert row["links"] == [f"/leistungen/{listing_id}/kosten/{YEAR}"]
    # The table's sum is the sum of its rows, and the total adds the one-off costs.
    rows = body_rows(page, "shares-table")
    assert table_sum(page, "shares-table") == sum(cents(r["cells"][-1]) for r in rows)
    one_off = table_sum(page, "connection-table") if 'id="connection-table"' in page else 0
    assert grand_total(page) == table_sum(page, "shares-table") + one_off


# --- CSV and XLSX -----------------------------------------------------------------------


@pytest.fixture
def hessen_2027(ctx):
    """The worked example plus a listing Hessen joins in March 2027 with 2,500.00 EUR
    Anbindungskosten, and one it joins in 2028 with 990.00 EUR."""
    worked = worked_example()
    joined = bb_listing("Anbindung Kranich", plan_cents=600_000)
    contracted_reuse(joined, "he", date(YEAR, 3, 1), connection_cents=250_000)
    later = bb_listing("Anbindung Reiher", plan_cents=300_000)
    contracted_reuse(later, "he", date(YEAR + 1, 2, 1), connection_cents=99_000)
    return {"worked": worked, "joined": joined, "later": later}


def test_connection_costs_are_billed_in_the_year_the_contract_takes_effect_and_never_shared(
    app, client, login_as, hessen_2027
):
    joined, later = hessen_2027["joined"], hessen_2027["later"]
    shared = split_cents(joined)
    # Hessen pays equal parts for March to December (10 of 12 months) ...
    assert shared["06"] + shared["12"] == 600_000
    assert shared["06"] == 600_000 * 10 // 22
    login_as("editor-he@demo.test")
    page = client.get(url("06")).get_data(as_text=True)
    # ... and that share of the running costs is all the shared table holds for it.
    assert cents(row_of(page, "shares-table", joined)["cells"][-1]) == shared["06"]
    one_off = row_of(page, "connection-table", joined)
    assert one_off["cells"][0] == "Anbindung Kranich"
    assert one_off["cells"][1].startswith("NV-")
    assert one_off["cells"][2] == "01.03.2027"
    assert cents(one_off["cells"][3]) == 250_000
    # The contract taking effect in 2028 is not in 2027's statement ...
    assert [r["listing"] for r in body_rows(page, "connection-table")] == [str(joined)]
    assert table_sum(page, "connection-table") == 250_000
    assert grand_total(page) == table_sum(page, "shares-table") + 250_000
    assert "sie werden nie geteilt" in page
    # ... but in 2028's, where the listing has no plan (nothing shared) either.
    page_2028 = client.get(url("06", YEAR + 1)).get_data(as_text=True)
    assert cents(row_of(page_2028, "connection-table", later)["cells"][3]) == 99_000
    assert str(joined) not in [r["listing"] for r in body_rows(page_2028, "connection-table")]
    # Brandenburg, the provider, pays no one-off costs of Hessen's contracts.
    switch_to(client, login_as, "fitko-1@demo.test")
    bb_page = client.get(url("12")).get_data(as_text=True)
    bb_one_off = Tables(bb_page).tables.get("connection-table", [])
    assert not {str(joined), str(later)} & {row["listing"] for row in bb_one_off}


def test_the_csv_holds_the_cents_of_the_page(app, client, login_as, hessen_2027):
    login_as("editor-he@demo.test")
    page = client.get(url("06")).get_data(as_text=True)
    response = client.get(url("06", suffix=".csv"))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        response.headers["Content-Disposition"]
        == f'attachment; filename="kostenabrechnung-06-{YEAR}.csv"'
    )
    assert response.headers["Cache-Control"] == "private, no-store"
    text = response.get_data().decode("utf-8")
    assert text.startswith("\ufeff")  # Excel reads UTF-8 only with the mark
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    worked = hessen_2027["worked"]
    (line,) = [r for r in rows if r["art"] == "kostenanteil" and r["leistung_id"] == str(worked)]
    assert line["betrag_cent"] == "35768364"
    assert line["betrag_eur"] == "357683,64"
    assert line["anteil_prozent"] == "29,80697"
    assert (line["schluessel"], line["finanzierungsmodell"], line["monate"]) == (
        "koenigstein",
        "participants",
        "12",
    )
    for row in body_rows(page, "shares-table"):
        (match,) = [
            r for r in rows if r["art"] == "kostenanteil" and r["leistung_id"] == row["listing"]
        ]
        assert int(match["betrag_cent"]) == cents(row["cells"][-1])
    (one_off,) = [r for r in rows if r["art"] == "anbindungskosten"]
    assert (one_off["leistung_id"], one_off["betrag_cent"]) == (
        str(hessen_2027["joined"]),
        "250000",
    )
    (total,) = [r for r in rows if r["art"] == "summe"]
    assert int(total["betrag_cent"]) == grand_total(page)


def test_the_xlsx_opens_with_openpyxl_and_holds_the_cents_of_the_page(
    app, client, login_as, hessen_2027
):
    login_as("editor-he@demo.test")
    page = client.get(url("06")).get_data(as_text=True)
    response = client.get(url("06", suffix=".xlsx"))
    assert response.status_code == 200
    assert response.headers["Content-Type"] == XLSX
    assert (
        response.headers["Content-Disposition"]
        == f'attachment; filename="kostenabrechnung-06-{YEAR}.xlsx"'
    )
    workbook = openpyxl.load_workbook(io.BytesIO(response.get_data()))
    assert workbook.properties.title == f"Kostenabrechnung Hessen {YEAR}"
    sheet = workbook["Abrechnung"]
    assert sheet.freeze_panes == "D2"
    header = [cell.value for cell in sheet[1]]
    assert header[:3] == ["Art", "Leistung (ID)", "Leistung"]
    assert header[10:12] == ["Betrag", "Betrag in Cent"]
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.column_dimensions["C"].width == 40
    rows = [list(row) for row in sheet.iter_rows(min_row=2)]

    def xlsx_row(kind: str, listing_id: int | None = None):
        (found,) = [r for r in rows if r[0].value == kind and r[1].value == listing_id]
        return found

    for page_row in body_rows(page, "shares-table"):
        row = xlsx_row("Kostenanteil", int(page_row["listing"]))
        assert row[11].value == cents(page_row["cells"][-1])  # integer cents
        assert round(Decimal(str(row[10].value)) * 100) == row[11].value  # Euro number
        assert row[10].number_format == '#,##0.00 "€"'
    worked = xlsx_row("Kostenanteil", hessen_2027["worked"])
    assert worked[11].value == 35_768_364
    assert worked[2].value == "Kostenbeispiel Aufenthalt"
    assert (worked[5].value, str(worked[6].value)) == (12, "29.80697")
    assert worked[7].value == 1_200_000
    one_off = xlsx_row("Anbindungskosten", hessen_2027["joined"])
    assert one_off[11].value == 250_000
    assert one_off[12].value.startswith("NV-")
    assert one_off[13].value.date() == date(YEAR, 3, 1)
    assert xlsx_row("Summe Kostenanteile")[11].value == table_sum(page, "shares-table")
    assert xlsx_row("Summe Anbindungskosten")[11].value == 250_000
    total = xlsx_row("Gesamtbetrag")
    assert total[11].value == grand_total(page)
    assert total[0].font.bold
    # Listings that cannot be computed (the demo may have some) are on a sheet of their own.
    open_items = re.findall(r'<li data-listing="(\d+)">', page)
    if open_items:
        listed = workbook["Nicht berechenbar"].iter_rows(min_row=2, values_only=True)
        assert [str(row[0]) for row in listed] == open_items
    else:
        assert workbook.sheetnames == ["Abrechnung"]


def test_a_title_that_looks_like_a_formula_stays_text_in_csv_and_xlsx(app, client, login_as, ctx):
    title = '=HYPERLINK("http://example.org";"x")'
    listing_id = bb_listing(title)
    login_as("editor-bb@demo.test")
    text = client.get(url("12", suffix=".csv")).get_data().decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    (line,) = [r for r in rows if r["leistung_id"] == str(listing_id)]
    assert line["leistung"] == "'" + title
    workbook = openpyxl.load_workbook(io.BytesIO(client.get(url("12", suffix=".xlsx")).data))
    (cell,) = [
        row[2] for row in workbook["Abrechnung"].iter_rows(min_row=2) if row[1].value == listing_id
    ]
    assert (cell.value, cell.data_type) == (title, "s")


def test_control_characters_in_a_title_do_not_break_the_workbook(app, client, login_as, ctx):
    # A title sent through the API may hold control characters; the workbook's XML may not.
    listing_id = bb_listing("Kosten\x0bBeispiel\x01")
    login_as("editor-bb@demo.test")
    response = client.get(url("12", suffix=".xlsx"))
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(response.data))
    (cell,) = [
        row[2] for row in workbook["Abrechnung"].iter_rows(min_row=2) if row[1].value == listing_id
    ]
    assert cell.value == "Kosten\ufffdBeispiel\ufffd"


def test_the_largest_amount_a_bigint_holds_comes_through_to_the_cent(app, client, login_as, ctx):
    largest = 2**63 - 1
    listing_id = bb_listing("Großbetrag Kormoran", plan_cents=largest)
    login_as("editor-bb@demo.test")
    page = client.get(url("12")).get_data(as_text=True)
    row = row_of(page, "shares-table", listing_id)
    assert row["cells"][-1] == "92.233.720.368.547.758,07 €"
    text = client.get(url("12", suffix=".csv")).get_data().decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    (line,) = [r for r in rows if r["leistung_id"] == str(listing_id)]
    assert (line["betrag_cent"], line["betrag_eur"]) == (str(largest), "92233720368547758,07")
    # A spreadsheet number (a double) cannot hold these cents: the column keeps the digits.
    workbook = openpyxl.load_workbook(io.BytesIO(client.get(url("12", suffix=".xlsx")).data))
    sheet = workbook["Abrechnung"]
    (cell,) = [row[11] for row in sheet.iter_rows(min_row=2) if row[1].value == listing_id]
    assert cell.value == str(largest)
    (total,) = [row[11] for row in sheet.iter_rows(min_row=2) if row[0].value == "Gesamtbetrag"]
    assert int(total.value) == grand_total(page)


# --- efa_2024 and open items ------------------------------------------------------------


def test_under_efa_2024_a_land_that_does_not_take_part_pays_its_all_laender_share(
    app, client, login_as, ctx
):
    worked_example()  # makes sure the Königsteiner Schlüssel of 2027 is loaded
    listing_id = bb_listing("EfA-Beispiel Möwe", key=None, plan_cents=None)
    contracted_reuse(listing_id, "he", date(YEAR, 1, 1))
    bb = user_by_email("editor-bb@demo.test")
    alliances.propose_cost_key(bb, listing_id, YEAR, "koenigstein", "efa_2024", {}, "")
    # 400,000.00 EUR: the all-Länder pool is 100,000.00 EUR, so every Land's share of it
    # is its Königsteiner Schlüssel (5 decimals) × 100,000 cents exactly.
    cost_sharing.add_plan_item(bb, listing_id, YEAR, "infrastructure", 40_000_000, "Betrieb")
    bayern = int(cost_data.key_values("koenigstein", YEAR)["09"] * 100_000)
    assert split_cents(listing_id)["09"] == bayern

    login_as("editor-by@demo.test")
    page = client.get(url("09")).get_data(as_text=True)
    row = row_of(page, "shares-table", listing_id)
    title, key, model, months, share, plan, participants, laender, amount = row["cells"]
    assert model.startswith("EfA-Finanzierung 2024")
    assert months.startswith("–") and "nicht beteiligt" in months
    assert share == "–"
    assert cents(plan) == 40_000_000
    assert cents(participants) == 0
    assert cents(laender) == cents(amount) == bayern
    assert "alle 16 Länder 25 % nach dem Königsteiner Schlüssel" in page
    # Bayern may not open the split of a listing it takes no part in: the listing page.
    assert row["links"] == [f"/leistungen/{listing_id}"]

    switch_to(client, login_as, "editor-he@demo.test")
    page = client.get(url("06")).get_data(as_text=True)
    row = row_of(page, "shares-table", listing_id)
    participants, laender, amount = (cents(cell) for cell in row["cells"][-3:])
    assert participants > 0 and laender > 0
    assert participants + laender == amount == split_cents(listing_id)["06"]
    assert row["links"] == [f"/leistungen/{listing_id}/kosten/{YEAR}"]


def test_a_mixed_key_names_its_components_on_the_page_and_in_the_xlsx(app, client, login_as, ctx):
    worked_example()  # makes sure the Königsteiner Schlüssel of 2027 is loaded
    listing_id = bb_listing("Mischprobe Kiebitz", key=None)
    bb = user_by_email("editor-bb@demo.test")
    alliances.propose_cost_key(
        bb, listing_id, YEAR, "mixed", "participants", {"koenigstein": "60", "equal": "40"}, ""
    )
    mixed = "Mischschlüssel (40 % Gleiche Teile, 60 % Königsteiner Schlüssel)"
    login_as("editor-bb@demo.test")
    page = client.get(url("12")).get_data(as_text=True)
    row = row_of(page, "shares-table", listing_id)
    assert row["cells"][1].startswith(mixed)
    assert cents(row["cells"][-1]) == 1_000_000  # Brandenburg alone pays it all
    workbook = openpyxl.load_workbook(io.BytesIO(client.get(url("12", suffix=".xlsx")).data))
    (key,) = [
        row[3].value
        for row in workbook["Abrechnung"].iter_rows(min_row=2)
        if row[1].value == listing_id
    ]
    assert key == mixed


def test_a_listing_whose_year_has_no_key_data_is_listed_as_not_computable(
    app, client, login_as, ctx
):
    listing_id = worked_example()
    later = YEAR + 1
    assert not cost_data.key_values("koenigstein", later)
    bb = user_by_email("editor-bb@demo.test")
    alliances.propose_cost_key(bb, listing_id, later, "koenigstein", "participants", {}, "")
    cost_sharing.add_plan_item(bb, listing_id, later, "infrastructure", 50_000_000, "Betrieb")
    login_as("editor-he@demo.test")
    page = client.get(url("06", later)).get_data(as_text=True)
    assert '<h2 class="kern-heading-medium" id="open-heading">Nicht berechenbar</h2>' in page
    assert "nicht in den Summen oben enthalten" in page
    assert "nicht im Gesamtbetrag enthalten" in page
    item = re.search(rf'<li data-listing="{listing_id}">(.*?)</li>', page, re.S)
    assert item, "the listing is not among the open items"
    assert "Kostenbeispiel Aufenthalt" in item.group(1)
    assert f"Für {later} liegen keine Schlüsseldaten „Königsteiner Schlüssel“ vor" in item.group(1)
    shares = Tables(page).tables.get("shares-table", [])
    assert str(listing_id) not in [row["listing"] for row in shares]
    assert grand_total(page) == (table_sum(page, "shares-table") if shares else 0)
    # The XLSX lists it on a sheet of its own, with the same reason.
    workbook = openpyxl.load_workbook(io.BytesIO(client.get(url("06", later, ".xlsx")).data))
    reasons = {
        row[0].value: row[2].value for row in workbook["Nicht berechenbar"].iter_rows(min_row=2)
    }
    assert "keine Schlüsseldaten" in reasons[listing_id]


# --- visibility -------------------------------------------------------------------------


def test_a_land_sees_its_own_statement_only(app, client, login_as):
    with app.app_context():
        worked_example()
    login_as("viewer-bb@demo.test")
    page = client.get(url("12"))
    assert page.status_code == 200
    assert f"Kostenabrechnung Brandenburg {YEAR}" in page.get_data(as_text=True)
    switch_to(client, login_as, "editor-bb@demo.test")
    assert client.get(url("12")).status_code == 200
    for suffix in ("", ".csv", ".xlsx"):
        response = client.get(url("06", suffix=suffix))
        assert response.status_code == 404, suffix
        assert b"357.683,64" not in response.data and b"35768364" not in response.data


@pytest.mark.parametrize("email", ["fitko-1@demo.test", "admin@demo.test"])
def test_fitko_and_admins_see_every_land(app, client, login_as, email):
    login_as(email)
    for number in range(1, 17):
        ags = f"{number:02d}"
        for suffix in ("", ".csv", ".xlsx"):
            assert client.get(url(ags, suffix=suffix)).status_code == 200, (ags, suffix)
    index = client.get("/kosten/abrechnung").get_data(as_text=True)
    assert len(re.findall(r"<option ", index)) == 16
    assert client.get(url("99")).status_code == 404
    assert client.get(url("DE-BB")).status_code == 404


def test_anonymous_is_sent_to_login(client):
    for path in (
        "/kosten/abrechnung",
        url("12"),
        url("12", suffix=".csv"),
        url("12", suffix=".xlsx"),
    ):
        response = client.get(path)
        assert response.status_code == 302, path
        assert "/anmelden?next=" in response.headers["Location"]


def test_the_index_form_of_a_land_user_offers_only_the_own_land(client, login_as):
    login_as("editor-he@demo.test")
    page = client.get("/kosten/abrechnung").get_data(as_text=True)
    options = re.findall(r'<option[^>]*value="(\d\d)"', page)
    assert options == ["06"]
    assert re.search(r'<option selected value="06">|<option value="06" selected>', page)
    assert re.search(r'id="jahr"[^>]*value="\d{4}"', page)
    # Choosing Land and year opens the statement; another Land is refused with a message.
    response = client.get("/kosten/abrechnung?land=06&jahr=2027")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(url("06"))
    refused = client.get("/kosten/abrechnung?land=12&jahr=2027")
    assert refused.status_code == 422
    assert "Bitte wählen Sie ein Land aus der Liste." in refused.get_data(as_text=True)


def test_a_bad_year_is_answered_with_the_form_and_a_message(client, login_as):
    login_as("editor-bb@demo.test")
    for query in ("land=12&jahr=abc", "land=12&jahr=", "land=12&jahr=20271"):
        response = client.get(f"/kosten/abrechnung?{query}")
        assert response.status_code == 422, query
        page = response.get_data(as_text=True)
        assert "Bitte geben Sie das Jahr vierstellig an, z. B. 2026." in page
        assert 'aria-invalid="true"' in page
    response = client.get("/kosten/abrechnung?land=12&jahr=1999")
    assert response.status_code == 422
    assert "Bitte geben Sie ein Jahr von 2000 bis 2100 an." in response.get_data(as_text=True)
    # The statement URL itself with a year the service refuses: the same form and message.
    response = client.get(url("12", 1999))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Bitte geben Sie ein Jahr von 2000 bis 2100 an." in page
    assert 'id="jahr"' in page
    # Only the Land: the current year's statement.
    response = client.get("/kosten/abrechnung?land=12")
    assert response.status_code == 302
    assert re.search(r"/kosten/abrechnung/12/\d{4}$", response.headers["Location"])


def test_navigation_and_land_dashboard_link_to_the_statement(client, login_as):
    assert ">Kostenabrechnung</a>" not in client.get("/").get_data(as_text=True)
    login_as("viewer-bb@demo.test")
    home = client.get("/").get_data(as_text=True)
    assert 'href="/kosten/abrechnung">Kostenabrechnung</a>' in home
    dashboard = client.get("/mein-land").get_data(as_text=True)
    assert 'href="/kosten/abrechnung?land=12">Kostenabrechnung von Brandenburg' in dashboard
    page = client.get("/kosten/abrechnung").get_data(as_text=True)
    assert 'href="/kosten/abrechnung" aria-current="page">Kostenabrechnung</a>' in page


# --- queries ----------------------------------------------------------------------------


def test_the_statement_page_runs_the_same_number_of_queries_for_2_and_6_listings(
    app, client, login_as, count_queries
):
    login_as("editor-bb@demo.test")

    def measure() -> tuple[int, str]:
        client.get(url("12"))  # warm: the first request of a session loads more
        with count_queries() as counter:
            response = client.get(url("12"))
        assert response.status_code == 200
        return counter.count, response.get_data(as_text=True)

    with app.app_context():
        ids = [bb_listing(f"Zählprobe {n}") for n in range(2)]
    two, page = measure()
    with app.app_context():
        ids += [bb_listing(f"Zählprobe {n}") for n in range(2, 6)]
    six, page = measure()
    for listing_id in ids:  # Brandenburg alone: equal parts, 100 % of 10,000.00 EUR
        row = row_of(page, "shares-table", listing_id)
        assert row["cells"][4] == "100,00000 %"
        assert cents(row["cells"][-1]) == 1_000_000
    assert six == two, f"{two} queries with 2 listings, {six} with 6"
