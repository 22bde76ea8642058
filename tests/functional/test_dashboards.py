"""Where reuse shows: the stage map on the listing page, "Mein Land" and the FITKO overview.

Every reuse here is made through the reuses service on fresh listings of this module
(titles carry ``TOKEN``), so demo reuses never decide an assertion. Conditions carry a
unique scope text; no dashboard or listing page may ever show it.
"""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest

from fitstore.blueprints import dashboards
from fitstore.extensions import db
from fitstore.models import Contract, Reuse
from fitstore.models.base import utcnow
from fitstore.services import listings, reuses
from tests.conftest import login
from tests.factories import expressed_interest, listing_content, published_listing, user_by_email

TOKEN = "Amsel"
SECRET_BY = "Geheimumfang-Bayern-7f3a"
SECRET_NW = "Geheimumfang-NRW-91c2"
SECRET_SN = "Geheimumfang-Sachsen-44d0"
SECRETS = (SECRET_BY, SECRET_NW, SECRET_SN)
NAMES = {"09": "Bayern", "06": "Hessen", "05": "Nordrhein-Westfalen", "14": "Sachsen"}


# --- building reuses through the service ---------------------------------------------------


def publish(editor: str, title: str) -> int:
    """A published listing of the editor's Land (create, submit, FITKO publishes)."""
    return published_listing(editor, title, description=f"Dashboard-Test ({TOKEN}).")


def interest(adopter: str, listing_id: int) -> int:
    return expressed_interest(adopter, listing_id, expected_usage=1200)


def to_coordination(provider: str, reuse_id: int, scope: str | None = None) -> None:
    editor = user_by_email(f"{provider}@demo.test")
    reuses.transition(editor, reuse_id, "start_coordination")
    if scope is not None:
        reuses.propose_conditions(
            editor,
            reuse_id,
            {
                "condition_model": "annual_fee",
                "annual_fee_cents": 4_321_099,
                "connection_cost_cents": 987_654,
                "scope": scope,
                "conditions_start": "2025-01-01",
            },
        )


def order(adopter: str, reuse_id: int) -> int:
    reuse = reuses.transition(user_by_email(f"{adopter}@demo.test"), reuse_id, "order")
    return reuse.contract.id


def check(contract_id: int) -> None:
    reuses.check_contract(
        user_by_email("fitko-1@demo.test"),
        contract_id,
        {"eligibility_basis": "traeger", "legal_basis": reuses.DEFAULT_LEGAL_BASIS},
    )


def countersign(contract_id: int) -> None:
    reuses.countersign_contract(
        user_by_email("fitko-2@demo.test"),
        contract_id,
        {"effective_date": utcnow().date().isoformat()},
    )


def scenario(app) -> dict:
    """A Brandenburg listing with reuses in four Länder at different stages:
    BY contracted, HE interest, NW ordered (awaiting check), SN checked (awaiting
    countersignature)."""
    with app.app_context():
        listing_id = publish("editor-bb", f"{TOKEN} Dashboard-Dienst")
        by = interest("editor-by", listing_id)
        to_coordination("editor-bb", by, SECRET_BY)
        by_contract = order("editor-by", by)
        check(by_contract)
        countersign(by_contract)
        he = interest("editor-he", listing_id)
        nw = interest("editor-nw", listing_id)
        to_coordination("editor-bb", nw, SECRET_NW)
        nw_contract = order("editor-nw", nw)
        sn = interest("editor-sn", listing_id)
        to_coordination("editor-bb", sn, SECRET_SN)
        sn_contract = order("editor-sn", sn)
        check(sn_contract)
    return {
        "listing": listing_id,
        "by": by,
        "he": he,
        "nw": nw,
        "sn": sn,
        "nw_contract": nw_contract,
        "sn_contract": sn_contract,
    }


def client_of(app, email: str | None):
    client = app.test_client()
    if email:
        assert login(client, email).status_code == 302
    return client


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


# --- reading pages ---------------------------------------------------------------------------


