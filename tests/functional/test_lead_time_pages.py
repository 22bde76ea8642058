"""The pages /auswertung/durchlaufzeiten and /auswertung/wartende over HTTP: who may open
them, that each reader sees only what the service gives that reader, that the figures
on the page are the service's, how bad query values are answered, and that the pages
run a fixed number of queries whatever the data size.

The data are the demo plus the hand-made history of the service's unit tests (listings
L and L2 of Brandenburg with reuses A-G, see tests/unit/test_transparency_service.py);
the pages compute waits at the real "now", by which every wait of that 2024 history is
long past the default threshold of 30 days.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from fitstore.blueprints import lead_times as lead_times_view
from fitstore.extensions import db
from fitstore.models import Organisation, OrganisationKind, Reuse
from fitstore.services import admin, reuses, transparency
from tests.conftest import login
from tests.factories import user_by_email
from tests.unit.test_transparency_service import (
    EXPECTED_L,
    History,
    build_history,
    grow,
)

LEAD_TIMES = "/auswertung/durchlaufzeiten"
WAITS = "/auswertung/wartende"
SECRET_SCOPE = "Geheimer-Umfang-Kiebitz-5d1e"


def client_of(app, email: str | None):
    client = app.test_client()
    if email:
        assert login(client, email).status_code == 302
    return client


def page(client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return response.get_data(as_text=True)


@pytest.fixture
def history(app) -> History:
    with app.app_context():
        built = build_history("Seite Kiebitz")
        # Conditions with money and a private scope on D: no figure page may show them.
        d = db.session.get(Reuse, built.reuses["D"])
        d.condition_model, d.annual_fee_cents, d.scope = "annual_fee", 9_876_543, SECRET_SCOPE
        db.session.commit()
        return built


def flat(markup: str) -> str:
    """The markup with every run of whitespace made one space."""
    return " ".join(markup.split())


class Rows(HTMLParser):
    """Table rows with a ``data-stage`` or ``data-reuse`` marker: their attributes and
    the text of each cell (header cell first); and the options of the select."""

    def __init__(self, markup: str):
        super().__init__()
        self.rows: list[dict] = []
        self.options: list[tuple[str, str, bool]] = []
        self._row: dict | None = None
        self._cell: list[str] | None = None
        self._option: list | None = None
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "tr" and ("data-stage" in attributes or "data-reuse" in attributes):
            self._row = {**attributes, "cells": [], "links": []}
        elif tag in ("th", "td") and self._row is not None:
            self._cell = []
        elif tag == "a" and self._row is not None:
            self._row["links"].append(attributes.get("href"))
        elif tag == "option":
            self._option = [attributes.get("value"), [], "selected" in attributes]

    def handle_endtag(self, tag):
        if tag in ("th", "td") and self._row is not None and self._cell is not None:
            self._row["cells"].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None
        elif tag == "option" and self._option is not None:
            value, text, selected = self._option
            self.options.append((value, " ".join("".join(text).split()), selected))
            self._option = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._option is not None:
            self._option[1].append(data)


# --- who may open the pages ---------------------------------------------------------------


@pytest.mark.parametrize("url", [LEAD_TIMES, WAITS])
def test_anonymous_visitors_are_sent_to_the_login(app, url):
    response = app.test_client().get(url)
    assert response.status_code == 302
    assert "/anmelden?next=" in response.headers["Location"]


@pytest.mark.parametrize("url", [LEAD_TIMES, WAITS])
def test_a_user_without_a_land_may_not_open_them(app, url):
    with app.app_context():
        bund = db.session.scalar(
            select(Organisation).where(Organisation.kind == OrganisationKind.BUND)
        )
        admin.create_user(
            user_by_email("admin@demo.test"),
            email="referat@bund.example",
            name="Referat",
            role="viewer",
            organisation_id=bund.id,
            password="ein-langes-Testpasswort",
        )
    client = client_of(app, None)
    assert login(client, "referat@bund.example", "ein-langes-Testpasswort").status_code == 302
    assert client.get(url).status_code == 403


@pytest.mark.parametrize(
    "email",
    [
        "fitko-1@demo.test",
        "admin@demo.test",
        "editor-bb@demo.test",
        "viewer-by@demo.test",
        "viewer-mv@demo.test",
        "viewer-hh@demo.test",
    ],
)
def test_each_reader_sees_exactly_the_services_rows(app, history, email):
    client = client_of(app, email)
    lead = Rows(page(client, LEAD_TIMES))
    waits = Rows(page(client, WAITS))
    with app.app_context():
        actor = user_by_email(email)
        listings = transparency.lead_time_listings(actor)
        expected_waits = transparency.waiting_list(actor)
    assert [value for value, _text, _sel in lead.options] == [""] + [str(x.id) for x in listings]
    assert [int(row["data-reuse"]) for row in waits.rows] == [w.reuse.id for w in expected_waits]
    mine = {int(row["data-reuse"]) for row in waits.rows} & set(history.reuses.values())
    letters = {letter for letter, reuse_id in history.reuses.items() if reuse_id in mine}
    expected_letters = {
        "fitko-1@demo.test": set("CDEFG"),
        "admin@demo.test": set("CDEFG"),
        "editor-bb@demo.test": set("CDEFG"),
        "viewer-by@demo.test": {"D"},  # its own reuse only: not an alliance member
        "viewer-mv@demo.test": set("CDE"),  # member of L's alliance, not of L2's
        "viewer-hh@demo.test": set(),
    }[email]
    assert letters == expected_letters


def test_a_land_cannot_open_lead_times_of_a_listing_it_has_nothing_to_do_with(app, history):
    by = client_of(app, "viewer-by@demo.test")
    page(by, f"{LEAD_TIMES}?leistung={history.listing}")
    page(by, f"{LEAD_TIMES}?leistung={history.listing2}", 404)
    hh = client_of(app, "viewer-hh@demo.test")
    page(hh, f"{LEAD_TIMES}?leistung={history.listing}", 404)
    markup = page(hh, LEAD_TIMES)
    assert "Für Sie ist noch keine Leistung mit Nachnutzungen sichtbar." in markup


# --- figures on the pages ---------------------------------------------------------------------


def test_lead_time_table_shows_the_services_figures(app, history):
    client = client_of(app, "viewer-mv@demo.test")
    markup = page(client, f"{LEAD_TIMES}?leistung={history.listing}")
    rows = Rows(markup)
    shown = {row["data-stage"]: row["cells"][1:] for row in rows.rows}
    # The worked-out figures of the unit tests, in German number format.
    assert shown == {
        "interest": ["4", "15", "30"],
        "coordination": ["3", "12", "40"],
        "ordered": ["3", "10", "14"],
        "contracted": ["3", "12", "15"],
        "connecting": ["2", "25", "30"],
        "testing": ["2", "18", "21"],
    }
    assert list(shown) == list(EXPECTED_L)
    assert [row["cells"][0] for row in rows.rows][:2] == ["Interessenbekundung", "Abstimmung"]
    selected = [value for value, _text, chosen in rows.options if chosen]
    assert selected == [str(history.listing)]
    assert "Seite Kiebitz (Brandenburg)" in markup
    # The chart says the same in words, and names the table that is its text version.
    assert 'role="img"' in markup and "Median: 25 Tage" in markup
    assert "90. Perzentil: 30 Tage" in markup
    assert "Textfassung dieses Diagramms" in markup
    assert "nearest rank" in markup and "abgeschlossene Aufenthalte" in markup


def test_lead_times_of_all_listings_equal_the_service_in_german_format(app, history):
    client = client_of(app, "fitko-1@demo.test")
    rows = Rows(page(client, f"{LEAD_TIMES}?leistung="))
    with app.app_context(), app.test_request_context(headers={"Accept-Language": "de"}):
        expected = {
            str(r.stage): [
                str(r.count),
                lead_times_view.days_text(r.median_days) if r.count else "–kein Wert",
                lead_times_view.days_text(r.p90_days) if r.count else "–kein Wert",
            ]
            for r in transparency.lead_times(user_by_email("fitko-1@demo.test"))
        }
    assert {row["data-stage"]: row["cells"][1:] for row in rows.rows} == expected
    assert [value for value, _text, chosen in rows.options if chosen] == [""]


def test_lead_times_without_completed_stays_show_no_value(app):
    client = client_of(app, "viewer-hh@demo.test")
    rows = Rows(page(client, LEAD_TIMES))
    assert [row["cells"][1:] for row in rows.rows] == [["0", "–kein Wert", "–kein Wert"]] * 6
    assert "Noch hat keine Nachnutzung eine Stufe abgeschlossen" in page(client, LEAD_TIMES)


def test_waiting_list_rows_show_who_has_to_act_since_when_and_a_link(app, history):
    client = client_of(app, "fitko-2@demo.test")
    markup = page(client, WAITS)
    rows = {int(row["data-reuse"]): row for row in Rows(markup).rows}
    c, d, e, f, g = (rows[history.reuses[x]] for x in "CDEFG")
    # Leistung, Land, Stufe, am Zug, seit, Tage, link
    assert c["cells"][:5] == [
        "Seite Kiebitz",
        "Sachsen",
        "Zurückgestellt",
        "Nachnutzendes Land: Sachsen",
        "11.06.2024",
    ]
    assert d["cells"][2:5] == ["Abstimmung", "Nachnutzendes Land: Bayern", "01.11.2024"]
    assert e["cells"][3:5] == ["Bereitstellendes Land: Brandenburg", "20.11.2024"]
    assert f["cells"][3:5] == ["FITKO: Vertrag prüfen", "01.10.2024"]
    assert g["cells"][3] == "FITKO: Vertrag gegenzeichnen (eine andere Person als die prüfende)"
    assert g["cells"][4] == "10.11.2024"
    assert d["links"] == [f"/nachnutzungen/{history.reuses['D']}"]
    with app.app_context():
        waits = transparency.waiting_list(user_by_email("fitko-2@demo.test"))
    for wait in waits:
        assert rows[wait.reuse.id]["cells"][5] == str(wait.days)
    order = [int(row["data-reuse"]) for row in Rows(markup).rows]
    assert order.index(history.reuses["C"]) < order.index(history.reuses["F"])
    assert order.index(history.reuses["F"]) < order.index(history.reuses["D"])
    assert "seit mindestens 30 Tagen (Schwelle). Das ist die Voreinstellung." in flat(markup)
    assert 'value="30"' in markup
    # The reuse's link opens for this reader.
    assert client.get(d["links"][0]).status_code == 200


@pytest.mark.parametrize("url", [LEAD_TIMES, WAITS, f"{WAITS}?tage=0"])
def test_no_conditions_or_money_on_the_figure_pages(app, history, url):
    markup = page(client_of(app, "fitko-1@demo.test"), url)
    assert SECRET_SCOPE not in markup
    assert "98.765,43" not in markup and "9876543" not in markup


def test_threshold_from_the_query(app, history):
    client = client_of(app, "fitko-1@demo.test")
    with app.app_context():
        fitko = user_by_email("fitko-1@demo.test")
        everything = [w.reuse.id for w in transparency.waiting_list(fitko, 0)]
        days = {w.reuse.id: w.days for w in transparency.waiting_list(fitko, 0)}
    all_rows = [int(r["data-reuse"]) for r in Rows(page(client, f"{WAITS}?tage=0")).rows]
    assert all_rows == everything
    # Exactly the waits of D's age and longer: the boundary is inclusive.
    boundary = days[history.reuses["D"]]
    rows = [int(r["data-reuse"]) for r in Rows(page(client, f"{WAITS}?tage={boundary}")).rows]
    assert rows == [r for r in everything if days[r] >= boundary]
    assert history.reuses["D"] in rows
    after = [int(r["data-reuse"]) for r in Rows(page(client, f"{WAITS}?tage={boundary + 1}")).rows]
    assert history.reuses["D"] not in after
    markup = page(client, f"{WAITS}?tage=3650")
    assert not Rows(markup).rows
    assert "Keine Nachnutzung, die Sie sehen, wartet seit 3650 Tagen oder länger." in markup
    # Empty: the default.
    default = page(client, f"{WAITS}?tage=")
    assert "seit mindestens 30 Tagen (Schwelle). Das ist die Voreinstellung." in flat(default)


@pytest.mark.parametrize(
    "value", ["abc", "-1", "3651", "1.5", "1e3", "²", "9" * 5000, "0x10", "12 Tage"]
)
def test_a_bad_threshold_shows_a_message_and_the_default_list(app, history, value):
    client = client_of(app, "editor-bb@demo.test")
    response = client.get(WAITS, query_string={"tage": value})
    assert response.status_code == 422
    markup = response.get_data(as_text=True)
    assert "Bitte geben Sie eine ganze Zahl von 0 bis 3650 an." in markup
    assert 'aria-invalid="true"' in markup and 'id="tage-error"' in markup
    assert "Ihre Angabe war ungültig; verwendet wird die Voreinstellung." in markup
    with app.app_context():
        expected = [
            w.reuse.id for w in transparency.waiting_list(user_by_email("editor-bb@demo.test"))
        ]
    assert [int(r["data-reuse"]) for r in Rows(markup).rows] == expected


def test_the_default_threshold_comes_from_the_configuration(app_factory):
    app = app_factory(WAIT_THRESHOLD_DAYS=3650)
    markup = page(client_of(app, "fitko-1@demo.test"), WAITS)
    assert "Ohne Angabe gilt die Voreinstellung von 3650 Tagen." in markup
    assert not Rows(markup).rows


@pytest.mark.parametrize(
    "value", ["abc", "-1", "0", "1.0", "99999999999999999999", "%00", "1 OR 1=1"]
)
def test_an_unknown_listing_is_not_found(app, value):
    client = client_of(app, "fitko-1@demo.test")
    assert client.get(LEAD_TIMES, query_string={"leistung": value}).status_code == 404


def test_the_waiting_list_is_paginated(app, history, monkeypatch):
    monkeypatch.setattr(lead_times_view, "WAITS_PER_PAGE", 3)
    client = client_of(app, "fitko-1@demo.test")
    with app.app_context():
        expected = [
            w.reuse.id for w in transparency.waiting_list(user_by_email("fitko-1@demo.test"), 0)
        ]
    assert len(expected) > 6
    first = page(client, f"{WAITS}?tage=0")
    second = page(client, f"{WAITS}?tage=0&page=2")
    beyond = page(client, f"{WAITS}?tage=0&page=99999")
    assert [int(r["data-reuse"]) for r in Rows(first).rows] == expected[:3]
    assert [int(r["data-reuse"]) for r in Rows(second).rows] == expected[3:6]
    pages = -(-len(expected) // 3)
    last = expected[(pages - 1) * 3 :]
    assert [int(r["data-reuse"]) for r in Rows(beyond).rows] == last
    # The page links keep the threshold.
    assert re.search(r'href="/auswertung/wartende\?tage=0&amp;page=2"', first)


# --- links and constant queries --------------------------------------------------------------


@pytest.mark.parametrize(
    ("email", "dashboard"),
    [("fitko-1@demo.test", "/fitko"), ("viewer-by@demo.test", "/mein-land")],
)
def test_the_dashboards_link_to_both_pages(app, email, dashboard):
    markup = page(client_of(app, email), dashboard)
    assert f'href="{LEAD_TIMES}"' in markup and f'href="{WAITS}"' in markup


@pytest.mark.parametrize("email", ["fitko-1@demo.test", "viewer-mv@demo.test"])
def test_pages_run_the_same_queries_whatever_the_size(app, history, count_queries, email):
    client = client_of(app, email)
    urls = [
        LEAD_TIMES,
        f"{LEAD_TIMES}?leistung={history.listing}",
        f"{WAITS}?tage=0",
        f"{WAITS}?tage=abc",
    ]

    def measure() -> dict[str, int]:
        counts = {}
        for url in urls:
            page(client, url, 422 if url.endswith("abc") else 200)  # warm the session
            with count_queries() as counter:
                page(client, url, 422 if url.endswith("abc") else 200)
            counts[url] = counter.count
        return counts

    with app.app_context():
        grow(1, 0)
    small = measure()
    rows_before = len(Rows(page(client, f"{WAITS}?tage=0")).rows)
    with app.app_context():
        grow(6, 1)
    large = measure()
    assert len(Rows(page(client, f"{WAITS}?tage=0")).rows) == rows_before + 12
    assert large == small


def test_figures_are_for_a_reuse_the_reader_may_open(app, history):
    """Every waiting row links to a reuse page the reader can open (no 404 behind a
    link)."""
    client = client_of(app, "viewer-mv@demo.test")
    rows = Rows(page(client, f"{WAITS}?tage=0")).rows
    assert rows
    for row in rows:
        assert client.get(row["links"][0]).status_code == 200
    with app.app_context():
        assert {
            r.id
            for r in reuses.list_reuses(user_by_email("viewer-mv@demo.test"), per_page=200).items
        } >= {int(row["data-reuse"]) for row in rows}
