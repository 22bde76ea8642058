"""Cost data: the key data of the federation per year, and the usage figures per listing.

Key data (``CostKeyValue``): the Königsteiner Schlüssel and the Einwohner of the 16
Länder per year. The shipped years come from the reference data; an admin adds a new
year by uploading a CSV file (``import_key_csv``). A year that exists is never
overwritten: a cost split once computed on it must stay reproducible.

Usage figures (``UsageFigure``): tatsächliche Nutzungen of one listing per Land and
calendar year, the weight of the cost key ``usage``. An editor enters the figure of
their own Land (``record_usage``) when the Land takes part in the listing's cost
sharing (``permissions.usage_lands``); FITKO imports several Länder at once from a CSV
file (``import_usage_csv``), all or nothing.

CSV files (both kinds): a header line ``land;value`` or ``land;cases``; ``;`` or ``,``
as delimiter (from the header line); UTF-8 with or without BOM; the Land as AGS (``12``,
also ``1`` for ``01`` as spreadsheets drop the zero), ISO code (``DE-BB``), short code
(``BB``) or name; decimals with comma or point, no thousands separators. Every error
names its line (the header is line 1).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from fitstore.errors import Conflict, Invalid
from fitstore.extensions import db
from fitstore.models import CostKeyValue, Land, Listing, Role, UsageFigure, UsageSource
from fitstore.models.base import utcnow
from fitstore.permissions import Permission, alliance_member_lands, can, require, usage_lands
from fitstore.services import audit
from fitstore.services.listings import BIGINT_MAX, get_listing

# The keys whose figures are data of the federation (the other keys of a cost plan are
# usage figures, custom weights or formulas).
KEY_LABELS = {
    "koenigstein": _l("Königsteiner Schlüssel"),
    "population": _l("Einwohner"),
}
# Keys whose 16 values are shares of 100 and must add up to exactly that.
PERCENT_KEYS = {"koenigstein": Decimal(100)}
MIN_YEAR, MAX_YEAR = 1990, 2100
MAX_CSV_BYTES = 64 * 1024
MAX_REPORTED_ERRORS = 20
# Below 10^10 with at most 5 decimals a value has 15 significant digits: exact in the
# NUMERIC column of PostgreSQL and in SQLite's floating point alike (domain rule 5).
MAX_KEY_VALUE = Decimal(10) ** 10
KEY_DECIMALS = 5

_NUMBER = re.compile(r"[0-9]+(?:[.,][0-9]+)?")
_INTEGER = re.compile(r"[0-9]+")


def key_label(key: str) -> str:
    return str(KEY_LABELS.get(key, key))


def format_value(value: Decimal) -> str:
    """A key value or sum for people: grouped, up to 5 decimals, no trailing zeros."""
    return format_decimal(value, format="#,##0.#####")


# --- key data: reading ---------------------------------------------------------------


def key_years() -> dict[str, list[int]]:
    """Which years exist per key, e.g. ``{"koenigstein": [2015, 2017], ...}`` (one query)."""
    years: dict[str, list[int]] = {key: [] for key in KEY_LABELS}
    rows = db.session.execute(
        select(CostKeyValue.key, CostKeyValue.year)
        .distinct()
        .order_by(CostKeyValue.key, CostKeyValue.year)
    )
    for key, year in rows:
        years.setdefault(key, []).append(year)
    return years


def key_values(key: str, year: int) -> dict[str, Decimal]:
    """The values of one key and year by Land AGS; empty when the year has no data."""
    rows = db.session.execute(
        select(CostKeyValue.land_ags, CostKeyValue.value).where(
            CostKeyValue.key == key, CostKeyValue.year == year
        )
    )
    return {ags: Decimal(value) for ags, value in rows}


@dataclass
class KeyTable:
    """One key: a column per year, a row per Land, the sum per year."""

    key: str
    label: str
    years: list[int]
    rows: list[tuple[Land, dict[int, Decimal]]]
    totals: dict[int, Decimal]


def key_tables() -> list[KeyTable]:
    """All key data for the admin page (two queries, whatever the number of years)."""
    laender = list(db.session.scalars(select(Land).order_by(Land.ags)))
    values: dict[str, dict[str, dict[int, Decimal]]] = defaultdict(lambda: defaultdict(dict))
    for item in db.session.scalars(select(CostKeyValue)):
        values[item.key][item.land_ags][item.year] = Decimal(item.value)
    tables = []
    for key in [*KEY_LABELS, *sorted(set(values) - set(KEY_LABELS))]:
        by_land = values.get(key, {})
        years = sorted({year for per_year in by_land.values() for year in per_year})
        totals = {
            year: sum((by_land[ags][year] for ags in by_land if year in by_land[ags]), Decimal(0))
            for year in years
        }
        rows = [(land, dict(by_land.get(land.ags, {}))) for land in laender]
        tables.append(KeyTable(key, key_label(key), years, rows, totals))
    return tables


# --- CSV reading -----------------------------------------------------------------------


@dataclass
class _Parsed:
    """The rows of a CSV file by Land AGS, and what was wrong with it."""

    values: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def _land_lookup() -> tuple[dict[str, Land], list[Land]]:
    laender = list(db.session.scalars(select(Land).order_by(Land.ags)))
    lookup: dict[str, Land] = {}
    for land in laender:
        for code in (land.ags, land.ags.lstrip("0"), land.iso, land.short, land.name):
            lookup[code.upper()] = land
    return lookup, laender


def _shown(raw: str) -> str:
    """A piece of the user's file for a message: short, control characters replaced (the
    page escapes the rest)."""
    raw = "".join(char if char.isprintable() else "\ufffd" for char in raw)
    return raw if len(raw) <= 30 else raw[:29] + "…"


def _key_value(raw: str) -> tuple[Decimal | None, str | None]:
    if raw == "":
        return None, _("kein Wert angegeben.")
    if raw.startswith("-") and _NUMBER.fullmatch(raw[1:]):
        return None, _("„%(value)s“ ist negativ; erlaubt sind Werte ab 0.", value=_shown(raw))
    if not _NUMBER.fullmatch(raw):
        return None, _(
            "„%(value)s“ ist keine Zahl. Erlaubt sind Ziffern mit Dezimalkomma oder"
            " -punkt, ohne Tausendertrennzeichen (z. B. 3,03655).",
            value=_shown(raw),
        )
    value = Decimal(raw.replace(",", "."))
    if -value.as_tuple().exponent > KEY_DECIMALS:
        return None, _(
            "„%(value)s“ hat mehr als %(places)d Nachkommastellen.",
            value=_shown(raw),
            places=KEY_DECIMALS,
        )
    if value >= MAX_KEY_VALUE:
        return None, _("„%(value)s“ ist zu groß.", value=_shown(raw))
    return value, None


def _cases_value(raw: str) -> tuple[int | None, str | None]:
    if raw == "":
        return None, _("keine Zahl angegeben.")
    if raw.startswith("-") and _NUMBER.fullmatch(raw[1:]):
        return None, _("„%(value)s“ ist negativ; erlaubt sind Zahlen ab 0.", value=_shown(raw))
    if not _INTEGER.fullmatch(raw):
        return None, _(
            "„%(value)s“ ist keine ganze Zahl. Bitte nur Ziffern, ohne Tausendertrennzeichen"
            " (z. B. 12500).",
            value=_shown(raw),
        )
    # The length first: int() refuses strings of more than 4300 digits outright.
    if len(raw.lstrip("0")) > len(str(BIGINT_MAX)) or int(raw) > BIGINT_MAX:
        return None, _("„%(value)s“ ist zu groß.", value=_shown(raw))
    return int(raw), None


def _parse_csv(
    file_bytes: bytes | None,
    column: str,
    parse: Callable[[str], tuple[Any, str | None]],
    lookup: dict[str, Land],
) -> _Parsed:
    parsed = _Parsed()
    errors = parsed.errors
    if not file_bytes or not file_bytes.strip():
        errors.append(_("Bitte wählen Sie eine CSV-Datei mit Inhalt aus."))
        return parsed
    if len(file_bytes) > MAX_CSV_BYTES:
        errors.append(_("Die Datei ist zu groß: höchstens 64 KB."))
        return parsed
    try:
        text = file_bytes.decode("utf-8-sig")
    except UnicodeDecodeError:
        errors.append(
            _("Die Datei ist nicht UTF-8-kodiert. Bitte speichern Sie sie als „CSV UTF-8“.")
        )
        return parsed
    header_line = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = ";" if ";" in header_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header_seen = False
    try:
        for row in reader:
            line = reader.line_num
            cells = [cell.strip() for cell in row]
            if not any(cells):
                continue
            while len(cells) > 2 and cells[-1] == "":
                cells.pop()  # spreadsheets like to add empty trailing columns
            if not header_seen:
                header_seen = True
                if [cell.lower() for cell in cells] != ["land", column]:
                    errors.append(
                        _(
                            "Zeile %(line)d: Die Kopfzeile muss „%(expected)s“ lauten"
                            " (Trennzeichen Semikolon oder Komma), gefunden: „%(found)s“.",
                            line=line,
                            expected="land;" + column,
                            found=_shown(delimiter.join(cells)),
                        )
                    )
                    return parsed
                continue
            if len(cells) != 2:
                message = _(
                    "Zeile %(line)d: 2 Angaben erwartet (Land und Zahl), gefunden: %(count)d.",
                    line=line,
                    count=len(cells),
                )
                if delimiter == ",":
                    message += " " + _(
                        "Bei Komma als Trennzeichen schreiben Sie Dezimalzahlen mit Punkt"
                        " oder verwenden Sie das Semikolon als Trennzeichen."
                    )
                errors.append(message)
                continue
            code, raw = cells
            land = lookup.get(code.upper())
            if land is None:
                errors.append(
                    _(
                        "Zeile %(line)d: Unbekanntes Land „%(code)s“. Bitte AGS (z. B. 12),"
                        " ISO-Code (DE-BB) oder Kürzel (BB) angeben.",
                        line=line,
                        code=_shown(code),
                    )
                )
                continue
            if land.ags in parsed.lines:
                errors.append(
                    _(
                        "Zeile %(line)d: %(land)s steht bereits in Zeile %(first)d;"
                        " jedes Land darf nur einmal vorkommen.",
                        line=line,
                        land=land.name,
                        first=parsed.lines[land.ags],
                    )
                )
                continue
            parsed.lines[land.ags] = line
            value, problem = parse(raw)
            if problem is not None:
                errors.append(
                    _(
                        "Zeile %(line)d (%(land)s): %(problem)s",
                        line=line,
                        land=land.name,
                        problem=problem,
                    )
                )
                continue
            parsed.values[land.ags] = value
    except csv.Error:
        errors.append(_("Zeile %(line)d: Die Zeile ist kein gültiges CSV.", line=reader.line_num))
    if not header_seen:
        errors.append(_("Bitte wählen Sie eine CSV-Datei mit Inhalt aus."))
    return parsed


def _capped(errors: list[str]) -> list[str]:
    if len(errors) <= MAX_REPORTED_ERRORS:
        return errors
    rest = len(errors) - MAX_REPORTED_ERRORS
    return errors[:MAX_REPORTED_ERRORS] + [
        ngettext("… und %(num)d weiterer Fehler.", "… und %(num)d weitere Fehler.", rest)
    ]


def parse_year(
    value: Any, errors: dict[str, list[str]], low: int = MIN_YEAR, high: int = MAX_YEAR
) -> int | None:
    """A four-digit year from a form, query or JSON value within [low, high]; None with a
    message under errors["year"] otherwise."""
    text = str(value).strip() if value is not None else ""
    if isinstance(value, int) and not isinstance(value, bool):
        year = value
    elif text.isascii() and text.isdigit() and len(text) <= 4:
        year = int(text)
    else:
        errors["year"] = [_("Bitte geben Sie das Jahr vierstellig an, z. B. 2024.")]
        return None
    if not low <= year <= high:
        errors["year"] = [
            _("Bitte geben Sie ein Jahr von %(low)d bis %(high)d an.", low=low, high=high)
        ]
        return None
    return year


# --- key data: import ------------------------------------------------------------------


def import_key_csv(actor, key: str, year: Any, file_bytes: bytes | None) -> dict[str, Decimal]:
    """Add the values of a key (``koenigstein`` or ``population``) for a new year.

    Permission: MANAGE_KEY_DATA (admins). The file holds each of the 16 Länder exactly
    once with a non-negative value of at most 5 decimals; the Königsteiner Schlüssel
    adds up to exactly 100. Raises Forbidden, Invalid (``key``, ``year``, ``file``:
    every message names its line) and Conflict (the year exists already). Writes the
    16 values and one audit row.
    """
    require(actor, Permission.MANAGE_KEY_DATA)
    errors: dict[str, list[str]] = {}
    if key not in KEY_LABELS:
        errors["key"] = [_("Bitte wählen Sie den Königsteiner Schlüssel oder die Einwohner.")]
    year = parse_year(year, errors)
    if not errors and db.session.scalar(
        select(CostKeyValue.year).where(CostKeyValue.key == key, CostKeyValue.year == year).limit(1)
    ):
        raise Conflict(_duplicate_year(key, year))
    lookup, laender = _land_lookup()
    parsed = _parse_csv(file_bytes, "value", _key_value, lookup)
    file_errors = parsed.errors
    missing = [land for land in laender if land.ags not in parsed.lines]
    if parsed.lines and missing:
        file_errors.append(
            ngettext(
                "Es fehlt %(names)s. Die Datei muss jedes der 16 Länder genau einmal enthalten.",
                "Es fehlen %(names)s. Die Datei muss jedes der 16 Länder genau einmal enthalten.",
                len(missing),
                names=", ".join(f"{land.name} ({land.ags})" for land in missing),
            )
        )
    total = sum(parsed.values.values(), Decimal(0))
    if not file_errors and key in PERCENT_KEYS and total != PERCENT_KEYS[key]:
        file_errors.append(
            _(
                "Die Werte ergeben zusammen %(total)s statt %(expected)s. Die Anteile des"
                " Königsteiner Schlüssels müssen genau %(expected)s ergeben; bitte prüfen Sie"
                " die Werte.",
                total=format_value(total),
                expected=format_value(PERCENT_KEYS[key]),
            )
        )
    if file_errors:
        errors["file"] = _capped(file_errors)
    if errors:
        raise Invalid(errors=errors)

    for ags, value in parsed.values.items():
        db.session.add(CostKeyValue(key=key, year=year, land_ags=ags, value=value))
    try:
        db.session.flush()
    except IntegrityError:
        # A second upload of the same year got in first.
        db.session.rollback()
        raise Conflict(_duplicate_year(key, year)) from None
    audit.record(
        actor,
        "key_data.imported",
        "cost_key",
        f"{key}/{year}",
        details={
            "key": key,
            "year": year,
            "sum": str(total),
            "values": {ags: str(parsed.values[ags]) for ags in sorted(parsed.values)},
            "sha256": hashlib.sha256(file_bytes or b"").hexdigest(),
        },
    )
    db.session.commit()
    return dict(parsed.values)


def _duplicate_year(key: str, year: int) -> str:
    return _(
        "Für %(key)s %(year)d sind bereits Werte hinterlegt. Vorhandene Jahre werden nicht"
        " überschrieben; bitte wählen Sie ein anderes Jahr.",
        key=key_label(key),
        year=year,
    )


def key_csv_template() -> str:
    """An empty upload file: the header and one line per Land (AGS and name as a hint)."""
    lines = ["land;value"]
    lines += [f"{land.short};" for land in db.session.scalars(select(Land).order_by(Land.ags))]
    return "\r\n".join(lines) + "\r\n"


# --- usage figures ---------------------------------------------------------------------


def _usage_year(value: Any, errors: dict[str, list[str]]) -> int | None:
    # Actual usage is counted, never forecast: no year after the current one.
    return parse_year(value, errors, high=utcnow().year)


def _cases(value: Any, errors: dict[str, list[str]]) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        raw = str(value)
    elif isinstance(value, str):
        raw = value.strip()
    else:
        raw = ""
    cases, problem = _cases_value(raw)
    if problem is not None:
        errors["cases"] = [problem if raw else _("Bitte geben Sie die Zahl der Nutzungen an.")]
    return cases


def _upsert(actor, listing_id: int, year: int, land_ags: str, cases: int, source: UsageSource):
    """Insert or update one figure; returns (figure, previous cases or None)."""
    figure = db.session.scalar(
        select(UsageFigure)
        .where(
            UsageFigure.listing_id == listing_id,
            UsageFigure.year == year,
            UsageFigure.land_ags == land_ags,
        )
        # OF: the joined-eager Land sits on the nullable side of an outer join.
        .with_for_update(of=UsageFigure)
    )
    previous = figure.cases if figure is not None else None
    if figure is None:
        figure = UsageFigure(listing_id=listing_id, year=year, land_ags=land_ags)
        db.session.add(figure)
    figure.cases = cases
    figure.source = source
    figure.entered_by_id = actor.id
    figure.entered_at = utcnow()
    return figure, previous


def _flush_figures() -> None:
    try:
        db.session.flush()
    except IntegrityError:
        # Someone entered the first figure of the same Land and year at the same moment.
        db.session.rollback()
        raise Conflict(
            _("Die Zahl wurde eben gleichzeitig erfasst. Bitte laden Sie die Seite neu.")
        ) from None


def record_usage(actor, listing_id: int, year: Any, cases: Any) -> UsageFigure:
    """Enter (or correct) the usage figure of the actor's own Land for a listing and year.

    Permission: RECORD_USAGE on the listing: an editor of a Land whose reuse of the
    listing is or was contracted, or of the provider Land with its own use. Raises
    NotFound (listing not visible), Forbidden, Invalid (``year``, ``cases``) and
    Conflict (a simultaneous first entry). One audit row per change.
    """
    listing = get_listing(actor, listing_id)
    require(actor, Permission.RECORD_USAGE, listing)
    errors: dict[str, list[str]] = {}
    year = _usage_year(year, errors)
    cases = _cases(cases, errors)
    if errors:
        raise Invalid(errors=errors)
    figure, previous = _upsert(actor, listing.id, year, actor.land_ags, cases, UsageSource.ENTRY)
    _flush_figures()
    audit.record(
        actor,
        "usage.recorded",
        "listing",
        listing.id,
        land_ags=actor.land_ags,
        details={"year": year, "land": actor.land_ags, "cases": cases, "previous": previous},
    )
    db.session.commit()
    return figure


def import_usage_csv(actor, listing_id: int, year: Any, file_bytes: bytes | None) -> dict:
    """Import usage figures of any Länder for a listing and year from a CSV file
    (header ``land;cases``); all or nothing.

    Permission: IMPORT_USAGE (FITKO). Imported figures replace those of the same Länder
    (whoever entered them); Länder not in the file keep theirs. Raises NotFound,
    Forbidden and Invalid (``year``, ``file``: every message names its line). One
    audit row for the whole import. Returns the imported figures by Land AGS.
    """
    require(actor, Permission.IMPORT_USAGE)
    listing = get_listing(actor, listing_id)
    errors: dict[str, list[str]] = {}
    year = _usage_year(year, errors)
    lookup, _laender = _land_lookup()
    parsed = _parse_csv(file_bytes, "cases", _cases_value, lookup)
    if not parsed.errors and not parsed.lines:
        parsed.errors.append(_("Die Datei enthält nach der Kopfzeile keine Zeile mit einem Land."))
    if parsed.errors:
        errors["file"] = _capped(parsed.errors)
    if errors:
        raise Invalid(errors=errors)
    previous: dict[str, int | None] = {}
    for ags in sorted(parsed.values):
        _figure, previous[ags] = _upsert(
            actor, listing.id, year, ags, parsed.values[ags], UsageSource.IMPORT
        )
    _flush_figures()
    audit.record(
        actor,
        "usage.imported",
        "listing",
        listing.id,
        details={
            "year": year,
            "figures": {ags: parsed.values[ags] for ags in sorted(parsed.values)},
            "previous": previous,
            "sha256": hashlib.sha256(file_bytes or b"").hexdigest(),
        },
    )
    db.session.commit()
    return dict(parsed.values)


@dataclass
class UsageRow:
    land: Land
    figure: UsageFigure | None
    participant: bool  # takes part in the cost sharing (may enter its figure)


@dataclass
class UsageOverview:
    listing: Listing
    year: int
    sees_all: bool  # every Land's figure (FITKO, admins, provider, alliance members)
    rows: list[UsageRow]
    own_land_ags: str | None
    may_record: bool  # the actor may enter the figure of its own Land
    may_import: bool

    @property
    def total(self) -> int:
        return sum(row.figure.cases for row in self.rows if row.figure is not None)

    @property
    def own_row(self) -> UsageRow | None:
        return next((row for row in self.rows if row.land.ags == self.own_land_ags), None)


def sees_all_usage(actor, listing: Listing) -> bool:
    """FITKO, admins, the provider Land and the alliance members see every Land's figure;
    anybody else only that of their own Land."""
    if getattr(actor, "role", None) in (Role.FITKO, Role.ADMIN):
        return True
    land = getattr(actor, "land_ags", None)
    if land is None:
        return False
    return land == listing.provider_land_ags or land in alliance_member_lands(listing.id)


def usage_figures(actor, listing_id: int, year: Any) -> UsageOverview:
    """The usage figures of a listing and year the actor may see, one row per Land that
    takes part or has a figure (constant number of queries).

    Permission: VIEW_USAGE; which rows: ``sees_all_usage``. Raises NotFound (listing not
    visible), Forbidden and Invalid (``year``).
    """
    require(actor, Permission.VIEW_USAGE)
    listing = get_listing(actor, listing_id)
    errors: dict[str, list[str]] = {}
    year = parse_year(year, errors)
    if errors:
        raise Invalid(errors=errors)
    sees_all = sees_all_usage(actor, listing)
    own = getattr(actor, "land_ags", None)
    participants = usage_lands(listing.id)
    query = select(UsageFigure).where(
        UsageFigure.listing_id == listing.id, UsageFigure.year == year
    )
    if not sees_all:
        query = query.where(UsageFigure.land_ags == own)
    figures = {figure.land_ags: figure for figure in db.session.scalars(query)}
    shown = set(figures) | (participants if sees_all else participants & {own})
    laender = db.session.scalars(select(Land).where(Land.ags.in_(shown)).order_by(Land.ags))
    rows = [UsageRow(land, figures.get(land.ags), land.ags in participants) for land in laender]
    return UsageOverview(
        listing=listing,
        year=year,
        sees_all=sees_all,
        rows=rows,
        own_land_ags=own,
        may_record=can(actor, Permission.RECORD_USAGE, listing),
        may_import=can(actor, Permission.IMPORT_USAGE, listing),
    )