class Elements(HTMLParser):
    """Elements with a ``data-*`` marker: their attributes and their text (nested ones
    included), and the SVG <title> of every map path."""

    MARKERS = ("data-land", "data-reuse", "data-contract", "data-listing", "data-legend")

    def __init__(self, markup: str):
        super().__init__()
        self.found: list[dict] = []
        self._open: list[tuple[str, dict]] = []
        self.feed(markup)

    def handle_starttag(self, tag, attrs):
        attributes = {k: v or "" for k, v in attrs}
        attributes["_tag"] = tag
        attributes["_text"] = ""
        self._open.append((tag, attributes))

    def handle_endtag(self, tag):
        while self._open:
            open_tag, attributes = self._open.pop()
            if any(m in attributes for m in self.MARKERS) or open_tag == "title":
                attributes["_text"] = " ".join(attributes["_text"].split())
                self.found.append(attributes)
                if open_tag == "title" and self._open and self._open[-1][0] == "path":
                    self._open[-1][1]["_title"] = attributes["_text"]
            if self._open:
                self._open[-1][1]["_text"] += " " + attributes["_text"]
            if open_tag == tag:
                break

    def handle_data(self, data):
        if self._open:
            self._open[-1][1]["_text"] += data

    def find(self, tag: str, **wanted) -> list[dict]:
        return [
            a
            for a in self.found
            if a["_tag"] == tag and all(a.get(k.replace("_", "-")) == v for k, v in wanted.items())
        ]

    def one(self, tag: str, **wanted) -> dict:
        hits = self.find(tag, **wanted)
        assert len(hits) == 1, (tag, wanted, len(hits))
        return hits[0]


def section(markup: str, heading_id: str) -> str:
    """The markup of the <section> labelled by ``heading_id`` (up to the next h2 section)."""
    start = markup.index(f'aria-labelledby="{heading_id}"')
    following = re.search(
        r'<section aria-labelledby="[^"]+-heading" class="stack" id=', markup[start + 1 :]
    )
    end = start + 1 + following.start() if following else len(markup)
    return markup[start:end]


# --- the listing page -----------------------------------------------------------------------


def test_listing_page_map_and_table_show_each_lands_stage(app):
    ids = scenario(app)
    markup = page(client_of(app, None), f"/leistungen/{ids['listing']}")
    assert "Nachnutzung in den Ländern" in markup
    found = Elements(markup)
    expected = {
        "09": ("stage--contracted", "Vertrag geschlossen"),
        "06": ("stage--interest", "Interessenbekundung"),
        "05": ("stage--ordered", "Bestellt"),
        "14": ("stage--ordered", "Bestellt"),
        "12": ("stage--provider", "Bereitstellendes Land"),
        "03": ("stage--none", "keine Nachnutzung"),
        "16": ("stage--none", "keine Nachnutzung"),
    }
    assert len(found.find("path")) == 16
    for ags, (css, label) in expected.items():
        path = found.one("path", data_land=ags)
        assert path["class"] == css, ags
        row = found.one("tr", data_land=ags)
        name = row["_text"].split(label)[0].strip()
        # The same fact in both: "Land: Stufe" on the map, Land and Stufe in the table.
        assert path["_title"] == f"{name}: {label}", (ags, path["_title"])
        assert label in row["_text"] and f"swatch {css}" in markup
    assert found.one("path", data_land="09")["_title"] == "Bayern: Vertrag geschlossen"
    # "seit": a date for Länder with a reuse, a dash for the rest.
    assert re.search(r"\d{4}", found.one("tr", data_land="06")["_text"])
    assert found.one("tr", data_land="03")["_text"].endswith("–")
    legend = {item["data-legend"] for item in found.find("li") if "data-legend" in item}
    assert legend == {
        "stage--interest",
        "stage--ordered",
        "stage--contracted",
        "stage--provider",
        "stage--none",
    }
    for secret in SECRETS:
        assert secret not in markup
    assert "43.210,99" not in markup and "9.876,54" not in markup  # the proposed money


def test_listing_page_of_a_draft_has_no_stage_map(app):
    with app.app_context():
        author = user_by_email("editor-bb@demo.test")
        draft = listings.create_listing(author, listing_content(title=f"{TOKEN} Entwurf")).id
    markup = page(client_of(app, "editor-bb@demo.test"), f"/leistungen/{draft}")
    assert "Nachnutzung in den Ländern" not in markup
    assert 'class="stage--' not in markup


def test_listing_page_runs_the_same_queries_for_1_and_6_reuses(app, count_queries):
    with app.app_context():
        listing_id = publish("editor-bb", f"{TOKEN} Zählung")
        interest("editor-by", listing_id)
    client = client_of(app, "viewer-he@demo.test")
    url = f"/leistungen/{listing_id}"
    page(client, url)

    def measure() -> int:
        with count_queries() as counter:
            page(client, url)
        return counter.count

    one = measure()
    with app.app_context():
        for adopter in ("editor-he", "editor-nw", "editor-sn", "editor-th", "editor-mv"):
            interest(adopter, listing_id)
    markup = page(client, url)
    assert markup.count('class="stage--interest"') == 6
    assert measure() == one


# --- "Mein Land" ----------------------------------------------------------------------------


