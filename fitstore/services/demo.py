"""Demo organisations and users for trying fitstore out (never in production)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from fitstore.extensions import db
from fitstore.models import Land, Organisation, OrganisationKind, Role, User
from fitstore.services import audit
from fitstore.services.auth import hash_password
from fitstore.services.reference import load_reference

DEMO_PASSWORD = "fitstore-demo"  # noqa: S105  (published demo password; demo refuses production)

# The ministries named in public sources for the seed's cases; the others get a
# neutral name for the Land's OZG coordination.
LAND_MINISTRIES = {
    "BB": "Ministerium des Innern und für Kommunales des Landes Brandenburg",
    "BY": "Bayerisches Staatsministerium für Digitales",
    "HE": "Hessisches Ministerium für Digitalisierung und Innovation",
    "NW": "Ministerium für Heimat, Kommunales, Bau und Digitalisierung NRW",
}

# FITKO and the Bund come with the reference data; the demo adds IT-Dienstleister.
SPECIAL_ORGANISATIONS = [
    (
        OrganisationKind.IT_DIENSTLEISTER,
        "Zentraler IT-Dienstleister des Landes Brandenburg",
        "ZIT-BB",
        "12",
    ),
    (
        OrganisationKind.IT_DIENSTLEISTER,
        "Anstalt für Kommunale Datenverarbeitung in Bayern",
        "AKDB",
        "09",
    ),
    (OrganisationKind.IT_DIENSTLEISTER, "ekom21 – KGRZ Hessen", "ekom21", "06"),
]


@dataclass
class DemoReport:
    organisations_created: int = 0
    users_created: int = 0


def _organisation(kind, name, short_name, land_ags, report) -> Organisation:
    organisation = db.session.scalar(
        select(Organisation).where(Organisation.short_name == short_name)
    )
    if organisation is None:
        organisation = Organisation(kind=kind, name=name, short_name=short_name, land_ags=land_ags)
        db.session.add(organisation)
        db.session.flush()
        audit.record(
            None,
            "organisation.created",
            "organisation",
            organisation.id,
            land_ags=land_ags,
            details={"name": name, "kind": kind.value, "source": "demo"},
        )
        report.organisations_created += 1
    return organisation


def _user(email, name, role, organisation, password_hash, report) -> None:
    if db.session.scalar(select(User.id).where(User.email == email)):
        return
    user = User(
        email=email, name=name, role=role, organisation=organisation, password_hash=password_hash
    )
    db.session.add(user)
    db.session.flush()
    audit.record(
        None,
        "user.created",
        "user",
        user.id,
        land_ags=organisation.land_ags,
        details={
            "email": email,
            "role": role.value,
            "organisation_id": organisation.id,
            "source": "demo",
        },
    )
    report.users_created += 1


def load_demo() -> DemoReport:
    """Reference data plus demo organisations and users; idempotent."""
    load_reference()
    report = DemoReport()
    # One hash for all demo users: they share the published demo password anyway.
    password_hash = hash_password(DEMO_PASSWORD)
    for kind, name, short, land in SPECIAL_ORGANISATIONS:
        _organisation(kind, name, short, land, report)
    fitko = db.session.scalar(select(Organisation).where(Organisation.short_name == "FITKO"))
    _user("admin@demo.test", "Demo-Administration", Role.ADMIN, fitko, password_hash, report)
    _user("fitko-1@demo.test", "Erika Prüferin (FITKO)", Role.FITKO, fitko, password_hash, report)
    _user(
        "fitko-2@demo.test", "Max Gegenzeichner (FITKO)", Role.FITKO, fitko, password_hash, report
    )
    for land in db.session.scalars(select(Land).order_by(Land.ags)):
        name = LAND_MINISTRIES.get(land.short, f"OZG-Koordination {land.name}")
        ministry = _organisation(
            OrganisationKind.LAND, name, f"LAND-{land.short}", land.ags, report
        )
        code = land.short.lower()
        _user(
            f"editor-{code}@demo.test",
            f"Redaktion {land.name}",
            Role.EDITOR,
            ministry,
            password_hash,
            report,
        )
        _user(
            f"viewer-{code}@demo.test",
            f"Lesezugriff {land.name}",
            Role.VIEWER,
            ministry,
            password_hash,
            report,
        )
    db.session.commit()
    return report
