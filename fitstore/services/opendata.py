"""Open data: the public adoption data as CSV and JSON, their schema and DCAT-AP.de.

Two datasets, both read from ``transparency`` (which owns every figure, so the files
agree with the dashboard and the API):

- ``nachnutzung-laender``: one row per Land x published listing
  (``transparency.land_adoption_rows``);
- ``nachnutzung-behoerden``: one row per authority x published listing with a rollout
  of an open reuse (``transparency.authority_adoption_rows``).

The column definitions below are the single source of the documentation: the CSV
header, the JSON keys, the Frictionless Data Package (``datapackage.json``, the stable
schema) and the HTML page are all generated from them, so they cannot drift apart.
Column names are stable English snake_case; changing one is a breaking change of the
published schema.

CSV and JSON are streamed: the rows are written while the one query of the row
function is still being read, so a national-scale file (a million authority rows)
never sits in memory, and the number of SQL statements stays constant.
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from flask import current_app

from fitstore.models import ReuseStage, RolloutStatus
from fitstore.models.base import utcnow
from fitstore.services import transparency
from fitstore.services.exports import neutralise

SCHEMA_VERSION = "1.0.0"
BATCH_ROWS = 500  # rows per streamed chunk

# Datenlizenz Deutschland - Namensnennung - Version 2.0: its DCAT-AP.de URI, its SPDX id.
LICENSE_URI = "http://dcat-ap.de/def/licenses/dl-by-de/2.0"
LICENSE_SPDX = "DL-DE-BY-2.0"
LICENSE_TEXT_URL = "https://www.govdata.de/dl-de/by-2-0"
LICENSE_TITLE = "Datenlizenz Deutschland – Namensnennung – Version 2.0"
# Authority and Land names come from the VG250 reference data, whose licence asks for this.
GEODATA_ATTRIBUTION = "© GeoBasis-DE / BKG 2017"

# DCAT-AP.de vocabularies.
THEME_GOVE = "http://publications.europa.eu/resource/authority/data-theme/GOVE"
LANGUAGE_DEU = "http://publications.europa.eu/resource/authority/language/DEU"
SPATIAL_DEU = "http://publications.europa.eu/resource/authority/country/DEU"
FREQUENCY_CONTINUOUS = "http://publications.europa.eu/resource/authority/frequency/UPDATE_CONT"
GEOCODING_LEVEL_FEDERAL = "http://dcat-ap.de/def/politicalGeocoding/Level/federal"
FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
MEDIA_TYPE = "http://www.iana.org/assignments/media-types/"
DATA_PACKAGE_SPEC = "https://specs.frictionlessdata.io/tabular-data-package/"
# The publisher's id in the DCAT-AP.de list of contributors (http://dcat-ap.de/def/contributors/).
# GovData assigns it on registration; OPENDATA_CONTRIBUTOR_ID in the config overrides this.
DEFAULT_CONTRIBUTOR_ID = "http://dcat-ap.de/def/contributors/fitko"

# Table Schema patterns are XML Schema regular expressions: implicitly anchored, no ^ or $.
LAND_PATTERN = "(0[1-9]|1[0-6])"


# --- column definitions --------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """A text in German and English (the documentation is published in both)."""

    de: str
    en: str

    def __call__(self, language: str) -> str:
        return self.en if language == "en" else self.de


@dataclass(frozen=True)
class Column:
    """One column: its stable name, Table Schema type, documentation and constraints."""

    name: str
    type: str  # Table Schema type: "integer", "string" or "date"
    title: Text
    description: Text
    required: bool = True
    # Allowed values, each with its meaning.
    enum: tuple[tuple[str, Text], ...] = ()
    pattern: str | None = None
    minimum: int | None = None
    # What the values look like, for the HTML table (besides the enum).
    values: Text | None = None

    def constraints(self) -> dict[str, Any]:
        constraints: dict[str, Any] = {}
        if self.required:
            constraints["required"] = True
        if self.enum:
            constraints["enum"] = [value for value, _meaning in self.enum]
        if self.pattern:
            constraints["pattern"] = self.pattern
        if self.minimum is not None:
            constraints["minimum"] = self.minimum
        return constraints


@dataclass(frozen=True)
class Dataset:
    """One published dataset: a CSV and a JSON file with the same rows and columns."""

    slug: str  # file and resource name
    title: Text
    description: Text
    keywords: tuple[str, ...]
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    rows: Callable[[], Iterator[dict[str, Any]]] = field(repr=False)
    csv_endpoint: str = ""
    json_endpoint: str = ""

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]


LISTING_COLUMNS = (
    Column(
        "listing_id",
        "integer",
        Text("Leistungs-ID", "Listing id"),
        Text(
            "Kennung der EfA-Leistung im FIT-Store (stabil, auch in der Adresse der Leistungsseite).",
            "Id of the EfA listing in the FIT-Store (stable; also in the listing page's address).",
        ),
        minimum=1,
        values=Text("ganze Zahl ab 1", "whole number from 1"),
    ),
    Column(
        "listing_title",
        "string",
        Text("Leistung", "Listing"),
        Text(
            "Titel der veröffentlichten EfA-Leistung.",
            "Title of the published EfA listing.",
        ),
        values=Text("Text", "text"),
    ),
    Column(
        "ozg_id",
        "string",
        Text("OZG-ID", "OZG id"),
        Text(
            "Kennung der OZG-Leistung im OZG-Umsetzungskatalog.",
            "Id of the service in the OZG implementation catalogue.",
        ),
        pattern="[0-9]+",
        values=Text("Ziffern, z. B. 10255", "digits, e.g. 10255"),
    ),
)

LAND_STATUS_VALUES = (
    (
        transparency.LAND_LIVE,
        Text("im Produktivbetrieb", "live (in production)"),
    ),
    (
        transparency.LAND_ONBOARDING,
        Text(
            "begonnen, aber noch nicht live (auch zurückgestellt)",
            "started but not live yet (also on hold)",
        ),
    ),
    (
        transparency.LAND_NOT_STARTED,
        Text(
            "keine laufende Nachnutzung (nie begonnen oder beendet)",
            "no current reuse (never started, or ended)",
        ),
    ),
)

STAGE_VALUES = (
    (ReuseStage.INTEREST.value, Text("Interessenbekundung", "expression of interest")),
    (ReuseStage.COORDINATION.value, Text("Abstimmung", "coordination")),
    (ReuseStage.ORDERED.value, Text("bestellt", "ordered")),
    (ReuseStage.CONTRACTED.value, Text("Vertrag geschlossen", "contract in force")),
    (ReuseStage.CONNECTING.value, Text("technische Anbindung", "technical connection")),
    (ReuseStage.TESTING.value, Text("Test", "testing")),
    (ReuseStage.LIVE.value, Text("Produktivbetrieb", "live (in production)")),
    (ReuseStage.DECLINED.value, Text("abgelehnt (beendet)", "declined (ended)")),
    (ReuseStage.WITHDRAWN.value, Text("zurückgezogen (beendet)", "withdrawn (ended)")),
    (ReuseStage.ON_HOLD.value, Text("zurückgestellt", "on hold")),
    (ReuseStage.TERMINATED.value, Text("gekündigt (beendet)", "terminated (ended)")),
)

ROLLOUT_STATUS_VALUES = (
    (RolloutStatus.PLANNED.value, Text("geplant", "planned")),
    (RolloutStatus.CONNECTING.value, Text("in Anbindung", "being connected")),
    (RolloutStatus.LIVE.value, Text("live", "live")),
)

AUTHORITY_LEVEL_VALUES = (
    ("kreis", Text("Kreis oder kreisfreie Stadt", "district or district-free city")),
    ("gemeinde", Text("Gemeinde", "municipality")),
)

DATE_VALUES = Text("Datum JJJJ-MM-TT (ISO 8601)", "date YYYY-MM-DD (ISO 8601)")


def _land_column(name: str, title: Text, description: Text) -> Column:
    return Column(
        name,
        "string",
        title,
        description,
        pattern=LAND_PATTERN,
        values=Text("Landesschlüssel 01 bis 16", "Land key 01 to 16"),
    )


LAND_COLUMNS = (
    *LISTING_COLUMNS,
    _land_column(
        "provider_land_ags",
        Text("Bereitstellendes Land", "Providing Land"),
        Text(
            "Amtlicher Schlüssel des Landes, das die Leistung bereitstellt.",
            "Official key of the Land that provides the service.",
        ),
    ),
    _land_column(
        "land_ags",
        Text("Land", "Land"),
        Text(
            "Amtlicher Schlüssel des Landes, das diese Zeile beschreibt.",
            "Official key of the Land this row describes.",
        ),
    ),
    Column(
        "land_name",
        "string",
        Text("Name des Landes", "Name of the Land"),
        Text("Name des Landes (VG250).", "Name of the Land (VG250)."),
        values=Text("Text", "text"),
    ),
    Column(
        "status",
        "string",
        Text("Status", "Status"),
        Text(
            "Stand der Nachnutzung in diesem Land, aus der aktuellen Nachnutzung abgeleitet.",
            "State of the reuse in this Land, derived from its current reuse.",
        ),
        enum=LAND_STATUS_VALUES,
    ),
    Column(
        "stage",
        "string",
        Text("Stufe", "Stage"),
        Text(
            "Stufe der aktuellen Nachnutzung (der laufenden, sonst der zuletzt beendeten); "
            "leer, wenn das Land die Leistung nie nachgenutzt hat.",
            "Stage of the current reuse (the open one, else the latest ended one); empty "
            "if the Land never reused the listing.",
        ),
        required=False,
        enum=STAGE_VALUES,
    ),
    Column(
        "stage_since",
        "date",
        Text("In der Stufe seit", "In the stage since"),
        Text(
            "Tag, an dem die aktuelle Nachnutzung diese Stufe erreicht hat; leer ohne Stufe.",
            "Day the current reuse reached this stage; empty without a stage.",
        ),
        required=False,
        values=DATE_VALUES,
    ),
    Column(
        "live_since",
        "date",
        Text("Live seit", "Live since"),
        Text(
            "Erster Tag des aktuellen Produktivbetriebs; leer, wenn das Land nicht live ist.",
            "First day of the current live period; empty if the Land is not live.",
        ),
        required=False,
        values=DATE_VALUES,
    ),
    Column(
        "live_authorities",
        "integer",
        Text("Behörden live", "Authorities live"),
        Text(
            "Zahl der Behörden dieses Landes, die mit der Leistung live sind.",
            "Number of this Land's authorities that are live with the listing.",
        ),
        minimum=0,
        values=Text("ganze Zahl ab 0", "whole number from 0"),
    ),
)

AUTHORITY_COLUMNS = (
    *LISTING_COLUMNS,
    Column(
        "authority_ags",
        "string",
        Text("Behörde (AGS)", "Authority (AGS)"),
        Text(
            "Amtlicher Schlüssel der Behörde: 5 Ziffern für einen Kreis oder eine "
            "kreisfreie Stadt, 8 Ziffern (AGS) für eine Gemeinde.",
            "Official key of the authority: 5 digits for a district or district-free "
            "city, 8 digits (AGS) for a municipality.",
        ),
        pattern="[0-9]{5}([0-9]{3})?",
        values=Text("5 oder 8 Ziffern", "5 or 8 digits"),
    ),
    Column(
        "authority_name",
        "string",
        Text("Behörde", "Authority"),
        Text("Name des Gebiets der Behörde (VG250).", "Name of the authority's area (VG250)."),
        values=Text("Text", "text"),
    ),
    Column(
        "authority_level",
        "string",
        Text("Ebene", "Level"),
        Text("Verwaltungsebene der Behörde.", "Administrative level of the authority."),
        enum=AUTHORITY_LEVEL_VALUES,
    ),
    Column(
        "kreis_ags",
        "string",
        Text("Kreis", "District"),
        Text(
            "Schlüssel des Kreises, in dem die Behörde liegt (die ersten 5 Ziffern des AGS).",
            "Key of the district the authority lies in (the first 5 digits of the AGS).",
        ),
        pattern="[0-9]{5}",
        values=Text("5 Ziffern", "5 digits"),
    ),
    _land_column(
        "land_ags",
        Text("Land", "Land"),
        Text(
            "Amtlicher Schlüssel des nachnutzenden Landes, zu dem die Behörde gehört.",
            "Official key of the adopting Land the authority belongs to.",
        ),
    ),
    Column(
        "status",
        "string",
        Text("Status", "Status"),
        Text(
            "Stand der Einführung bei dieser Behörde.",
            "State of the rollout at this authority.",
        ),
        enum=ROLLOUT_STATUS_VALUES,
    ),
    Column(
        "status_since",
        "date",
        Text("Status seit", "Status since"),
        Text(
            "Tag, an dem die Behörde diesen Status erreicht hat.",
            "Day the authority reached this status.",
        ),
        values=DATE_VALUES,
    ),
    Column(
        "live_since",
        "date",
        Text("Live seit", "Live since"),
        Text(
            "Tag, an dem die Behörde live gegangen ist; leer, solange sie nicht live ist.",
            "Day the authority went live; empty while it is not live.",
        ),
        required=False,
        values=DATE_VALUES,
    ),
)

LANDS = Dataset(
    slug="nachnutzung-laender",
    title=Text(
        "FIT-Store: Nachnutzung der EfA-Leistungen je Land",
        "FIT-Store: reuse of the EfA services per Land",
    ),
    description=Text(
        "Für jede im FIT-Store veröffentlichte EfA-Leistung und jedes der 16 Länder: der "
        "Stand der Nachnutzung (live, in Vorbereitung oder nicht begonnen), die Stufe mit "
        "Datum und die Zahl der Behörden, die mit der Leistung live sind. Eine Zeile je "
        "Land und Leistung. Nur öffentliche Angaben, keine Konditionen, Verträge oder Kosten.",
        "For every EfA service published in the FIT-Store and each of the 16 Länder: the "
        "state of the reuse (live, onboarding or not started), the stage with its date "
        "and the number of authorities live with the service. One row per Land and "
        "listing. Public facts only: no conditions, contracts or costs.",
    ),
    keywords=("Onlinezugangsgesetz", "OZG", "Einer für Alle", "EfA", "Nachnutzung", "FIT-Store"),
    columns=LAND_COLUMNS,
    primary_key=("listing_id", "land_ags"),
    rows=transparency.land_adoption_rows,
    csv_endpoint="opendata.lands_csv",
    json_endpoint="opendata.lands_json",
)

AUTHORITIES = Dataset(
    slug="nachnutzung-behoerden",
    title=Text(
        "FIT-Store: Einführung der EfA-Leistungen je Behörde",
        "FIT-Store: rollout of the EfA services per authority",
    ),
    description=Text(
        "Für jede im FIT-Store veröffentlichte EfA-Leistung die Behörden (Kreise und "
        "Gemeinden) der nachnutzenden Länder, die sie einführen: Status (geplant, in "
        "Anbindung, live) mit Datum. Eine Zeile je Behörde und Leistung mit laufender "
        "Nachnutzung. Nur öffentliche Angaben, keine Konditionen, Verträge oder Kosten.",
        "For every EfA service published in the FIT-Store, the authorities (districts "
        "and municipalities) of the adopting Länder that roll it out: status (planned, "
        "being connected, live) with its date. One row per authority and listing with an "
        "open reuse. Public facts only: no conditions, contracts or costs.",
    ),
    keywords=(
        "Onlinezugangsgesetz",
        "OZG",
        "Einer für Alle",
        "EfA",
        "Nachnutzung",
        "Kommunen",
        "FIT-Store",
    ),
    columns=AUTHORITY_COLUMNS,
    primary_key=("listing_id", "authority_ags"),
    rows=transparency.authority_adoption_rows,
    csv_endpoint="opendata.authorities_csv",
    json_endpoint="opendata.authorities_json",
)

DATASETS = (LANDS, AUTHORITIES)


# --- serialisation -------------------------------------------------------------------------


def _iso(value: Any) -> Any:
    """Dates as ISO 8601 strings; a datetime (UTC) with a trailing Z; other values as they are."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None, microsecond=0).isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    return value