def test_bayern_sees_its_reuse_and_what_waits_for_it(app):
    ids = scenario(app)
    markup = page(client_of(app, "editor-by@demo.test"), "/mein-land")
    assert "Mein Land: Bayern" in markup
    found = Elements(markup)
    reused = found.find("tr", data_reuse=str(ids["by"]))
    assert len(reused) == 2  # once under "Was wir nachnutzen", once under "Was auf uns wartet"
    mine = section(markup, "reused-heading")
    assert f'href="/nachnutzungen/{ids["by"]}"' in mine
    row = Elements(mine).one("tr", data_reuse=str(ids["by"]))
    assert f"{TOKEN} Dashboard-Dienst" in row["_text"]
    assert "Brandenburg" in row["_text"] and "Vertrag geschlossen" in row["_text"]
    assert "noch keine Behörden erfasst" in row["_text"]
    waiting = section(markup, "waiting-heading")
    todo = Elements(waiting).one("tr", data_reuse=str(ids["by"]))
    assert "Technische Anbindung beginnen" in todo["_text"]
    assert "Nachnutzer" in todo["_text"]
    assert f'href="/nachnutzungen/{ids["by"]}"' in waiting
    # Other Länder's reuses of the same listing are not Bayern's business.
    for other in ("he", "nw", "sn"):
        assert f'data-reuse="{ids[other]}"' not in markup


def test_brandenburg_sees_the_incoming_interest_waiting(app):
    ids = scenario(app)
    markup = page(client_of(app, "editor-bb@demo.test"), "/mein-land")
    waiting = Elements(section(markup, "waiting-heading"))
    todo = waiting.one("tr", data_reuse=str(ids["he"]))
    assert "Interessenbekundung beantworten" in todo["_text"]
    assert "Hessen" in todo["_text"] and "Bereitsteller" in todo["_text"]
    # Ordered contracts wait for FITKO, a contracted reuse for Bayern: not for Brandenburg.
    for other in ("by", "nw", "sn"):
        assert not waiting.find("tr", data_reuse=str(ids[other]))
    provided = Elements(section(markup, "provided-heading")).one(
        "tr", data_listing=str(ids["listing"])
    )
    text = provided["_text"]
    assert "Interessenbekundung: 1" in text
    assert "Bestellt: 2" in text
    assert "Vertrag geschlossen: 1" in text
    assert re.search(r"\b4\b", text)


def test_waiting_items_are_oldest_first_with_the_action_in_words(app):
    with app.app_context():
        first = publish("editor-bb", f"{TOKEN} Erster Dienst")
        second = publish("editor-bb", f"{TOKEN} Zweiter Dienst")
        newer = interest("editor-he", first)
        older = interest("editor-he", second)
        to_coordination("editor-bb", older)  # BB must now propose conditions
        db.session.get(Reuse, older).stage_since = utcnow() - timedelta(days=30)
        db.session.commit()
    markup = page(client_of(app, "editor-bb@demo.test"), "/mein-land")
    waiting = section(markup, "waiting-heading")
    assert waiting.index(f'data-reuse="{older}"') < waiting.index(f'data-reuse="{newer}"')
    assert "Bedingungen vorschlagen" in Elements(waiting).one("tr", data_reuse=str(older))["_text"]


def test_a_viewer_sees_the_same_dashboard_read_only(app):
    ids = scenario(app)
    markup = page(client_of(app, "viewer-by@demo.test"), "/mein-land")
    assert f'data-reuse="{ids["by"]}"' in markup
    assert "Technische Anbindung beginnen" in markup
    assert "<form" not in markup.split("<main", 1)[1]  # nothing to submit here


@pytest.mark.parametrize(
    "email",
    ["editor-he@demo.test", "viewer-he@demo.test", "editor-by@demo.test", "editor-bb@demo.test"],
)
def test_no_land_ever_sees_conditions_on_these_pages(app, email):
    ids = scenario(app)
    client = client_of(app, email)
    for url in ("/mein-land", f"/leistungen/{ids['listing']}"):
        markup = page(client, url)
        for secret in SECRETS:
            assert secret not in markup, (email, url)
        assert "43.210,99" not in markup and "9.876,54" not in markup, (email, url)


# --- FITKO ----------------------------------------------------------------------------------


