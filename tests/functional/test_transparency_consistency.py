"""One figure, every output: the public dashboard's maps and tables, the Land pages, the
history, the open data (CSV and JSON) and the API agree, on a generated data set whose
answer the generator knows (``tests.factories.generated_adoption``: a listing live in
exactly 53 of 401 Kreise, another in 9, Länder in every stage, authorities planned,
connecting, live, and live ones of a terminated reuse that no longer count).

Each test reads every output, collects what it says, and compares all of them at once,
so a failure names each output that disagrees. Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from datetime import date
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.factories import GeneratedListing, generated_adoption

KREISE = (53, 9)


@pytest.fixture
def adoption(app):
    with app.app_context():
        return generated_adoption(seed=6, kreise=KREISE)


# --- reading the outputs ------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}


class Node:
    def __init__(self, tag: str, attrs: dict[str, str]):
        self.tag, self.attrs, self.children = tag, attrs, []

    def text(self) -> str:
        parts = [c if isinstance(c, str) else c.text() for c in self.children]
        return " ".join(" ".join(parts).split())

    def find_all(self, tag: str | None = None, **attrs: str | bool) -> list[Node]:
        """Descendants with ``tag`` whose attributes have the given values (True: present;
        ``data_ags`` means ``data-ags``)."""
        found = []
        for child in self.children:
            if isinstance(child, str):
                continue
            if (tag is None or child.tag == tag) and all(
                (name.replace("_", "-") in child.attrs)
                if wanted is True
                else child.attrs.get(name.replace("_", "-")) == wanted
                for name, wanted in attrs.items()
            ):
                found.append(child)
            found += child.find_all(tag, **attrs)
        return found

    def one(self, tag: str | None = None, **attrs) -> Node:
        found = self.find_all(tag, **attrs)
        assert len(found) == 1, (tag, attrs, len(found))
        return found[0]


class Tree(HTMLParser):
    """A page as a tree of nodes (the templates close their elements; SVG paths may be
    self-closing)."""

    def __init__(self, markup: str):
        super().__init__()
        self.root = Node("#document", {})
        self._stack = [self.root]
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs})
        self._stack[-1].children.append(node)
        if tag not in VOID:
            self._stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self._stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        for depth in range(len(self._stack) - 1, 0, -1):
            if self._stack[depth].tag == tag:
                del self._stack[depth:]
                return

    def handle_data(self, data):
        self._stack[-1].children.append(data)


def page(client, url: str) -> Node:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return Tree(response.get_data(as_text=True)).root


def number(text: str) -> int:
    """The (only) whole number in a cell, e.g. "53 von 401" -> 53."""
    digits = re.findall(r"\d+", text.replace(".", ""))
    assert digits, text
    return int(digits[0])


def map_areas(root: Node, map_id: str) -> dict[str, str]:
    """A map's areas: AGS -> colour class (the SVG's paths with a data-ags)."""
    svg = root.one("svg", role="img", **{"aria-labelledby": f"{map_id}-title"})
    return {
        path.attrs["data-ags"]: path.attrs["class"] for path in svg.find_all("path", data_ags=True)
    }


def table_rows(root: Node, name: str, key: str = "data-ags") -> dict[str, Node]:
    table = root.one("table", data_table=name)
    return {row.attrs[key]: row for row in table.find_all("tr") if key in row.attrs}


def last_cell_number(row: Node) -> int:
    return number(row.find_all("td")[-1].text())


def swatch(row: Node) -> str:
    """The colour class of a table row's swatch (the same classes as the map)."""
    classes = row.one("span", **{"aria-hidden": "true"}).attrs["class"].split()
    return next(css for css in classes if css != "swatch")


def csv_rows(client, url: str) -> list[dict[str, str]]:
    response = client.get(url)
    assert response.status_code == 200, url
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def json_rows(client, url: str) -> list[dict]:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_json()["rows"]


def api(client, path: str):
    response = client.get(f"/api/v1{path}")
    assert response.status_code == 200, path
    return response.get_json()


def all_agree(expected, seen: dict[str, object]) -> None:
    """Every output says ``expected``; the message lists each output and its value."""
    wrong = {output: value for output, value in seen.items() if value != expected}
    assert not wrong, f"expected {expected!r}; disagreeing: {wrong!r}; all: {seen!r}"


