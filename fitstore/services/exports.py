"""Downloads: the catalogue as CSV and JSON, a single listing as publiccode.yml.

Visibility is the catalogue's: the public gets published listings only, an internal
user what ``listings.search_catalogue`` shows them. The catalogue exports read every
matching row in one streamed query (``yield_per``), so they run a constant number of
SQL statements whatever the catalogue's size.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from flask_babel import force_locale
from sqlalchemy import Select, func, select
from sqlalchemy.orm import defer

from fitstore.extensions import db
from fitstore.models import Listing, ListingStatus, ListingVersion, UserAccount
from fitstore.services import listings
from fitstore.services.listings import CatalogueQuery

BERLIN = ZoneInfo("Europe/Berlin")
BATCH = 500  # rows fetched per round trip while streaming

# The exports take the catalogue page's parameters.
parse_catalogue_query = listings.parse_catalogue_query


# --- the rows -------------------------------------------------------------------------------


def _catalogue_select(actor, params: CatalogueQuery) -> Select:
    """The catalogue query of ``listings.search_catalogue`` without its page limit."""
    query = listings.catalogue_select(actor, params)
    # Land, Themenfeld and operator come in the same query (joined eager loads); the big
    # text columns the exports never show stay in the database, and touching one would
    # raise instead of quietly costing a query per row.
    return query.options(
        defer(Listing.search_document, raiseload=True),
        defer(Listing.search_stems, raiseload=True),
        defer(Listing.checklist, raiseload=True),
        defer(Listing.requirements_note, raiseload=True),
    )


def iter_catalogue(actor, params: CatalogueQuery) -> Iterator[Listing]:
    """Every listing ``actor`` may see that matches ``params``, in the catalogue's order."""
    result = db.session.scalars(_catalogue_select(actor, params).execution_options(yield_per=BATCH))
    try:
        yield from result
    finally:
        result.close()


def _euro(cents: int | None) -> str:
    """Integer cents as German euros without thousands separators: 123456 -> '1234,56'."""
    if cents is None:
        return ""
    return f"{cents // 100},{cents % 100:02d}"


def _local_date(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.replace(tzinfo=ZoneInfo("UTC")).astimezone(BERLIN).strftime("%d.%m.%Y")


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


# --- CSV ----------------------------------------------------------------------------------------

CSV_HEADER = (
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
)

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: Any) -> str:
    """Prefix a quote to a cell a spreadsheet would read as a formula."""
    text = "" if cell is None else str(cell)
    return "'" + text if text.startswith(FORMULA_START) else text


def _csv_row(listing: Listing, url: str) -> list[Any]:
    operator = listing.operator
    return [
        listing.id,
        listing.title,
        listing.ozg_name,
        listing.ozg_id,
        ", ".join(listing.leika_list),
        listing.themenfeld.name,
        listing.reifegrad,
        listing.provider_land.name,
        operator.name if operator else "",
        listings.transport_label(listing.transport),
        listing.xoev_standard,
        listings.status_label(listing.status),
        _euro(listing.annual_cost_cents),
        _euro(listing.connection_cost_cents),
        _local_date(listing.published_at),
        url,
    ]


def catalogue_csv(actor, params: CatalogueQuery, url_of: Callable[[int], str]) -> Iterator[str]:
    """The catalogue as CSV for German Excel: UTF-8 with BOM, ``;`` between cells, CRLF,
    decimal comma; chunks of text to stream."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(CSV_HEADER)
    yield "\ufeff" + flush()
    with force_locale("de"):  # German labels, whatever the UI language
        for number, listing in enumerate(iter_catalogue(actor, params), start=1):
            writer.writerow([neutralise(cell) for cell in _csv_row(listing, url_of(listing.id))])
            if number % 100 == 0:
                yield flush()
    yield flush()


# --- JSON ----------------------------------------------------------------------------------------


def listing_record(listing: Listing, url: str) -> dict[str, Any]:
    operator = listing.operator
    land = listing.provider_land
    return {
        "id": listing.id,
        "url": url,
        "title": listing.title,
        "ozg_name": listing.ozg_name,
        "ozg_id": listing.ozg_id,
        "leika_keys": listing.leika_list,
        "themenfeld": {"number": listing.themenfeld_number, "name": listing.themenfeld.name},
        "reifegrad": listing.reifegrad,
        "provider": {"ags": land.ags, "iso": land.iso, "name": land.name},
        "operator": (
            {"short_name": operator.short_name, "name": operator.name} if operator else None
        ),
        "status": listing.status.value,
        "description": listing.description,
        "transport": listing.transport.value,
        "xoev_standard": listing.xoev_standard,
        "user_account": listing.user_account.value,
        "payment": listing.payment,
        "annual_cost_cents": listing.annual_cost_cents,
        "connection_cost_cents": listing.connection_cost_cents,
        "contact": {"name": listing.contact_name, "email": listing.contact_email},
        "published_version": listing.published_version,
        "published_at": _iso(listing.published_at),
        "updated_at": _iso(listing.updated_at),
    }


def catalogue_json(actor, params: CatalogueQuery, url_of: Callable[[int], str]) -> Iterator[str]:
    """``{"items": [...], "count": n}`` in chunks of text to stream (the count comes last
    because it is only known at the end of the one query)."""
    yield '{"items":['
    count = 0
    for count, listing in enumerate(iter_catalogue(actor, params), start=1):
        record = listing_record(listing, url_of(listing.id))
        yield ("," if count > 1 else "") + json.dumps(record, ensure_ascii=False)
    yield f'],"count":{count}}}'


# --- publiccode.yml ----------------------------------------------------------------------------

PUBLICCODE_VERSION = "0.4"
DE_EXTENSION_VERSION = "1.0"
DEVELOPMENT_STATUS = {
    ListingStatus.DRAFT: "development",
    ListingStatus.SUBMITTED: "beta",
    ListingStatus.PUBLISHED: "stable",
    ListingStatus.WITHDRAWN: "obsolete",
}
# EfA services are run as SaaS and reused by contract through the FIT-Store, not
# under an open-source licence: an SPDX "LicenseRef-" names that honestly.
LICENSE = "LicenseRef-FIT-Store-EfA-Nachnutzung"
ABBREVIATIONS = {"z", "b", "bzw", "ca", "d", "h", "ggf", "inkl", "nr", "u", "a", "vgl", "usw"}


def _plain(markdown: str) -> str:
    """Markdown reduced to one line of plain text (for the short description)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", markdown or "")  # links, images
    text = re.sub(r"^\s{0,3}(#{1,6}|[-*+]|\d+\.|>)\s+", "", text, flags=re.MULTILINE)
    text = re.sub(r"[*_`~]+", "", text)
    return re.sub(r"\s+", " ", text).strip()