def test_fitko_sees_waiting_contracts_oldest_first(app):
    ids = scenario(app)
    with app.app_context():
        listing_id = publish("editor-he", f"{TOKEN} Zweiter Vertrag")
        rp = interest("editor-rp", listing_id)
        to_coordination("editor-he", rp, "Umfang Rheinland-Pfalz")
        rp_contract = order("editor-rp", rp)
        # Ordered later, but backdated: it has waited longest and must come first.
        db.session.get(Contract, rp_contract).ordered_at = utcnow() - timedelta(days=10)
        db.session.commit()
        checker = user_by_email("fitko-1@demo.test").name
    markup = page(client_of(app, "fitko-2@demo.test"), "/fitko")
    waiting_check = markup[markup.index('id="waiting-check"') : markup.index('id="sign-heading"')]
    assert waiting_check.index(f'data-contract="{rp_contract}"') < waiting_check.index(
        f'data-contract="{ids["nw_contract"]}"'
    )
    found = Elements(waiting_check)
    rp_row = found.one("tr", data_contract=str(rp_contract))
    assert "10 Tagen" in rp_row["_text"] and "Rheinland-Pfalz" in rp_row["_text"]
    assert f'href="/vertraege/{rp_contract}"' in waiting_check
    nw_row = found.one("tr", data_contract=str(ids["nw_contract"]))
    assert (
        "Nordrhein-Westfalen" in nw_row["_text"] and f"{TOKEN} Dashboard-Dienst" in nw_row["_text"]
    )
    assert f'data-contract="{ids["sn_contract"]}"' not in waiting_check

    waiting_sign = markup[markup.index('id="waiting-sign"') : markup.index('id="stufen"')]
    sn_row = Elements(waiting_sign).one("tr", data_contract=str(ids["sn_contract"]))
    assert "Sachsen" in sn_row["_text"] and checker in sn_row["_text"]
    assert f'href="/vertraege/{ids["sn_contract"]}"' in waiting_sign
    for secret in SECRETS:
        assert secret not in markup


def stage_count(markup: str, stage: str) -> int:
    found = re.search(
        rf'data-stage="{stage}">.*?class="kern-table__cell stage-count">(\d+)<', markup, re.S
    )
    return int(found.group(1))


def test_fitko_counts_and_matrix_show_the_stages(app):
    client = client_of(app, "admin@demo.test")
    before = page(client, "/fitko")
    ids = scenario(app)
    markup = page(client, "/fitko")
    assert stage_count(markup, "interest") == stage_count(before, "interest") + 1
    assert stage_count(markup, "ordered") == stage_count(before, "ordered") + 2
    assert stage_count(markup, "contracted") == stage_count(before, "contracted") + 1
    assert stage_count(markup, "live") == stage_count(before, "live")

    matrix = markup[markup.index('id="matrix-heading"') :]
    assert (
        '<th class="kern-table__header" scope="col"><abbr title="Bayern">BY</abbr></th>' in matrix
    )
    assert matrix.count("<abbr title=") == 16
    row = matrix[matrix.index(f'data-listing="{ids["listing"]}"') :]
    row = row[: row.index("</tr>")]
    cells = {
        cell["data-land"]: cell["_text"]
        for cell in Elements(f"<tr {row}</tr>").found
        if cell["_tag"] == "td"
    }
    assert len(cells) == 16
    assert cells["09"] == "Vertrag geschlossen"
    assert cells["06"] == "Interessenbekundung"
    assert cells["05"] == cells["14"] == "Bestellt"
    assert cells["12"] == "bereitstellend"
    assert cells["03"] == "– keine Nachnutzung"
    assert 'scope="row"' in row and f"{TOKEN} Dashboard-Dienst" in row


# --- who may see what --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "email", ["editor-by@demo.test", "viewer-bb@demo.test", "editor-bb@demo.test"]
)
def test_land_users_may_not_open_the_fitko_overview(app, email):
    assert client_of(app, email).get("/fitko").status_code == 403


def test_fitko_staff_have_no_land_dashboard(app):
    assert client_of(app, "fitko-1@demo.test").get("/mein-land").status_code == 403
    assert client_of(app, "admin@demo.test").get("/fitko").status_code == 200


@pytest.mark.parametrize("url", ["/mein-land", "/fitko"])
def test_anonymous_visitors_are_sent_to_the_login(app, url):
    response = app.test_client().get(url)
    assert response.status_code == 302
    assert "/anmelden?next=" in response.headers["Location"]


def test_navigation_shows_each_role_its_dashboard(app):
    editor = page(client_of(app, "editor-by@demo.test"), "/")
    assert 'href="/mein-land"' in editor and 'href="/fitko"' not in editor
    fitko = page(client_of(app, "fitko-1@demo.test"), "/")
    assert 'href="/fitko"' in fitko and 'href="/mein-land"' not in fitko
    anonymous = page(client_of(app, None), "/")
    assert 'href="/fitko"' not in anonymous and 'href="/mein-land"' not in anonymous
    current = page(client_of(app, "viewer-by@demo.test"), "/mein-land")
    assert 'href="/mein-land" aria-current="page"' in current