def _cell(value: Any) -> str:
    """One CSV cell: ISO dates, empty for null, formulas neutralised."""
    return neutralise(_iso(value))


def dataset_csv(dataset: Dataset) -> Iterator[str]:
    """The dataset as CSV (RFC 4180: comma, CRLF, header row), in chunks of text to stream."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    names = dataset.column_names

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(names)
    yield flush()
    for number, row in enumerate(dataset.rows(), start=1):
        writer.writerow([_cell(row[name]) for name in names])
        if number % BATCH_ROWS == 0:
            yield flush()
    yield flush()


def dataset_json(dataset: Dataset, schema_url: str, now: datetime | None = None) -> Iterator[str]:
    """The dataset as JSON, in chunks of text to stream:
    ``{"schema": <datapackage URL>, "resource": <slug>, "license": <URI>,
    "generated_at": <UTC>, "rows": [{column: value}, ...], "count": <rows>}``.
    The count comes last: it is only known once the one query has been read."""
    head = {
        "schema": schema_url,
        "resource": dataset.slug,
        "license": LICENSE_URI,
        "generated_at": _iso(now or utcnow()),
    }
    yield json.dumps(head, ensure_ascii=False)[:-1] + ',"rows":['
    names = dataset.column_names
    count = 0
    chunk: list[str] = []
    for count, row in enumerate(dataset.rows(), start=1):
        record = {name: _iso(row[name]) for name in names}
        chunk.append(("," if count > 1 else "") + json.dumps(record, ensure_ascii=False))
        if count % BATCH_ROWS == 0:
            yield "".join(chunk)
            chunk = []
    yield "".join(chunk) + f'],"count":{count}}}'


# --- the Frictionless Data Package ---------------------------------------------------------


def _field(column: Column) -> dict[str, Any]:
    description = column.description("de")
    if column.enum:
        description += " Werte: " + "; ".join(f"{v} = {m('de')}" for v, m in column.enum) + "."
    english = column.description("en")
    if column.enum:
        english += " Values: " + "; ".join(f"{v} = {m('en')}" for v, m in column.enum) + "."
    result: dict[str, Any] = {
        "name": column.name,
        "type": column.type,
        "title": column.title("de"),
        "description": description,
    }
    if column.type == "date":
        result["format"] = "default"  # ISO 8601 YYYY-MM-DD
    constraints = column.constraints()
    if constraints:
        result["constraints"] = constraints
    # Table Schema has one title and description; the English ones ride along.
    result["translations"] = {"en": {"title": column.title("en"), "description": english}}
    return result


def attribution() -> str:
    """The attribution the licence asks for (dcatde:licenseAttributionByText)."""
    operator = current_app.config["OPERATOR_NAME"]
    return f"{operator}, FIT-Store; Verwaltungsgebiete: {GEODATA_ATTRIBUTION}"


def datapackage(urls: dict[str, str], now: datetime | None = None) -> dict[str, Any]:
    """The Frictionless Tabular Data Package of both datasets: the stable, documented
    schema of the CSV and JSON files. ``urls`` maps "index", "datapackage" and each
    dataset's CSV and JSON endpoint to absolute URLs."""
    config = current_app.config
    resources = []
    for dataset in DATASETS:
        resources.append(
            {
                "profile": "tabular-data-resource",
                "name": dataset.slug,
                "path": urls[dataset.csv_endpoint],
                "title": dataset.title("de"),
                "description": dataset.description("de"),
                "format": "csv",
                "mediatype": "text/csv",
                "encoding": "utf-8",
                "dialect": {
                    "delimiter": ",",
                    "lineTerminator": "\r\n",
                    "quoteChar": '"',
                    "doubleQuote": True,
                    "header": True,
                },
                "schema": {
                    "fields": [_field(column) for column in dataset.columns],
                    "primaryKey": list(dataset.primary_key),
                    "missingValues": [""],
                },
                "licenses": [_license()],
                "translations": {
                    "en": {
                        "title": dataset.title("en"),
                        "description": dataset.description("en"),
                    }
                },
                # The same rows as JSON, documented on the HTML page and in dataset_json.
                "alternatives": [
                    {
                        "path": urls[dataset.json_endpoint],
                        "format": "json",
                        "mediatype": "application/json",
                    }
                ],
            }
        )
    return {
        "profile": "tabular-data-package",
        "name": "fitstore-nachnutzung",
        "id": urls["datapackage"],
        "title": "FIT-Store: Nachnutzung der EfA-Leistungen",
        "description": (
            "Öffentliche Angaben zur Nachnutzung der im FIT-Store veröffentlichten "
            "EfA-Leistungen je Land und je Behörde. Die Daten sind live: jeder Abruf "
            "zeigt den aktuellen Stand. CSV: UTF-8, Komma, Kopfzeile; Datumsangaben nach "
            "ISO 8601; leere Zelle = kein Wert. Zellen, die mit =, +, - oder @ beginnen, "
            "ist ein Apostroph vorangestellt (Schutz vor Formeln in Tabellenprogrammen)."
        ),
        "homepage": urls["index"],
        "version": SCHEMA_VERSION,
        "created": _iso(now or utcnow()),
        "keywords": sorted({k for dataset in DATASETS for k in dataset.keywords}),
        "licenses": [_license()],
        "contributors": [
            {
                "title": config["OPERATOR_NAME"],
                "email": config["OPERATOR_EMAIL"],
                "role": "publisher",
            }
        ],
        "sources": [{"title": f"VG250 Verwaltungsgebiete, {GEODATA_ATTRIBUTION}"}],
        "resources": resources,
    }


