"""The public dashboard (/dashboard, /dashboard/laender/<ags>, /dashboard/verlauf).

Anonymous visitors see every page; the figures on the maps, in the tables and in the
headline words are the transparency service's own; tables sort on the server in both
directions with aria-sort; bad query values fall back or answer 404; unpublished
listings and private fields never show; and each page runs the same number of queries
after many more reuses and rollouts are added.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from html.parser import HTMLParser

import pytest
from flask import url_for
from sqlalchemy import select, update

from fitstore.blueprints.transparency import collate, history_chart, nice_ceiling
from fitstore.extensions import db
from fitstore.models import (
    MAIN_LINE,
    Authority,
    AuthorityLevel,
    Contract,
    Listing,
    ListingStatus,
    Reuse,
    ReuseStage,
    ReuseTransition,
    Rollout,
    RolloutEvent,
    RolloutStatus,
)
from fitstore.services import follows, transparency
from tests.factories import user_by_email

EDITOR_BB = "editor-bb@demo.test"
LAENDER_ASC_FIRST, LAENDER_ASC_LAST = "Baden-Württemberg", "Thüringen"
BRANDENBURG = "12"


# --- reading pages ---------------------------------------------------------------------------


class Page(HTMLParser):
    """Tables by ``data-table`` (body rows: attributes, cell texts, links; header cells
    with their attributes, text and link), map paths (class, data-ags, <title>) and the
    ``data-figure`` items."""

    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.markup = markup
        self.tables: dict[str, dict] = {}
        self.paths: list[dict] = []
        self.figures: dict[str, str] = {}
        self._table: dict | None = None
        self._head = False
        self._row: dict | None = None
        self._cell: list[str] | None = None
        self._path: dict | None = None
        self._text: list[str] | None = None  # a caption, path title or figure being read
        self._text_end: tuple[str, object] | None = None
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "table" and "data-table" in a:
            self._table = {"headers": [], "rows": [], "caption": ""}
            self.tables[a["data-table"]] = self._table
        elif self._table is not None and tag == "caption":
            self._text, self._text_end = [], ("caption", self._table)
        elif self._table is not None and tag == "thead":
            self._head = True
        elif self._table is not None and tag == "tr" and not self._head:
            self._row = {"attrs": a, "cells": [], "links": []}
        elif self._table is not None and tag in ("td", "th"):
            self._cell = []
            if self._head:
                self._table["headers"].append(a)
        elif self._table is not None and tag == "a":
            if self._head and self._table["headers"]:
                self._table["headers"][-1]["href"] = a.get("href", "")
            elif self._row is not None:
                self._row["links"].append(a.get("href", ""))
        elif tag == "path" and "data-ags" in a:
            self._path = a
            self.paths.append(a)
        elif tag == "title" and self._path is not None:
            self._text, self._text_end = [], ("title", self._path)
        elif tag == "li" and "data-figure" in a:
            self._text, self._text_end = [], ("li", a["data-figure"])

    def handle_endtag(self, tag):
        if self._text_end is not None and tag == self._text_end[0]:
            text = " ".join("".join(self._text).split())
            target = self._text_end[1]
            if tag == "caption":
                target["caption"] = text
            elif tag == "title":
                target["title"] = text
            else:
                self.figures[target] = text
            self._text = self._text_end = None
        elif tag in ("td", "th") and self._cell is not None:
            text = " ".join("".join(self._cell).split())
            if self._head:
                self._table["headers"][-1]["text"] = text
            elif self._row is not None:
                self._row["cells"].append(text)
            self._cell = None
        elif tag == "thead":
            self._head = False
        elif tag == "tr" and self._row is not None:
            self._table["rows"].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "path":
            self._path = None

    def handle_data(self, data):
        for buffer in (self._cell, self._text):
            if buffer is not None:
                buffer.append(data)

    def rows(self, table: str) -> list[dict]:
        return self.tables[table]["rows"]

    def column(self, table: str, index: int) -> list[str]:
        return [row["cells"][index] for row in self.rows(table)]

    def header(self, table: str, key: str) -> dict:
        return next(h for h in self.tables[table]["headers"] if h.get("data-sort") == key)


def get(client, url: str) -> Page:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return Page(response.get_data(as_text=True))


def number(cell: str) -> int:
    return int(re.sub(r"\D", "", cell))


def listing_id(app, title: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Listing.id).where(Listing.title == title))


def figures_of(app, title: str) -> transparency.ListingFigures:
    with app.test_request_context():
        return next(f for f in transparency.overview().listings if f.listing.title == title)


# --- every page, anonymously ----------------------------------------------------------------

PAGES = [
    ("/dashboard", "Dashboard: Nachnutzung der EfA-Leistungen"),
    ("/dashboard?ebene=kreise", "Dashboard: Nachnutzung der EfA-Leistungen"),
    ("/dashboard?leistung=1", "Dashboard: Nachnutzung der EfA-Leistungen"),
    ("/dashboard?leistung=1&ebene=kreise", "Dashboard: Nachnutzung der EfA-Leistungen"),
    ("/dashboard?leistung=6&ebene=laender", "Dashboard: Nachnutzung der EfA-Leistungen"),
    ("/dashboard/laender/12", "Brandenburg"),
    ("/dashboard/laender/02", "Hamburg"),
    ("/dashboard/verlauf", "Verlauf nach Monaten"),
    ("/dashboard/verlauf?leistung=1", "Verlauf nach Monaten"),
    ("/dashboard/verlauf?leistung=6", "Verlauf nach Monaten"),
]


@pytest.mark.parametrize(("url", "heading"), PAGES)
def test_every_page_and_variant_answers_without_login(client, url, heading):
    response = client.get(url)
    assert response.status_code == 200
    markup = response.get_data(as_text=True)
    assert re.search(r"<h1[^>]*>\s*" + re.escape(heading), markup)
    # The layout leads here, to the open data and to the feed.
    assert 'href="/dashboard" aria-current="page"' in markup
    assert 'href="/opendata"' in markup
    assert '<link rel="alternate" type="application/atom+xml" href="/feed.atom"' in markup


def test_the_main_navigation_links_the_dashboard_on_other_pages(client):
    markup = client.get("/").get_data(as_text=True)
    assert '<a class="kern-link" href="/dashboard">Dashboard</a>' in markup


# --- the figures are the service's ----------------------------------------------------------


def test_one_listing_headline_map_and_table_agree_with_the_service(app, client):
    figures = figures_of(app, "Aufenthaltstitel")
    assert figures.kreise_with_live > 0 and figures.live_authorities > 0  # the demo's case
    lid = figures.listing.id

    page = get(client, f"/dashboard?leistung={lid}")
    assert (
        f"Aufenthaltstitel: {figures.kreise_with_live} von 401 Kreisen mit mindestens einer"
        " live Behörde" in page.markup
    )
    assert page.figures["live-lands"] == f"{figures.live_lands} Länder im Produktivbetrieb"
    assert page.figures["onboarding-lands"].startswith(f"{figures.onboarding_lands} Länder")
    assert page.figures["not-started-lands"].startswith(f"{figures.not_started_lands} Länder")
    assert page.figures["live-authorities"] == (
        f"{figures.live_authorities} Behörden im Produktivbetrieb"
    )
    # The Land layer: 16 rows and 16 areas, stages in words; the live ones are counted.
    rows = page.rows("laender")
    assert len(rows) == 16 and len(page.paths) == 16
    live = [r for r in rows if re.search(r"(^|\()Produktivbetrieb\)?$", r["cells"][1])]
    assert len(live) == figures.live_lands
    with app.test_request_context():
        layer = {row.ags: row for row in transparency.land_layer(figures.listing)}
    for path in page.paths:
        assert path["class"] == layer[path["data-ags"]].css
        assert path["title"] == f"{layer[path['data-ags']].name}: {layer[path['data-ags']].label}"

    # The Kreis layer: all 401 Kreise on the map and in the table, the same numbers.
    page = get(client, f"/dashboard?leistung={lid}&ebene=kreise")
    rows = page.rows("kreise")
    assert len(rows) == 401
    assert len([p for p in page.paths if p.get("data-ags")]) == 401
    counts = {row["attrs"]["data-ags"]: number(row["cells"][2]) for row in rows}
    assert sum(1 for c in counts.values() if c) == figures.kreise_with_live
    assert sum(counts.values()) == figures.live_authorities
    coloured = [p for p in page.paths if p["class"] != "live-0"]
    assert len(coloured) == figures.kreise_with_live
    for path in page.paths:
        assert path["class"] == transparency.live_bucket(counts[path["data-ags"]])
        count = counts[path["data-ags"]]
        assert path["title"].endswith(f": {count} live Behörde" + ("" if count == 1 else "n"))
    # The official names tell a city and its Landkreis apart.
    names = {row["attrs"]["data-ags"]: row["cells"][0] for row in rows}
    assert names["03404"] == "Osnabrück, Stadt" and names["03459"] == "Osnabrück"


def test_all_listings_figures_and_tables_agree_with_the_overview(app, client):
    with app.test_request_context():
        overview = transparency.overview()
        lands = {row.ags: row for row in transparency.land_layer(None)}
        kreise = {row.ags: row.live_authorities for row in transparency.kreis_layer(None)}

    page = get(client, "/dashboard")
    assert (
        f"Alle EfA-Leistungen: {overview.kreise_with_live} von 401 Kreisen mit mindestens"
        " einer live Behörde" in page.markup
    )
    assert page.figures["live-authorities"].startswith(f"{overview.live_authorities} Behörden")
    assert page.figures["live-connections"].startswith(f"{overview.live_connections} Live-")
    assert page.figures["live-reuses"].startswith(f"{overview.live_reuses} Nachnutzungen")
    assert page.figures["onboarding-reuses"].startswith(f"{overview.onboarding_reuses} ")
    # Länder coloured by the number of live listings.
    for row in page.rows("laender"):
        ags = row["attrs"]["data-ags"]
        assert number(row["cells"][1]) == lands[ags].value
        assert row["links"] == [f"/dashboard/laender/{ags}"]
    assert {p["data-ags"]: p["class"] for p in page.paths} == {
        ags: row.css for ags, row in lands.items()
    }
    # One row per published listing with its figures and both links.
    listing_rows = {int(r["attrs"]["data-listing"]): r for r in page.rows("leistungen")}
    assert set(listing_rows) == {f.listing.id for f in overview.listings}
    for f in overview.listings:
        cells = listing_rows[f.listing.id]["cells"]
        assert [number(c) for c in cells[1:5]] == [
            f.live_lands,
            f.onboarding_lands,
            f.not_started_lands,
            f.live_authorities,
        ]
        assert cells[5] == f"{f.kreise_with_live} von 401"
        assert listing_rows[f.listing.id]["links"] == [
            f"/dashboard?leistung={f.listing.id}",
            f"/leistungen/{f.listing.id}",
        ]
    # The Kreis layer of all listings.
    page = get(client, "/dashboard?ebene=kreise")
    assert {r["attrs"]["data-ags"]: number(r["cells"][2]) for r in page.rows("kreise")} == kreise
    assert page.markup.count('class="public-map__borders"') == 1


# --- sorting ---------------------------------------------------------------------------------


def test_land_table_sorts_by_name_in_both_directions_with_aria_sort(client):
    page = get(client, "/dashboard")
    names = page.column("laender", 0)
    assert names == sorted(names, key=collate)
    assert (names[0], names[-1]) == (LAENDER_ASC_FIRST, LAENDER_ASC_LAST)
    header = page.header("laender", "land")
    assert header["aria-sort"] == "ascending"
    assert "aria-sort" not in page.header("laender", "leistungen")
    assert "(sortiert nach „Land“, aufsteigend)" in page.tables["laender"]["caption"]
    # The sorted column's link turns the order round; following it does.
    assert header["href"] == "/dashboard?sortierung=land&richtung=ab#laender"
    page = get(client, header["href"])
    assert page.column("laender", 0) == names[::-1]
    assert page.header("laender", "land")["aria-sort"] == "descending"
    assert "absteigend" in page.tables["laender"]["caption"]


def test_kreis_table_sorts_by_live_authorities_both_ways(app, client):
    figures = figures_of(app, "Aufenthaltstitel")
    base = f"/dashboard?leistung={figures.listing.id}&ebene=kreise"
    page = get(client, base)
    link = page.header("kreise", "behoerden")["href"]
    assert link == f"{base}&sortierung=behoerden&richtung=auf#kreise"

    ascending = get(client, link)
    counts = [number(c) for c in ascending.column("kreise", 2)]
    assert counts == sorted(counts) and counts[0] == 0 and counts[-1] > 0
    assert ascending.header("kreise", "behoerden")["aria-sort"] == "ascending"
    assert "aria-sort" not in ascending.header("kreise", "kreis")

    descending = get(client, f"{base}&sortierung=behoerden&richtung=ab")
    counts = [number(c) for c in descending.column("kreise", 2)]
    assert counts == sorted(counts, reverse=True) and counts[0] > 0 and counts[-1] == 0
    assert descending.header("kreise", "behoerden")["aria-sort"] == "descending"
    assert "(sortiert nach „Live Behörden“, absteigend)" in descending.tables["kreise"]["caption"]
    # Equal counts keep the name order.
    zeros = [r["cells"][0] for r in descending.rows("kreise") if number(r["cells"][2]) == 0]
    assert zeros == sorted(zeros, key=collate)

    by_land = get(client, f"{base}&sortierung=land&richtung=ab")
    lands = by_land.column("kreise", 1)
    assert lands[0] == "Thüringen" and lands[-1] == "Baden-Württemberg"


def test_listing_table_sorts_by_each_figure(app, client):
    top = figures_of(app, "Aufenthaltstitel")  # the most live authorities in the demo
    page = get(client, "/dashboard?sortierung=behoerden-live&richtung=ab")
    assert page.rows("leistungen")[0]["attrs"]["data-listing"] == str(top.listing.id)
    assert page.header("leistungen", "behoerden-live")["aria-sort"] == "descending"
    # The Land table is not sorted by a key of another table: it keeps its default.
    assert page.header("laender", "land")["aria-sort"] == "ascending"
    page = get(client, "/dashboard?sortierung=behoerden-live&richtung=auf")
    assert page.rows("leistungen")[-1]["attrs"]["data-listing"] == str(top.listing.id)
    titles = get(client, "/dashboard?sortierung=leistung&richtung=ab").column("leistungen", 0)
    firsts = [t.split(" Leistungsseite")[0] for t in titles]
    assert firsts == sorted(firsts, key=collate, reverse=True)


def test_one_listing_land_table_sorts_by_stage(app, client):
    figures = figures_of(app, "Aufenthaltstitel")
    page = get(client, f"/dashboard?leistung={figures.listing.id}&sortierung=stufe&richtung=ab")
    stages = page.column("laender", 1)
    assert all("Produktivbetrieb" in s for s in stages[: figures.live_lands])
    assert page.header("laender", "stufe")["aria-sort"] == "descending"
    page = get(client, f"/dashboard?leistung={figures.listing.id}&sortierung=seit&richtung=auf")
    dates = [r["cells"][2] for r in page.rows("laender")]
    # Länder without a reuse (no date) come last in either direction.
    assert dates[-1] == "–" and dates[0] != "–"


def test_land_page_kreis_table_sorts(client):
    page = get(client, "/dashboard/laender/12?sortierung=behoerden&richtung=ab")
    counts = [number(c) for c in page.column("kreise", 1)]
    assert counts == sorted(counts, reverse=True) and counts[0] > 0
    assert page.header("kreise", "behoerden")["aria-sort"] == "descending"
    assert page.header("kreise", "kreis")["href"] == (
        "/dashboard/laender/12?sortierung=kreis&richtung=auf#kreise"
    )


# --- bad input -------------------------------------------------------------------------------


BAD_QUERIES = [
    "ebene=mond",
    "ebene=",
    "sortierung=drop+table",
    "sortierung=land&richtung=seitwärts",
    "richtung=ab",
    "sortierung=" + "x" * 5000,
    "sortierung=leistung&richtung=" + "ab" * 3000,
    "ebene=laender&ebene=kreise&sortierung=land&sortierung=kreis",
]


def test_unknown_layer_sort_or_direction_falls_back_to_the_default(client):
    for query in BAD_QUERIES:
        page = get(client, f"/dashboard?{query}")
        names = page.column("laender", 0)
        assert len(names) == 16 and names == sorted(names, key=collate), query
        assert page.header("laender", "land")["aria-sort"] == "ascending", query
        assert "aufsteigend" in page.tables["laender"]["caption"], query
    # The Kreis layer and the Land page fall back the same way.
    page = get(client, "/dashboard?ebene=kreise&sortierung=stufe&richtung=hoch")
    assert page.header("kreise", "land")["aria-sort"] == "ascending"
    page = get(client, "/dashboard/laender/12?sortierung=land&richtung=ab")
    assert page.header("kreise", "kreis")["aria-sort"] == "ascending"


def test_a_nul_byte_in_a_query_value_is_refused_not_a_server_error(client):
    for url in (
        "/dashboard?sortierung=%00&richtung=%00&ebene=%00",
        "/dashboard?leistung=%00",
        "/dashboard/verlauf?leistung=1%00",
    ):
        assert client.get(url).status_code == 422, url


def test_a_garbage_or_unknown_listing_is_404_on_every_page(client):
    for value in [
        "abc",
        "0",
        "-1",
        "1.5",
        "+1",
        "%201",
        "1x",
        "²",
        "9" * 30,
        "99999",
        "1;DROP",
        "１",
    ]:
        assert client.get(f"/dashboard?leistung={value}").status_code == 404, value
        assert client.get(f"/dashboard?leistung={value}&ebene=kreise").status_code == 404, value
        assert client.get(f"/dashboard/verlauf?leistung={value}").status_code == 404, value


def test_an_unknown_land_is_404(client):
    for ags in ["00", "17", "99", "1", "123", "ab", "BB", "1%202", "%C3%BC%C3%BC"]:
        assert client.get(f"/dashboard/laender/{ags}").status_code == 404, ags


def test_unpublished_listings_are_404_and_never_listed(app, client):
    with app.app_context():
        hidden = list(
            db.session.execute(
                select(Listing.id, Listing.title).where(Listing.status != ListingStatus.PUBLISHED)
            )
        )
    statuses = {
        s for (s,) in _all(app, select(Listing.status).where(Listing.status != "published"))
    }
    assert {"draft", "withdrawn"} <= {str(s) for s in statuses}
    for lid, _title in hidden:
        assert client.get(f"/dashboard?leistung={lid}").status_code == 404
        assert client.get(f"/dashboard/verlauf?leistung={lid}").status_code == 404
    for url in (
        "/dashboard",
        "/dashboard?ebene=kreise",
        "/dashboard/verlauf",
        "/dashboard/laender/12",
    ):
        markup = client.get(url).get_data(as_text=True)
        for lid, title in hidden:
            assert title not in markup, (url, title)
            assert f'leistung={lid}"' not in markup and f'<option value="{lid}"' not in markup


def _all(app, query):
    with app.app_context():
        return list(db.session.execute(query))


def test_private_fields_never_show_on_any_dashboard_page(app, client):
    planted = {
        "scope": "Geheimer-Umfang-Q7x",
        "share_rule": "Geheime-Regel-Z3k",
        "interest_note": "Geheime-Notiz-P2m",
    }
    with app.app_context():
        db.session.execute(
            update(Reuse).values(
                annual_fee_cents=987_654_321, connection_cost_cents=123_454_321, **planted
            )
        )
        db.session.commit()
        contract_numbers = list(db.session.scalars(select(Contract.number)))
        lid = db.session.scalar(select(Listing.id).where(Listing.title == "Aufenthaltstitel"))
    assert contract_numbers
    forbidden = [*planted.values(), "9.876.543,21", "9876543", "1.234.543,21", "1234543", "€"]
    for url in (
        "/dashboard",
        "/dashboard?ebene=kreise",
        f"/dashboard?leistung={lid}",
        f"/dashboard?leistung={lid}&ebene=kreise",
        "/dashboard/laender/12",
        "/dashboard/laender/09",
        "/dashboard/verlauf",
        f"/dashboard/verlauf?leistung={lid}",
    ):
        markup = client.get(url).get_data(as_text=True)
        main = markup[markup.index("<main") : markup.index("</main>")]
        for value in [*forbidden, *contract_numbers]:
            assert value not in main, (url, value)


# --- the Land page ---------------------------------------------------------------------------


def test_land_page_says_what_is_live_in_onboarding_not_started_and_provided(app, client):
    with app.test_request_context():
        data = transparency.land_overview(BRANDENBURG)
        kreise = transparency.kreis_layer(None, BRANDENBURG)
        authorities, _connections, kreise_live = transparency.live_totals(BRANDENBURG)
    assert data.live and data.onboarding and data.not_started and data.provided
    page = get(client, "/dashboard/laender/12")

    live = {int(r["attrs"]["data-listing"]): r["cells"] for r in page.rows("live")}
    assert set(live) == {listing.id for listing, _stage in data.live}
    for listing, stage in data.live:
        assert live[listing.id][0] == listing.title
        assert number(live[listing.id][2]) == data.live_authorities.get(listing.id, 0)
        assert str(stage.live_since.year) in live[listing.id][1]
    onboarding = {int(r["attrs"]["data-listing"]): r["cells"] for r in page.rows("onboarding")}
    assert set(onboarding) == {listing.id for listing, _stage in data.onboarding}
    labels = {
        "coordination": "Abstimmung",
        "interest": "Interessenbekundung",
        "ordered": "Bestellt",
        "on_hold": "Zurückgestellt",
    }
    for listing, stage in data.onboarding:
        assert onboarding[listing.id][1] == labels.get(str(stage.stage), onboarding[listing.id][1])
    not_started = re.search(r'data-list="not-started">(.*?)</ul>', page.markup, re.S).group(1)
    assert not_started.count("<li>") == len(data.not_started)
    provided = re.search(r'data-list="provided">(.*?)</ul>', page.markup, re.S).group(1)
    for listing in data.provided:
        assert f'href="/leistungen/{listing.id}">{listing.title}<' in provided

    assert (
        page.figures["kreise-live"]
        == f"{kreise_live} von {len(kreise)} Kreisen mit mindestens einer live Behörde"
    )
    assert page.figures["live-authorities"].startswith(f"{authorities} Behörde")
    # The Kreis map and the complete table of this Land's Kreise.
    assert len(page.rows("kreise")) == len(kreise) == len(page.paths) == 18
    assert {r["attrs"]["data-ags"]: number(r["cells"][1]) for r in page.rows("kreise")} == {
        k.ags: k.live_authorities for k in kreise
    }


def test_land_page_follow_box_for_anonymous_and_signed_in_users(app, client, login_as):
    markup = client.get("/dashboard/laender/12").get_data(as_text=True)
    assert 'href="/anmelden?next=/dashboard/laender/12"' in markup or (
        'href="/anmelden?next=%2Fdashboard%2Flaender%2F12"' in markup
    )
    assert 'name="land_ags" value="12"' not in markup

    login_as(EDITOR_BB)
    markup = client.get("/dashboard/laender/12").get_data(as_text=True)
    assert 'name="land_ags" value="12"' in markup
    with app.test_request_context():
        record = follows.follow(user_by_email(EDITOR_BB), land_ags="12")
        unfollow = url_for("follows.delete", follow_id=record.id)
    # Now the box offers to stop following this Land.
    markup = client.get("/dashboard/laender/12").get_data(as_text=True)
    assert f'action="{unfollow}"' in markup


# --- the history page ------------------------------------------------------------------------


def test_history_table_is_the_time_series_and_the_chart_is_an_image(app, client):
    figures = figures_of(app, "Aufenthaltstitel")
    for query, listing in (("", None), (f"?leistung={figures.listing.id}", figures.listing.id)):
        with app.test_request_context():
            points = transparency.time_series(listing)
        assert points
        page = get(client, f"/dashboard/verlauf{query}")
        rows = page.rows("months")
        assert [r["attrs"]["data-month"] for r in rows] == [p.month.isoformat()[:7] for p in points]
        assert [(number(r["cells"][1]), number(r["cells"][2])) for r in rows] == [
            (p.live_lands, p.live_authorities) for p in points
        ]
        assert rows[0]["cells"][0] == (
            f"{_MONTHS[points[0].month.month - 1]} {points[0].month.year}"
        )
        svg = re.search(r'<svg class="history-chart__svg"[^>]*>', page.markup).group(0)
        assert 'role="img"' in svg and 'aria-labelledby="history-chart-title"' in svg
        assert "Dieselben Zahlen stehen in der Tabelle" in page.markup
        assert page.markup.count('class="history-chart__line ') == 2
    # What is counted for all listings together, in words.
    assert "Land × Leistung" in get(client, "/dashboard/verlauf").markup


_MONTHS = [
    "Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
    "Oktober", "November", "Dezember",
]  # fmt: skip


def test_history_without_any_go_live_says_so(app, client):
    figures = figures_of(app, "BAföG online")
    with app.test_request_context():
        assert transparency.time_series(figures.listing.id) == []
    page = get(client, f"/dashboard/verlauf?leistung={figures.listing.id}")
    assert 'id="history-empty"' in page.markup
    assert "noch keinen Verlauf" in page.markup
    assert "months" not in page.tables and "history-chart__svg" not in page.markup


def test_axis_steps_and_chart_geometry():
    assert nice_ceiling(0) == (1, 1)
    assert nice_ceiling(5) == (5, 1)
    assert nice_ceiling(6) == (6, 2)
    assert nice_ceiling(16) == (20, 5)
    assert nice_ceiling(73) == (80, 20)
    assert nice_ceiling(401) == (500, 100)
    # December 2020 to May 2023; from March 2021 on 2 Länder and 11 authorities.
    months = [date(2020 + (11 + i) // 12, (11 + i) % 12 + 1, 1) for i in range(30)]
    points = [
        transparency.MonthPoint(m, 1 if i < 3 else 2, 2 if i < 3 else 11)
        for i, m in enumerate(months)
    ]
    chart = history_chart(points, ("Länder", "Behörden"))
    lands, authorities = chart.panels
    # The December 2020 label would overlap January 2021's: only the Januaries stay.
    assert [label for _x, label in lands.x_labels] == ["2021", "2022", "2023"]
    assert [value for _y, value in lands.ticks] == [0, 1, 2]
    assert [value for _y, value in authorities.ticks] == [0, 5, 10, 15]
    # The step line starts at the first value, rises once, ends at the right edge.
    one, two = lands.ticks[1][0], lands.ticks[2][0]
    assert lands.path.startswith(f"M{chart.left},{one} ")
    assert lands.path.count("V") == 1 and f"V{two} " in lands.path
    assert lands.path.endswith(f"H{chart.right}")
    assert history_chart(points[:1], ("Länder", "Behörden")).panels[0].x_labels == [
        (chart.left, "2020")
    ]


# --- constant queries ------------------------------------------------------------------------


def _grow(app, listing_ids: list[int], per_land: int = 12) -> int:
    """Many more reuses (every Land but the provider, every stage, live ones with
    transitions) and live rollouts over many Kreise, inserted through the models.
    Returns the number of rollouts added."""
    stages = [*MAIN_LINE, ReuseStage.ON_HOLD, ReuseStage.WITHDRAWN]
    start = datetime(2022, 1, 3, 9, 0)
    added = 0
    with app.app_context():
        kreise: dict[str, list[Authority]] = {}
        for authority in db.session.scalars(
            select(Authority).where(Authority.level == AuthorityLevel.KREIS)
        ):
            kreise.setdefault(authority.land_ags, []).append(authority)
        for number_, lid in enumerate(listing_ids):
            listing = db.session.get(Listing, lid)
            for index, land in enumerate(sorted(kreise)):
                if land == listing.provider_land_ags:
                    continue
                stage = stages[(index + number_) % len(stages)]
                since = start + timedelta(days=30 * index + number_)
                reuse = Reuse(listing_id=lid, adopter_land_ags=land, stage=stage, stage_since=since)
                db.session.add(reuse)
                db.session.flush()
                path = (
                    list(MAIN_LINE[: MAIN_LINE.index(stage) + 1])
                    if stage in MAIN_LINE
                    else [
                        ReuseStage.INTEREST,
                        stage,
                    ]
                )
                previous = None
                for step, to_stage in enumerate(path):
                    db.session.add(
                        ReuseTransition(
                            reuse_id=reuse.id,
                            from_stage=previous,
                            to_stage=to_stage,
                            occurred_at=since - timedelta(days=len(path) - step),
                        )
                    )
                    previous = to_stage
                if stage not in (ReuseStage.LIVE, ReuseStage.TESTING):
                    continue
                for authority in kreise[land][:per_land]:
                    status = (
                        RolloutStatus.LIVE if stage == ReuseStage.LIVE else RolloutStatus.CONNECTING
                    )
                    rollout = Rollout(
                        reuse_id=reuse.id,
                        authority_id=authority.id,
                        kreis_ags=authority.kreis_ags,
                        status=status,
                        status_on=since.date(),
                        live_on=since.date() if status == RolloutStatus.LIVE else None,
                    )
                    db.session.add(rollout)
                    db.session.flush()
                    db.session.add(
                        RolloutEvent(
                            rollout_id=rollout.id,
                            from_status=None,
                            to_status=status,
                            on=since.date(),
                        )
                    )
                    added += 1
        db.session.commit()
    return added


def test_every_page_runs_the_same_queries_after_many_more_reuses_and_rollouts(
    app, client, count_queries
):
    with app.test_request_context():
        overview = transparency.overview()
    quiet = [f.listing.id for f in overview.listings if f.live_lands == f.onboarding_lands == 0]
    assert len(quiet) >= 4
    grown = quiet[0]
    urls = [
        "/dashboard",
        "/dashboard?ebene=kreise",
        f"/dashboard?leistung={grown}",
        f"/dashboard?leistung={grown}&ebene=kreise",
        "/dashboard?ebene=kreise&sortierung=behoerden&richtung=ab",
        "/dashboard/laender/12",
        "/dashboard/laender/09",
        "/dashboard/verlauf",
        f"/dashboard/verlauf?leistung={grown}",
    ]

    def measure() -> dict[str, int]:
        counts = {}
        for url in urls:
            with count_queries() as counter:
                response = client.get(url)
            assert response.status_code == 200, url
            counts[url] = counter.count
        return counts

    measure()  # warm up: nothing cached per process may count against one side
    before = measure()
    assert max(before.values()) <= 8, before

    added = _grow(app, quiet[:4])
    assert added > 100
    with app.test_request_context():
        after_overview = transparency.overview()
    grown_figures = next(f for f in after_overview.listings if f.listing.id == grown)
    assert grown_figures.live_lands > 0 and grown_figures.live_authorities > 0
    assert measure() == before
    # The grown figures are shown (the measured pages really had more to show).
    page = get(client, f"/dashboard?leistung={grown}&ebene=kreise")
    assert sum(number(c) for c in page.column("kreise", 2)) == grown_figures.live_authorities


def test_land_page_runs_the_same_queries_signed_in(app, client, login_as, count_queries):
    login_as(EDITOR_BB)
    client.get("/dashboard/laender/12")

    def measure() -> int:
        with count_queries() as counter:
            assert client.get("/dashboard/laender/12").status_code == 200
        return counter.count

    before = measure()
    with app.test_request_context():
        quiet = [
            f.listing.id
            for f in transparency.overview().listings
            if f.live_lands == f.onboarding_lands == 0
        ]
    _grow(app, quiet[:3])
    assert measure() == before