# --- constant queries --------------------------------------------------------------------------


def test_land_dashboard_runs_the_same_queries_for_2_and_12_reuses(app, count_queries):
    providers = ("editor-bb", "editor-he", "editor-nw")
    with app.app_context():
        created = [
            (providers[i % 3], publish(providers[i % 3], f"{TOKEN} Menge {i:02d}"))
            for i in range(12)
        ]
        bavarian = [interest("editor-by", listing_id) for _p, listing_id in created[:2]]
        to_coordination(created[0][0], bavarian[0], "Umfang Menge")
    adopter = client_of(app, "editor-by@demo.test")
    provider = client_of(app, "editor-bb@demo.test")

    def measure(client) -> tuple[int, str]:
        page(client, "/mein-land")  # anything done once per session happens here
        with count_queries() as counter:
            markup = page(client, "/mein-land")
        return counter.count, markup

    small = [measure(adopter)[0], measure(provider)[0]]
    incoming = []  # Brandenburg's listings BY is interested in: waiting for Brandenburg
    with app.app_context():
        for provider_editor, listing_id in created[2:]:
            reuse_id = interest("editor-by", listing_id)
            bavarian.append(reuse_id)
            if listing_id % 2:
                to_coordination(provider_editor, reuse_id, "Umfang Menge")
            elif provider_editor == "editor-bb":
                incoming.append(reuse_id)
    adopter_count, markup = measure(adopter)
    reused = section(markup, "reused-heading")
    assert len(bavarian) == 12
    assert all(f'data-reuse="{r}"' in reused for r in bavarian)
    provider_count, markup = measure(provider)
    waiting = section(markup, "waiting-heading")
    assert incoming and all(f'data-reuse="{r}"' in waiting for r in incoming)
    assert [adopter_count, provider_count] == small


def matrix_of(markup: str) -> str:
    return markup[markup.index('id="matrix-heading"') :]


def test_fitko_overview_runs_the_same_queries_for_1_and_30_listings(app, count_queries):
    adopters = ("editor-by", "editor-he", "editor-nw")
    with app.app_context():
        listing_ids = [publish("editor-bb", f"{TOKEN} Matrix {index:02d}") for index in range(30)]
        # One listing, two contracts: one in each FITKO queue from the start (an empty
        # queue would skip loading its checkers, which is about emptiness, not size).
        for adopter in ("editor-by", "editor-he"):
            reuse_id = interest(adopter, listing_ids[0])
            to_coordination("editor-bb", reuse_id, "Umfang Matrix")
            contract_id = order(adopter, reuse_id)
        check(contract_id)
    client = client_of(app, "fitko-1@demo.test")

    def measure() -> tuple[int, str]:
        page(client, "/fitko")
        with count_queries() as counter:
            markup = page(client, "/fitko")
        return counter.count, markup

    small, markup = measure()
    assert matrix_of(markup).count(f"{TOKEN} Matrix") == 1
    with app.app_context():
        for index, listing_id in enumerate(listing_ids[1:], start=1):
            reuse_id = interest(adopters[index % 3], listing_id)
            if index % 4 == 0:
                to_coordination("editor-bb", reuse_id, "Umfang Matrix")
                contract_id = order(adopters[index % 3], reuse_id)
                if index % 8 == 0:
                    check(contract_id)
    large, markup = measure()
    assert matrix_of(markup).count(f"{TOKEN} Matrix") == 30
    assert large == small


def test_the_matrix_is_paginated(app, monkeypatch):
    assert dashboards.MATRIX_PER_PAGE == 50
    monkeypatch.setattr(dashboards, "MATRIX_PER_PAGE", 2)
    with app.app_context():
        mine = []
        for index in range(3):
            listing_id = publish("editor-bb", f"{TOKEN} Seite {index}")
            interest("editor-by", listing_id)
            mine.append(listing_id)
    client = client_of(app, "fitko-1@demo.test")
    first = page(client, "/fitko")
    pages = int(re.search(r"Seite 1 von (\d+),", first).group(1))
    assert pages >= 2 and 'rel="next"' in first
    seen: list[int] = []
    for number in range(1, pages + 1):
        markup = page(client, f"/fitko?page={number}")
        rows = [
            int(i) for i in re.findall(r'<tr class="kern-table__row" data-listing="(\d+)"', markup)
        ]
        assert 1 <= len(rows) <= 2
        seen.extend(rows)
    assert len(seen) == len(set(seen))
    assert set(mine) <= set(seen)