def first_sentence(markdown: str, limit: int = 150) -> str:
    """The first sentence of a description, at most ``limit`` characters."""
    text = _plain(markdown)
    for match in re.finditer(r"([.!?])(?=\s+[A-ZÄÖÜ„\"]|\s*$)", text):
        word = re.findall(r"[\wäöüß]+$", text[: match.start()].lower())
        ordinal = bool(word) and word[0].isdigit() and len(word[0]) <= 2
        if match.group(1) == "." and word and (word[0] in ABBREVIATIONS or ordinal):
            continue  # "z. B.", "bzw.", "1."
        text = text[: match.end()]
        break
    if len(text) > limit:
        text = text[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return text


def _features(listing: Listing) -> list[str]:
    features = [
        f"Reifegrad {listing.reifegrad} nach dem OZG-Reifegradmodell",
        f"Übermittlung über {listings.transport_label(listing.transport)}",
    ]
    if listing.xoev_standard:
        features.append(f"Datenaustausch im XÖV-Standard {listing.xoev_standard}")
    account = {
        UserAccount.SERVICEKONTO: "Anmeldung mit dem Servicekonto des Landes",
        UserAccount.BUNDID: "Anmeldung mit der BundID",
        UserAccount.BOTH: "Anmeldung mit Servicekonto oder BundID",
    }.get(listing.user_account)
    if account:
        features.append(account)
    if listing.payment:
        features.append(f"Bezahlung über {listing.payment}")
    return features


def _release(listing: Listing) -> datetime | None:
    return db.session.scalar(
        select(func.max(ListingVersion.published_at)).where(ListingVersion.listing_id == listing.id)
    )


def publiccode(listing: Listing, url: str) -> str:
    """``listing`` as a publiccode.yml (standard 0.4 with the German country extension)."""
    provider = listing.provider_land.name
    operator = listing.operator
    state = listings.checklist_state(listing)
    languages = ["de", "en"] if state.get("ui_mehrsprachig") else ["de"]
    description = listing.description.strip() or listing.ozg_name
    document: dict[str, Any] = {
        "publiccodeYmlVersion": PUBLICCODE_VERSION,
        "name": listing.title,
        "url": url,
        "landingURL": url,
    }
    if listing.published_version:
        document["softwareVersion"] = str(listing.published_version)
        released = _release(listing)
        if released is not None:
            document["releaseDate"] = released.date().isoformat()
    document.update(
        {
            "platforms": ["web"],
            "categories": ["digital-citizenship"],
            "developmentStatus": DEVELOPMENT_STATUS[listing.status],
            "softwareType": "standalone/web",
            "intendedAudience": {"countries": ["de"]},
            "description": {
                "de": {
                    "localisedName": listing.title,
                    "shortDescription": first_sentence(description),
                    "longDescription": description,
                    "features": _features(listing),
                }
            },
            "legal": {
                "license": LICENSE,
                "mainCopyrightOwner": f"Land {provider}",
                "repoOwner": operator.name if operator else f"Land {provider}",
            },
        }
    )
    if listing.contact_name and listing.status != ListingStatus.WITHDRAWN:
        contact = {"name": listing.contact_name}
        if listing.contact_email:
            contact["email"] = listing.contact_email
        contact["affiliation"] = f"Land {provider}"  # the provider's contact person
        document["maintenance"] = {"type": "internal", "contacts": [contact]}
    else:
        document["maintenance"] = {"type": "none"}
    document["localisation"] = {
        "localisationReady": len(languages) > 1,
        "availableLanguages": languages,
    }
    # The German country extension: one ``leika`` entry per Leistungsschlüssel.
    document["DE"] = {
        "countryExtensionVersion": DE_EXTENSION_VERSION,
        "leika": [
            {"themenfeld": listing.themenfeld.name, "ozg-id": listing.ozg_id, "leika-id": key}
            for key in listing.leika_list
        ],
    }
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=100)


def listing_publiccode(actor, listing_id: int, url_of: Callable[[int], str]) -> str:
    """Permission VIEW_LISTING: the listing as publiccode.yml. Raises NotFound."""
    listing = listings.get_listing(actor, listing_id)
    return publiccode(listing, url_of(listing.id))