def authority_rows(client) -> dict[str, list[dict]]:
    return {
        "behoerden.csv": csv_rows(client, "/opendata/nachnutzung-behoerden.csv"),
        "behoerden.json": json_rows(client, "/opendata/nachnutzung-behoerden.json"),
    }


def land_rows(client) -> dict[str, list[dict]]:
    return {
        "laender.csv": csv_rows(client, "/opendata/nachnutzung-laender.csv"),
        "laender.json": json_rows(client, "/opendata/nachnutzung-laender.json"),
    }


def live_kreise_of(rows: list[dict], listing_id: int | None) -> Counter:
    """Kreis -> live authorities, from open-data authority rows (one listing or all; all
    counts each authority once)."""
    live = [
        row
        for row in rows
        if row["status"] == "live" and (listing_id is None or int(row["listing_id"]) == listing_id)
    ]
    if listing_id is None:
        live = list({row["authority_ags"]: row for row in live}.values())
    return Counter(row["kreis_ags"] for row in live)


# --- "53 of 401 Kreise" -------------------------------------------------------------------


def test_kreise_with_a_live_authority_agree_on_every_output(client, adoption):
    made = adoption.listings
    assert [len(listing.live_kreise) for listing in made] == list(KREISE)
    opendata = authority_rows(client)
    lands = land_rows(client)
    overview = api(client, "/dashboard")
    overview_rows = {row["id"]: row for row in overview["listings"]}
    all_listings_table = table_rows(page(client, "/dashboard"), "leistungen", "data-listing")

    for listing in made:
        expected = dict(sorted(listing.live_kreise.items()))
        root = page(client, f"/dashboard?leistung={listing.id}&ebene=kreise")
        areas = map_areas(root, "kreis-map")
        assert len(areas) == 401
        table = table_rows(root, "kreise")
        assert len(table) == 401
        detail = api(client, f"/dashboard/listings/{listing.id}")
        # Kreis -> live authorities, as each output says it.
        per_kreis = {
            "map (classes)": {ags: css for ags, css in areas.items() if css != "live-0"},
            "table": {
                ags: last_cell_number(row) for ags, row in table.items() if last_cell_number(row)
            },
            **{
                name: dict(sorted(live_kreise_of(rows, listing.id).items()))
                for name, rows in opendata.items()
            },
            "api listing": {
                row["kreis_ags"]: row["live_authorities"]
                for row in detail["kreise"]
                if row["live_authorities"]
            },
        }
        all_agree(set(expected), {output: set(value) for output, value in per_kreis.items()})
        all_agree(expected, {k: v for k, v in per_kreis.items() if k != "map (classes)"})
        # The map's colour is the bucket of the table's count.
        for ags, css in areas.items():
            assert css == swatch(table[ags]), ags

        count = len(expected)
        headline = root.one(id="headline-kreise").text()
        assert f"{count} von 401" in headline, headline
        all_agree(
            count,
            {
                "map": sum(css != "live-0" for css in areas.values()),
                "table": sum(last_cell_number(row) > 0 for row in table.values()),
                "headline": number(headline.split(":")[-1]),
                "all-listings table": number(
                    all_listings_table[str(listing.id)].find_all("td")[-1].text()
                ),
                "api overview": overview_rows[listing.id]["kreise_with_live"],
                "api listing": detail["kreise_with_live"],
                **{name: len(live_kreise_of(rows, listing.id)) for name, rows in opendata.items()},
            },
        )
        assert overview_rows[listing.id]["kreise_total"] == detail["kreise_total"] == 401
        assert f"{count} von 401" in all_listings_table[str(listing.id)].text()

        # Live authorities: the same sum everywhere, and per Land.
        all_agree(
            listing.live_authorities,
            {
                "table": sum(last_cell_number(row) for row in table.values()),
                "figures": number(root.one("li", data_figure="live-authorities").text()),
                "api overview": overview_rows[listing.id]["live_authorities"],
                "api listing": detail["live_authorities"],
                **{
                    name: sum(live_kreise_of(rows, listing.id).values())
                    for name, rows in opendata.items()
                },
                **{
                    name: sum(
                        int(row["live_authorities"])
                        for row in rows
                        if int(row["listing_id"]) == listing.id
                    )
                    for name, rows in lands.items()
                },
            },
        )
        for land_ags, live in sorted(listing.live_by_land.items()):
            land_page = page(client, f"/dashboard/laender/{land_ags}")
            api_land = api(client, f"/dashboard/lands/{land_ags}")
            all_agree(
                live,
                {
                    "land page": last_cell_number(
                        table_rows(land_page, "live", "data-listing")[str(listing.id)]
                    ),
                    "api land": next(
                        row["live_authorities"]
                        for row in api_land["live"]
                        if row["listing"]["id"] == listing.id
                    ),
                    **{
                        name: next(
                            int(row["live_authorities"])
                            for row in rows
                            if int(row["listing_id"]) == listing.id and row["land_ags"] == land_ags
                        )
                        for name, rows in lands.items()
                    },
                },
            )

    # All listings together: each authority counted once.
    root = page(client, "/dashboard?ebene=kreise")
    areas = map_areas(root, "kreis-map")
    table = table_rows(root, "kreise")
    all_agree(
        overview["totals"]["kreise_with_live"],
        {
            "map": sum(css != "live-0" for css in areas.values()),
            "table": sum(last_cell_number(row) > 0 for row in table.values()),
            "headline": number(root.one(id="headline-kreise").text().split(":")[-1]),
            **{name: len(live_kreise_of(rows, None)) for name, rows in opendata.items()},
        },
    )
    assert adoption.live_kreise <= {ags for ags, css in areas.items() if css != "live-0"}
    all_agree(
        overview["totals"]["live_authorities"],
        {
            "table": sum(last_cell_number(row) for row in table.values()),
            "figures": number(root.one("li", data_figure="live-authorities").text()),
            **{name: sum(live_kreise_of(rows, None).values()) for name, rows in opendata.items()},
        },
    )