def _license() -> dict[str, str]:
    return {"name": LICENSE_SPDX, "path": LICENSE_TEXT_URL, "title": LICENSE_TITLE}


# --- DCAT-AP.de ----------------------------------------------------------------------------

NS = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "dcatde": "http://dcat-ap.de/def/dcatde/",
}
XSD_DATETIME = "http://www.w3.org/2001/XMLSchema#dateTime"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

PREFIXES = {uri: prefix for prefix, uri in NS.items()}
PREFIXES["http://www.w3.org/XML/1998/namespace"] = "xml"


def _q(name: str) -> str:
    prefix, local = name.split(":")
    return f"{{{NS[prefix]}}}{local}"


def _sub(parent: ET.Element, name: str, text: str | None = None, **attributes) -> ET.Element:
    element = ET.SubElement(parent, _q(name))
    for key, value in attributes.items():
        element.set(XML_LANG if key == "lang" else _q(key.replace("_", ":", 1)), value)
    if text is not None:
        element.text = text
    return element


def _resource(parent: ET.Element, name: str, uri: str) -> ET.Element:
    return _sub(parent, name, rdf_resource=uri)


def _texts(parent: ET.Element, name: str, text: Text) -> None:
    _sub(parent, name, text("de"), lang="de")
    _sub(parent, name, text("en"), lang="en")


