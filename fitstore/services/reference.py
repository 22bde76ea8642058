"""Reference data: loading it (idempotently) and reading it."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import insert, or_, select

from fitstore.errors import Invalid, NotFound
from fitstore.extensions import db
from fitstore.models import (
    Authority,
    AuthorityLevel,
    CostKeyValue,
    Land,
    Organisation,
    OrganisationKind,
    Themenfeld,
)
from fitstore.services import audit
from fitstore.services.pagination import Page, paginate

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def _read_csv(name: str) -> list[dict[str, str]]:
    with open(DATA_DIR / name, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


FEDERAL_ORGANISATIONS = (
    (OrganisationKind.FITKO, "FITKO (Föderale IT-Kooperation)", "FITKO"),
    (OrganisationKind.BUND, "Bundesministerium des Innern (BMI)", "BMI"),
)


def shipped_land_codes() -> tuple[tuple[str, str, str], ...]:
    """(AGS, ISO, short) of the 16 Länder as shipped in ``laender.csv``."""
    return tuple((row["ags"], row["iso"], row["short"]) for row in _read_csv("laender.csv"))


@dataclass
class LoadReport:
    laender: int = 0
    organisations_added: int = 0
    themenfelder: int = 0
    authorities_added: int = 0
    authorities_updated: int = 0
    cost_key_values: int = 0


def load_reference() -> LoadReport:
    """Insert or update the shipped reference data. Running it twice changes nothing."""
    report = LoadReport()
    laender = _read_csv("laender.csv")
    existing_laender = {land.ags: land for land in db.session.scalars(select(Land))}
    for row in laender:
        land = existing_laender.get(row["ags"]) or Land(ags=row["ags"])
        land.iso, land.short, land.name = row["iso"], row["short"], row["name"]
        db.session.add(land)
        report.laender += 1
    db.session.flush()

    # FITKO (the Anbieter of every contract) and the Bund exist in every installation;
    # the first admin account belongs to FITKO (``fitstore user create … --org FITKO``).
    for kind, name, short_name in FEDERAL_ORGANISATIONS:
        if (
            db.session.scalar(select(Organisation.id).where(Organisation.short_name == short_name))
            is None
        ):
            organisation = Organisation(kind=kind, name=name, short_name=short_name, land_ags=None)
            db.session.add(organisation)
            db.session.flush()
            audit.record(
                None,
                "organisation.created",
                "organisation",
                organisation.id,
                details={"name": name, "kind": kind.value, "source": "reference"},
            )
            report.organisations_added += 1

    short_to_ags = {row["short"]: row["ags"] for row in laender}
    existing_fields = {t.number: t for t in db.session.scalars(select(Themenfeld))}
    for row in _read_csv("themenfelder.csv"):
        number = int(row["number"])
        field = existing_fields.get(number) or Themenfeld(number=number)
        field.name = row["name"]
        field.lead_land_ags = short_to_ags.get(row["lead_land_short"] or "")
        db.session.add(field)
        report.themenfelder += 1

    key_values = {(v.key, v.year, v.land_ags): v for v in db.session.scalars(select(CostKeyValue))}
    for row in laender:
        for key, year, column in (
            ("koenigstein", 2017, "koenigstein_2017_percent"),
            ("koenigstein", 2015, "koenigstein_2015_percent"),
            ("population", 2018, "population_2018_12_31"),
        ):
            value = Decimal(row[column])
            item = key_values.get((key, year, row["ags"]))
            if item is None:
                db.session.add(CostKeyValue(key=key, year=year, land_ags=row["ags"], value=value))
            elif item.value != value:
                item.value = value
            report.cost_key_values += 1

    wanted = []
    for row in _read_csv("kreise.csv"):
        wanted.append(
            {
                "level": AuthorityLevel.KREIS,
                "ags": row["AGS"],
                "ars": None,
                "name": row["name"],
                "name_search": row["name"].lower(),
                "type": row["type"],
                "kreis_ags": row["AGS"],
                "land_ags": row["AGS"][:2],
                "population": int(row["population"]) if row["population"] else None,
            }
        )
    for row in _read_csv("gemeinden.csv"):
        wanted.append(
            {
                "level": AuthorityLevel.GEMEINDE,
                "ags": row["AGS"],
                "ars": row["ARS"],
                "name": row["name"],
                "name_search": row["name"].lower(),
                "type": row["type"],
                "kreis_ags": row["kreis_AGS"],
                "land_ags": row["AGS"][:2],
                "population": None,
            }
        )
    existing = {a.ags: a for a in db.session.scalars(select(Authority))}
    new_rows = []
    for row in wanted:
        current = existing.get(row["ags"])
        if current is None:
            new_rows.append(row)
            continue
        changed = False
        for field, value in row.items():
            if getattr(current, field) != value:
                setattr(current, field, value)
                changed = True
        report.authorities_updated += changed
    if new_rows:
        db.session.execute(insert(Authority), new_rows)
    report.authorities_added = len(new_rows)
    db.session.commit()
    return report


# --- reading -----------------------------------------------------------------

# ASCII digits only and the whole string (``re.match`` with ``$`` would accept "12\n").
AGS_PATTERN = re.compile(r"[0-9]{2}(?:[0-9]{3})?(?:[0-9]{3})?")  # Land, Kreis or Gemeinde key
ARS_PATTERN = re.compile(r"[0-9]{12}")


def list_laender() -> list[Land]:
    return list(db.session.scalars(select(Land).order_by(Land.ags)))


def resolve_land(code: str | None, field: str = "land") -> Land | None:
    """Accept an AGS (``12``), ISO code (``DE-BB``) or short code (``BB``); Invalid otherwise."""
    if code is None or code == "":
        return None
    value = code.strip().upper()
    land = db.session.scalar(
        select(Land).where(or_(Land.ags == value, Land.iso == value, Land.short == value))
    )
    if land is None:
        raise Invalid(
            errors={
                field: [
                    _("Unbekanntes Land: bitte AGS (z. B. 12), ISO-Code (DE-BB) oder Kürzel (BB).")
                ]
            }
        )
    return land


def get_land(code: str) -> Land:
    try:
        land = resolve_land(code)
    except Invalid:
        land = None
    if land is None:
        raise NotFound()
    return land


def validate_ags(value: str | None, field: str = "ags") -> str | None:
    if value in (None, ""):
        return None
    if not AGS_PATTERN.fullmatch(value):
        raise Invalid(
            errors={
                field: [_("Der AGS besteht aus 2 (Land), 5 (Kreis) oder 8 Ziffern (Gemeinde).")]
            }
        )
    return value


def validate_ars(value: str | None, field: str = "ars") -> str | None:
    if value in (None, ""):
        return None
    if not ARS_PATTERN.fullmatch(value):
        raise Invalid(errors={field: [_("Der ARS besteht aus genau 12 Ziffern.")]})
    return value


def search_authorities(
    *,
    land: Land | None = None,
    q: str | None = None,
    ags: str | None = None,
    ars: str | None = None,
    level: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page:
    """Search Kreise and Gemeinden by name, AGS or ARS; two queries per page."""
    query = select(Authority).order_by(Authority.land_ags, Authority.ags)
    if land is not None:
        query = query.where(Authority.land_ags == land.ags)
    if ags:
        query = query.where(Authority.ags.startswith(validate_ags(ags)))
    if ars:
        query = query.where(Authority.ars == validate_ars(ars))
    if level:
        try:
            query = query.where(Authority.level == AuthorityLevel(level))
        except ValueError:
            raise Invalid(errors={"level": [_("Erlaubt sind kreis oder gemeinde.")]}) from None
    q = (q or "").strip()
    if q:
        if q.isdigit():
            query = query.where(or_(Authority.ags.startswith(q), Authority.ars.startswith(q)))
        else:
            escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(Authority.name_search.like(f"%{escaped}%", escape="\\"))
    return paginate(query, page, per_page)


# --- maps ----------------------------------------------------------------------

_NUMBER_PAIR = re.compile(r"(-?\d+(?:\.\d+)?),(-?\d+(?:\.\d+)?)")


@dataclass(frozen=True)
class MapArea:
    ags: str
    name: str
    d: str


@dataclass(frozen=True)
class MapLayer:
    view_box: str
    areas: tuple[MapArea, ...]
    attribution: str


def _bounding_box(areas) -> str:
    xs, ys = [], []
    for area in areas:
        for x, y in _NUMBER_PAIR.findall(area.d):
            xs.append(float(x))
            ys.append(float(y))
    pad = 4
    return (
        f"{min(xs) - pad:.1f} {min(ys) - pad:.1f} "
        f"{max(xs) - min(xs) + 2 * pad:.1f} {max(ys) - min(ys) + 2 * pad:.1f}"
    )


@lru_cache(maxsize=2)
def _map_file(name: str) -> tuple[dict, tuple[MapArea, ...]]:
    data = json.loads((DATA_DIR / name).read_text(encoding="utf-8"))
    areas = tuple(MapArea(a["ags"], a["name"], a["d"]) for a in data["areas"])
    return data["meta"], areas


def germany_map() -> MapLayer:
    meta, areas = _map_file("map-laender.json")
    return MapLayer(meta["viewBox"], areas, "© GeoBasis-DE / BKG 2017")


@lru_cache(maxsize=16)
def kreise_map(land_ags: str) -> MapLayer:
    _meta, areas = _map_file("map-kreise.json")
    mine = tuple(a for a in areas if a.ags.startswith(land_ags))
    return MapLayer(_bounding_box(mine), mine, "© GeoBasis-DE / BKG 2017")


def kreise_map_all() -> MapLayer:
    """All 401 Kreise of Germany, in the Länder map's coordinates."""
    meta, areas = _map_file("map-kreise.json")
    return MapLayer(meta["viewBox"], areas, "© GeoBasis-DE / BKG 2017")