# --- live Länder ------------------------------------------------------------------------


def statuses_of(rows: list[dict], listing_id: int) -> dict[str, str]:
    return {row["land_ags"]: row["status"] for row in rows if int(row["listing_id"]) == listing_id}


def test_lands_and_their_status_agree_on_every_output(client, adoption):
    lands = land_rows(client)
    overview = {row["id"]: row for row in api(client, "/dashboard")["listings"]}
    all_listings_table = table_rows(page(client, "/dashboard"), "leistungen", "data-listing")
    land_pages = {f"{n:02d}": page(client, f"/dashboard/laender/{n:02d}") for n in range(1, 17)}
    api_lands = {f"{n:02d}": api(client, f"/dashboard/lands/{n:02d}") for n in range(1, 17)}

    for listing in adoption.listings:
        expected = {f"{n:02d}": listing.status(f"{n:02d}") for n in range(1, 17)}
        assert Counter(expected.values()) == {
            "live": 5,
            "onboarding": listing.onboarding_lands,
            "not_started": 16 - 5 - listing.onboarding_lands,
        }
        root = page(client, f"/dashboard?leistung={listing.id}&ebene=laender")
        areas = map_areas(root, "land-map")
        table = table_rows(root, "laender")
        detail = api(client, f"/dashboard/listings/{listing.id}")
        on_pages = {}
        for ags, land_page in land_pages.items():
            if str(listing.id) in table_rows_or_empty(land_page, "live"):
                on_pages[ags] = "live"
            elif str(listing.id) in table_rows_or_empty(land_page, "onboarding"):
                on_pages[ags] = "onboarding"
            else:
                listed = land_page.one("ul", data_list="not-started")
                assert any(
                    parse_qs(urlsplit(link.attrs["href"]).query).get("leistung")
                    == [str(listing.id)]
                    for link in listed.find_all("a")
                ), ags
                on_pages[ags] = "not_started"
        api_on_lands = {}
        for ags, body in api_lands.items():
            for status in ("live", "onboarding"):
                if any(row["listing"]["id"] == listing.id for row in body[status]):
                    api_on_lands[ags] = status
            if any(row["id"] == listing.id for row in body["not_started"]):
                api_on_lands[ags] = "not_started"
        all_agree(
            expected,
            {
                **{name: statuses_of(rows, listing.id) for name, rows in lands.items()},
                "api listing": {row["land_ags"]: row["status"] for row in detail["lands"]},
                "land pages": on_pages,
                "api land": api_on_lands,
            },
        )
        # The stage map and its table: live Länder are coloured "live", the same in both.
        live = {ags for ags, status in expected.items() if status == "live"}
        all_agree(
            live,
            {
                "map": {ags for ags, css in areas.items() if css == "stage--live"},
                "table": {ags for ags, row in table.items() if swatch(row) == "stage--live"},
            },
        )
        assert len(areas) == len(table) == 16
        cells = [number(td.text()) for td in all_listings_table[str(listing.id)].find_all("td")]
        all_agree(
            (5, listing.onboarding_lands, 16 - 5 - listing.onboarding_lands),
            {
                "figures": tuple(
                    number(root.one("li", data_figure=key).text())
                    for key in ("live-lands", "onboarding-lands", "not-started-lands")
                ),
                "all-listings table": tuple(cells[:3]),
                "api overview": tuple(
                    overview[listing.id][key]
                    for key in ("live_lands", "onboarding_lands", "not_started_lands")
                ),
                "api listing": tuple(
                    detail[key] for key in ("live_lands", "onboarding_lands", "not_started_lands")
                ),
            },
        )
        # The provider's own use counts: it is live, and marked as the provider.
        assert [row["land_ags"] for row in detail["lands"] if row["provider"]] == [listing.provider]