@dataclass(frozen=True)
class _Distribution:
    url: str
    about: str
    title: Text
    file_type: str
    media_type: str
    conforms_to: str


def _distribution(parent: ET.Element, item: _Distribution, modified: str) -> None:
    distribution = _sub(_sub(parent, "dcat:distribution"), "dcat:Distribution")
    distribution.set(_q("rdf:about"), item.about)
    _texts(distribution, "dct:title", item.title)
    _resource(distribution, "dcat:accessURL", item.url)
    _resource(distribution, "dcat:downloadURL", item.url)
    _resource(distribution, "dct:format", FILE_TYPE + item.file_type)
    _resource(distribution, "dcat:mediaType", MEDIA_TYPE + item.media_type)
    _resource(distribution, "dct:license", LICENSE_URI)
    _sub(distribution, "dcatde:licenseAttributionByText", attribution())
    _resource(distribution, "dct:conformsTo", item.conforms_to)
    _sub(distribution, "dct:modified", modified, rdf_datatype=XSD_DATETIME)


def dcat_catalogue(urls: dict[str, str], now: datetime | None = None) -> str:
    """RDF/XML after DCAT-AP.de 2.0: a dcat:Catalog with both datasets, each with its CSV,
    JSON and schema distributions. ``urls`` as for ``datapackage`` plus "dcat" and
    "publisher" (absolute; the catalogue is harvested from elsewhere)."""
    config = current_app.config
    modified = _iso(now or utcnow())
    contributor = config.get("OPENDATA_CONTRIBUTOR_ID") or DEFAULT_CONTRIBUTOR_ID
    root = ET.Element(_q("rdf:RDF"))
    catalog = _sub(root, "dcat:Catalog", rdf_about=urls["dcat"] + "#catalog")
    _texts(
        catalog,
        "dct:title",
        Text("FIT-Store: offene Daten zur Nachnutzung", "FIT-Store: open reuse data"),
    )
    _texts(
        catalog,
        "dct:description",
        Text(
            "Offene Daten des FIT-Store der FITKO: wie weit die Länder und ihre Behörden "
            "die EfA-Leistungen nach dem Onlinezugangsgesetz nachnutzen.",
            "Open data of FITKO's FIT-Store: how far the Länder and their authorities "
            "reuse the EfA services under the Online Access Act (OZG).",
        ),
    )
    publisher = _sub(_sub(catalog, "dct:publisher"), "foaf:Agent", rdf_about=urls["publisher"])
    _sub(publisher, "foaf:name", config["OPERATOR_NAME"])
    _resource(catalog, "foaf:homepage", urls["index"])
    _resource(catalog, "dct:language", LANGUAGE_DEU)
    _resource(catalog, "dct:license", LICENSE_URI)
    _resource(catalog, "dct:spatial", SPATIAL_DEU)
    _sub(catalog, "dct:modified", modified, rdf_datatype=XSD_DATETIME)

    for dataset in DATASETS:
        uri = f"{urls['index']}#{dataset.slug}"
        node = _sub(_sub(catalog, "dcat:dataset"), "dcat:Dataset", rdf_about=uri)
        _texts(node, "dct:title", dataset.title)
        _texts(node, "dct:description", dataset.description)
        _sub(node, "dct:identifier", uri)
        for keyword in dataset.keywords:
            _sub(node, "dcat:keyword", keyword, lang="de")
        _resource(node, "dcat:theme", THEME_GOVE)
        _resource(node, "dct:publisher", urls["publisher"])
        _resource(node, "dcatde:contributorID", contributor)
        _resource(node, "dcatde:politicalGeocodingLevelURI", GEOCODING_LEVEL_FEDERAL)
        _sub(node, "dcatde:geocodingDescription", "Bundesrepublik Deutschland", lang="de")
        _resource(node, "dct:spatial", SPATIAL_DEU)
        _resource(node, "dct:language", LANGUAGE_DEU)
        _resource(node, "dct:accrualPeriodicity", FREQUENCY_CONTINUOUS)
        _resource(node, "dcat:landingPage", uri)
        _sub(node, "dct:modified", modified, rdf_datatype=XSD_DATETIME)
        contact = _sub(_sub(node, "dcat:contactPoint"), "vcard:Organization")
        _sub(contact, "vcard:fn", config["OPERATOR_NAME"])
        _resource(contact, "vcard:hasEmail", f"mailto:{config['OPERATOR_EMAIL']}")
        title = dataset.title
        for item in (
            _Distribution(
                urls[dataset.csv_endpoint],
                urls[dataset.csv_endpoint] + "#distribution",
                Text(f"{title('de')} (CSV)", f"{title('en')} (CSV)"),
                "CSV",
                "text/csv",
                urls["datapackage"],
            ),
            _Distribution(
                urls[dataset.json_endpoint],
                urls[dataset.json_endpoint] + "#distribution",
                Text(f"{title('de')} (JSON)", f"{title('en')} (JSON)"),
                "JSON",
                "application/json",
                urls["datapackage"],
            ),
            _Distribution(
                urls["datapackage"],
                f"{urls['datapackage']}#{dataset.slug}",
                Text(
                    "Schema (Frictionless Data Package)",
                    "Schema (Frictionless Data Package)",
                ),
                "JSON",
                "application/json",
                DATA_PACKAGE_SPEC,
            ),
        ):
            _distribution(node, item, modified)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + "".join(_serialise(root, 0))


def _name(qualified: str) -> str:
    """``{uri}local`` as ``prefix:local`` with this module's prefixes. ElementTree's own
    prefix registry is process-wide (other libraries register "dcterms" there), so the
    catalogue is written here with the prefixes DCAT-AP.de uses."""
    uri, local = qualified[1:].split("}")
    return f"{PREFIXES[uri]}:{local}"


def _serialise(element: ET.Element, depth: int) -> Iterator[str]:
    indent = "  " * depth
    attributes = "".join(
        f" {_name(key)}={quoteattr(value)}" for key, value in element.attrib.items()
    )
    if depth == 0:
        attributes = "".join(f" xmlns:{p}={quoteattr(uri)}" for p, uri in NS.items()) + attributes
    name = _name(element.tag)
    if len(element):
        yield f"{indent}<{name}{attributes}>\n"
        for child in element:
            yield from _serialise(child, depth + 1)
        yield f"{indent}</{name}>\n"
    elif element.text is not None:
        yield f"{indent}<{name}{attributes}>{escape(element.text)}</{name}>\n"
    else:
        yield f"{indent}<{name}{attributes}/>\n"