def table_rows_or_empty(root: Node, name: str) -> dict[str, Node]:
    """A Land page shows a table only when it has rows."""
    if not root.find_all("table", data_table=name):
        return {}
    return table_rows(root, name, "data-listing")


# --- the history ends with today ----------------------------------------------------------


def history_rows(client, url: str) -> dict[str, tuple[int, int]]:
    root = page(client, url)
    return {
        month: (number(cells[0].text()), number(cells[1].text()))
        for month, row in table_rows(root, "months", "data-month").items()
        for cells in [row.find_all("td")]
    }


def test_the_last_month_of_the_history_is_today_s_figures(client, adoption):
    month = date.today().strftime("%Y-%m")
    overview = api(client, "/dashboard")
    lands = land_rows(client)
    opendata = authority_rows(client)

    def last_points(listing: GeneratedListing | None) -> dict[str, tuple[int, int]]:
        query = f"?listing_id={listing.id}" if listing else ""
        points = api(client, f"/dashboard/timeseries{query}")["points"]
        page_rows = history_rows(
            client, f"/dashboard/verlauf{f'?leistung={listing.id}' if listing else ''}"
        )
        assert points[-1]["month"] == max(page_rows) == month
        # The page's table and the API are the same series, month by month.
        assert {p["month"]: (p["live_lands"], p["live_authorities"]) for p in points} == page_rows
        return {
            "history page": page_rows[month],
            "api timeseries": (points[-1]["live_lands"], points[-1]["live_authorities"]),
        }

    for listing in adoption.listings:
        row = next(r for r in overview["listings"] if r["id"] == listing.id)
        all_agree(
            (listing.live_lands, listing.live_authorities),
            {
                **last_points(listing),
                "api overview": (row["live_lands"], row["live_authorities"]),
                **{
                    name: (
                        sum(s == "live" for s in statuses_of(rows, listing.id).values()),
                        sum(
                            live_kreise_of(
                                opendata[name.replace("laender", "behoerden")], listing.id
                            ).values()
                        ),
                    )
                    for name, rows in lands.items()
                },
            },
        )
    # All listings: Land x listing and authority x listing pairs.
    totals = overview["totals"]
    all_agree(
        (totals["live_reuses"], totals["live_connections"]),
        {
            **last_points(None),
            **{
                name: (
                    sum(row["status"] == "live" for row in rows),
                    sum(
                        row["status"] == "live"
                        for row in opendata[name.replace("laender", "behoerden")]
                    ),
                )
                for name, rows in lands.items()
            },
        },
    )
