"""Demo organisations, users, EfA listings and reuses for trying fitstore out (never in
production).

``load_demo`` is idempotent: organisations are keyed by short name, users by e-mail,
listings by (provider Land, OZG-ID), reuses by (listing, adopter Land), alliance members by
Land, cost-key decisions by year, key data by (key, year), cost plans by (listing, year) and
usage figures by (listing, year, Land); running it again creates nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from fitstore.extensions import db
from fitstore.models import (
    Alliance,
    AllianceMembership,
    Authority,
    AuthorityLevel,
    CostKeyDecision,
    Land,
    Listing,
    ListingStatus,
    MembershipStatus,
    Organisation,
    OrganisationKind,
    Reuse,
    ReuseTransition,
    Role,
    UsageFigure,
    User,
)
from fitstore.models.base import utcnow
from fitstore.permissions import Permission, can
from fitstore.services import alliances as alliance_service
from fitstore.services import audit, cost_data, cost_sharing
from fitstore.services import listings as listing_service
from fitstore.services import reuses as reuse_service
from fitstore.services.auth import hash_password
from fitstore.services.reference import load_reference
from fitstore.services.system import SystemActor

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
    # Operators of further demo listings. (Dataport is left out on purpose: the admin
    # tests create it as an example of a new organisation; those listings name no operator.)
    (
        OrganisationKind.IT_DIENSTLEISTER,
        "Landesbetrieb Information und Technik Nordrhein-Westfalen",
        "IT.NRW",
        "05",
    ),
    (OrganisationKind.IT_DIENSTLEISTER, "IT-Dienstleistungszentrum Berlin", "ITDZ Berlin", "11"),
    (OrganisationKind.IT_DIENSTLEISTER, "Komm.ONE AöR", "Komm.ONE", "08"),
    (
        OrganisationKind.IT_DIENSTLEISTER,
        "Datenverarbeitungszentrum Mecklenburg-Vorpommern",
        "DVZ M-V",
        "13",
    ),
]


@dataclass
class DemoReport:
    organisations_created: int = 0
    users_created: int = 0
    listings_created: int = 0
    reuses_created: int = 0
    alliance_members_added: int = 0
    cost_key_decisions_created: int = 0
    #: (key, year) pairs of key data loaded, e.g. 4 for two keys of 2026 and 2027
    key_data_loaded: int = 0
    cost_plan_items_created: int = 0
    usage_figures_recorded: int = 0
    #: what a demo user should know about the data, e.g. key data carried forward
    notes: list[str] = field(default_factory=list)


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
    _listings(report)
    _reuses(report)
    _costs(report)
    _follows(report)
    return report


# --- demo listings ----------------------------------------------------------------------------
#
# Made through the listing service, acting as the demo users, so that audit rows, versions,
# revisions and notifications are the real thing. The seed's three services come first
# (Aufenthaltstitel, Verpflichtungserklärung, Einbürgerung: see docs/domain.md); the others
# are plausible EfA services. Every OZG-ID but 10255 (Aufenthaltstitel, from the seed), every
# Leistungsschlüssel, amount and contact is made up, and each description says so.

DEMO_NOTE = "\n\n_Demodaten: {what} sind fiktiv._"
SEED_OZG_IDS = {"10255"}  # Aufenthaltstitel: the OZG-ID named in docs/domain.md

# How far each demo listing is taken through its lifecycle.
DRAFT = "draft"
SUBMITTED = "submitted"
PUBLISHED = "published"
REJECTED = "rejected"  # submitted, then sent back to draft by FITKO with a reason
WITHDRAWN = "withdrawn"
PENDING_REVISION = "pending_revision"  # published, with an edit waiting for FITKO
TWO_VERSIONS = "two_versions"  # published, edited, edit accepted: versions 1 and 2


def _checklist(kind: str) -> dict[str, bool]:
    """Criteria met: ``all``, the MUSS ones (``muss``), or the MUSS ones but two (``gaps``)."""
    chosen = {}
    for criterion in listing_service.criteria():
        if kind == "all":
            chosen[criterion.key] = True
        elif kind == "muss":
            chosen[criterion.key] = criterion.level == "MUSS"
        else:
            chosen[criterion.key] = criterion.level == "MUSS" and criterion.key not in (
                "ui_barrierefrei",
                "re_datenschutz",
            )
    return chosen


@dataclass(frozen=True)
class DemoListing:
    land: str  # provider Land (short code); its demo editor acts
    operator: str | None  # short name of the IT-Dienstleister
    plan: str
    content: dict[str, Any]
    revision: dict[str, Any] = field(default_factory=dict)  # changes for the edit
    reason: str = ""  # FITKO's reason for a rejection


def _demo_note(ozg_id: str) -> str:
    what = "Leistungsschlüssel, Kosten und Kontakt"
    return DEMO_NOTE.format(what=what if ozg_id in SEED_OZG_IDS else f"OZG-ID, {what}")


def _leika(ozg_id: str, *numbers: int) -> list[str]:
    # Well-formed (14 digits) but fictitious: 99 + OZG-ID + running number.
    return [f"99{ozg_id}{number:07d}" for number in numbers]


def _content(
    title,
    ozg_name,
    ozg_id,
    themenfeld,
    reifegrad,
    description,
    *,
    transport="fit_connect",
    xoev="",
    account="servicekonto",
    payment="ePayBL",
    note="",
    checklist="all",
    annual=None,
    connection=None,
    contact=("", ""),
    leika=(1,),
) -> dict[str, Any]:
    return {
        "title": title,
        "ozg_name": ozg_name,
        "ozg_id": ozg_id,
        "leika_keys": _leika(ozg_id, *leika),
        "themenfeld_number": themenfeld,
        "reifegrad": reifegrad,
        "description": description + _demo_note(ozg_id),
        "transport": transport,
        "xoev_standard": xoev,
        "user_account": account,
        "payment": payment,
        "requirements_note": note,
        "checklist": _checklist(checklist),
        "annual_cost_cents": annual,
        "connection_cost_cents": connection,
        "contact_name": contact[0],
        "contact_email": contact[1],
    }


AUFENTHALTSTITEL_TEXT = (
    "Online-Antrag auf Erteilung und Verlängerung eines Aufenthaltstitels bei der "
    "zuständigen Ausländerbehörde. Antragstellende melden sich mit dem Servicekonto oder "
    "der BundID an, laden ihre Nachweise hoch und erhalten den Bescheid digital.\n\n"
    "Die Startversion ist Anfang Dezember 2020 in den Ausländerbehörden der Landkreise "
    "Elbe-Elster und Teltow-Fläming online gegangen. Bis Ende März 2021 sollen die übrigen "
    "Ausländerbehörden Brandenburgs folgen, darunter die der Landeshauptstadt Potsdam.\n\n"
    "Brandenburg hat mit dem Auswärtigen Amt die Federführung im OZG-Themenfeld "
    "„Ein- und Auswanderung“; das MIK verantwortet den Dienst, der ZIT-BB betreibt ihn. "
    "Die Antragsdaten gehen im Standard XAusländer über FIT-Connect an das Fachverfahren."
)

DEMO_LISTINGS: tuple[DemoListing, ...] = (
    DemoListing(
        "BB",
        "ZIT-BB",
        TWO_VERSIONS,
        _content(
            "Aufenthaltstitel",
            "Aufenthaltstitel",
            "10255",
            4,
            3,
            AUFENTHALTSTITEL_TEXT,
            xoev="XAusländer",
            account="servicekonto_bundid",
            note="Zustellpunkt der Ausländerbehörde in FIT-Connect; Anbindung an das Fachverfahren über XAusländer.",
            annual=120_000_000,
            connection=1_500_000,
            contact=("Jana Beispiel", "jana.beispiel@mik.brandenburg.demo.test"),
            leika=(1, 2, 3),
        ),
        revision={
            "description": AUFENTHALTSTITEL_TEXT
            + "\n\nZeitgleich hat sich eine bundesweite Nachnutzungsallianz von 12 Ländern "
            "gebildet, die den Dienst nachnutzen will. Für das Themenfeld stehen bis Ende 2022 "
            "bis zu 50 Mio. EUR aus dem Konjunkturpaket des Bundes bereit, unter anderem für "
            "den Anschluss weiterer Länder und den initialen Betrieb."
        },
    ),
    DemoListing(
        "HE",
        "ekom21",
        PUBLISHED,
        _content(
            "Verpflichtungserklärung",
            "Verpflichtungserklärung",
            "10256",
            4,
            3,
            "Online-Abgabe einer Verpflichtungserklärung (§ 68 AufenthG) für den Besuch von "
            "Angehörigen aus Drittstaaten, mit Terminvereinbarung und Online-Bezahlung der "
            "Gebühr.\n\nDas Partnerland Hessen hat den Dienst in zwei hessischen Kommunen "
            "online gestellt. Brandenburg hat Gespräche über die Nachnutzung begonnen, um ihn "
            "auch den brandenburgischen Ausländerbehörden anzubieten.",
            xoev="XAusländer",
            annual=18_000_000,
            connection=500_000,
            contact=("Murat Demir", "murat.demir@ekom21.demo.test"),
        ),
    ),
    DemoListing(
        "NW",
        "IT.NRW",
        PUBLISHED,
        _content(
            "Einbürgerung",
            "Einbürgerung",
            "10257",
            4,
            3,
            "Antrag auf Einbürgerung (Erwerb der deutschen Staatsangehörigkeit) mit "
            "Vorabprüfung der Voraussetzungen und digitaler Übermittlung der Unterlagen.\n\n"
            "Das Partnerland Bayern hat die OZG-Leistung „Einbürgerung“ in München und zwei "
            "bayerischen Landkreisen online gestellt. Darauf aufbauend baut "
            "Nordrhein-Westfalen eine bundesweit nachnutzbare Lösung, die später auch "
            "Brandenburg mitnutzen soll.",
            account="servicekonto_bundid",
            note="Die XÖV-Schnittstelle zu den Fachverfahren der Einbürgerungsbehörden wird noch abgestimmt.",
            checklist="muss",
            annual=45_000_000,
            connection=800_000,
            contact=("Lena Vogt", "lena.vogt@mhkbd.nrw.demo.test"),
            leika=(1, 2),
        ),
    ),
    DemoListing(
        "HB",
        None,
        PUBLISHED,
        _content(
            "Elterngeld digital",
            "Elterngeld",
            "10301",
            6,
            3,
            "Elterngeld online beantragen: ein geführter Antrag für beide Elternteile, der "
            "Angaben aus der Geburtsanzeige übernimmt und die Nachweise digital an die "
            "Elterngeldstelle übermittelt.",
            account="bundid",
            payment="",
            annual=60_000_000,
            connection=700_000,
            contact=("Fenja Janssen", "fenja.janssen@soziales.bremen.demo.test"),
        ),
    ),
    DemoListing(
        "NW",
        "IT.NRW",
        PENDING_REVISION,
        _content(
            "Wohngeld",
            "Wohngeld",
            "10401",
            2,
            3,
            "Antrag auf Mietzuschuss oder Lastenzuschuss mit Wohngeldrechner, Upload der "
            "Nachweise und Bescheid ins Postfach des Nutzerkontos.",
            account="servicekonto_bundid",
            payment="",
            annual=52_000_000,
            connection=650_000,
            contact=("Lena Vogt", "lena.vogt@mhkbd.nrw.demo.test"),
            leika=(1, 2),
        ),
        revision={
            "description": "Antrag auf Mietzuschuss oder Lastenzuschuss mit Wohngeldrechner, "
            "Upload der Nachweise und Bescheid ins Postfach des Nutzerkontos. Neu: "
            "Weiterleitungsanträge ohne erneute Eingabe aller Angaben.",
            "connection_cost_cents": 600_000,
        },
    ),
    DemoListing(
        "ST",
        None,
        PUBLISHED,
        _content(
            "BAföG online",
            "Ausbildungsförderung (BAföG)",
            "10501",
            3,
            3,
            "Antrag auf Ausbildungsförderung für Studierende und Schülerinnen und Schüler, "
            "mit Formularassistent, digitalen Nachweisen und Statusanzeige.",
            account="bundid",
            payment="",
            annual=38_000_000,
            connection=400_000,
            contact=("Tobias Krüger", "tobias.krueger@mb.sachsen-anhalt.demo.test"),
        ),
    ),
    DemoListing(
        "BW",
        "Komm.ONE",
        PUBLISHED,
        _content(
            "Führerschein: Ersterteilung der Fahrerlaubnis",
            "Fahrerlaubnis",
            "10601",
            9,
            3,
            "Antrag auf Ersterteilung einer Fahrerlaubnis bei der Fahrerlaubnisbehörde, mit "
            "Übernahme des Sehtests und des Erste-Hilfe-Nachweises.",
            transport="osci_dvdv",
            account="servicekonto_bundid",
            annual=25_000_000,
            connection=350_000,
            contact=("Sabine Maier", "sabine.maier@komm.one.demo.test"),
            leika=(1, 2),
        ),
    ),
    DemoListing(
        "ST",
        None,
        PUBLISHED,
        _content(
            "Gewerbeanmeldung",
            "Gewerbeanzeige",
            "10701",
            14,
            3,
            "Gewerbe anmelden, ummelden und abmelden mit dem Unternehmenskonto; die Anzeige "
            "geht im Standard XGewerbeanzeige an das Gewerbeamt und die beteiligten Stellen.",
            xoev="XGewerbeanzeige",
            annual=21_000_000,
            connection=300_000,
            contact=("Tobias Krüger", "tobias.krueger@mw.sachsen-anhalt.demo.test"),
            leika=(1, 2, 3),
        ),
    ),
    DemoListing(
        "MV",
        "DVZ M-V",
        PUBLISHED,
        _content(
            "Digitaler Bauantrag",
            "Baugenehmigung",
            "10801",
            2,
            3,
            "Bauantrag, Bauvoranfrage und Beteiligung der Fachbehörden digital: die "
            "Bauvorlagen gehen im Standard XBau an die untere Bauaufsichtsbehörde.",
            transport="osci_dvdv",
            xoev="XBau",
            annual=75_000_000,
            connection=1_200_000,
            contact=("Kai Petersen", "kai.petersen@wm.mv.demo.test"),
            leika=(1, 2),
        ),
    ),
    DemoListing(
        "HE",
        "ekom21",
        PUBLISHED,
        _content(
            "Kfz-Zulassung",
            "Fahrzeugzulassung",
            "10901",
            9,
            3,
            "Neuzulassung, Umschreibung und Außerbetriebsetzung von Fahrzeugen online, mit "
            "Online-Bezahlung und Zustellung der Plakettenträger.",
            transport="osci_dvdv",
            account="bundid",
            annual=33_000_000,
            connection=450_000,
            contact=("Murat Demir", "murat.demir@ekom21.demo.test"),
            leika=(1, 2, 3),
        ),
    ),
    DemoListing(
        "NI",
        None,
        PUBLISHED,
        _content(
            "Hundesteuer An- und Abmeldung",
            "Hundesteuer",
            "11001",
            12,
            2,
            "Hund bei der Gemeinde zur Hundesteuer an- oder abmelden; die Steuermarke wird "
            "per Post zugeschickt.",
            account="none",
            payment="",
            checklist="muss",
            annual=4_500_000,
            connection=80_000,
            contact=("Hauke Meyer", "hauke.meyer@mi.niedersachsen.demo.test"),
            leika=(1, 2),
        ),
    ),
    DemoListing(
        "SL",
        None,
        SUBMITTED,
        _content(
            "Parkausweis für Menschen mit Behinderung",
            "Parkerleichterung für Menschen mit Behinderung",
            "11101",
            9,
            3,
            "Antrag auf einen Parkausweis (blau oder orange) für Menschen mit Behinderung, "
            "mit Übernahme der Merkzeichen aus dem Schwerbehindertenausweis.",
            payment="",
            checklist="muss",
            annual=6_000_000,
            connection=90_000,
            contact=("Nicole Schmitt", "nicole.schmitt@saarland.demo.test"),
        ),
    ),
    DemoListing(
        "SH",
        None,
        WITHDRAWN,
        _content(
            "Fischereischein",
            "Fischereischein",
            "11201",
            5,
            3,
            "Antrag auf Erteilung und Verlängerung des Fischereischeins. Der Dienst wird "
            "zurückgezogen und durch eine gemeinsame Lösung für Jagd- und Fischereischeine "
            "ersetzt.",
            transport="osci_dvdv",
            annual=3_000_000,
            connection=60_000,
            contact=("Hauke Carstensen", "hauke.carstensen@melund.sh.demo.test"),
        ),
    ),
    DemoListing(
        "RP",
        None,
        REJECTED,
        _content(
            "Waffenbesitzkarte",
            "Waffenbesitzkarte",
            "11301",
            11,
            2,
            "Antrag auf Erteilung einer Waffenbesitzkarte bei der Waffenbehörde; die Daten "
            "gehen im Standard XWaffe an das Nationale Waffenregister.",
            transport="osci_dvdv",
            xoev="XWaffe",
            checklist="gaps",
            connection=150_000,
            contact=("Thomas Becker", "thomas.becker@mdi.rlp.demo.test"),
        ),
        reason=(
            "Die MUSS-Kriterien Barrierefreiheit und Muster-AVV sind noch nicht erfüllt, und "
            "die jährlichen Betriebskosten fehlen. Bitte ergänzen und erneut einreichen."
        ),
    ),
    DemoListing(
        "BE",
        "ITDZ Berlin",
        PUBLISHED,
        _content(
            "Anerkennung ausländischer Berufsqualifikationen",
            "Anerkennung ausländischer Berufsqualifikationen",
            "11401",
            1,
            3,
            "Antrag auf Anerkennung eines im Ausland erworbenen Berufsabschlusses bei der "
            "zuständigen Stelle, mehrsprachig und mit Upload übersetzter Nachweise.",
            account="servicekonto_bundid",
            annual=29_000_000,
            connection=380_000,
            contact=("Aylin Yıldız", "aylin.yildiz@senwgp.berlin.demo.test"),
            leika=(1, 2),
        ),
    ),
    DemoListing(
        "SN",
        None,
        DRAFT,
        _content(
            "Anmeldung der Eheschließung",
            "Eheschließung",
            "11501",
            6,
            2,
            "Die Eheschließung beim Standesamt anmelden und die nötigen Urkunden digital "
            "einreichen.",
            xoev="XPersonenstand",
            checklist="muss",
            contact=("Claudia Richter", "claudia.richter@smi.sachsen.demo.test"),
        ),
    ),
    DemoListing(
        "BY",
        "AKDB",
        PUBLISHED,
        _content(
            "Personenstandsurkunde",
            "Personenstandsurkunde",
            "11601",
            6,
            3,
            "Geburts-, Ehe- und Sterbeurkunden online beim Standesamt bestellen und bezahlen.",
            transport="osci_dvdv",
            xoev="XPersonenstand",
            account="servicekonto_bundid",
            annual=16_000_000,
            connection=250_000,
            contact=("Florian Huber", "florian.huber@akdb.demo.test"),
            leika=(1, 2, 3),
        ),
    ),
    DemoListing(
        "TH",
        None,
        PUBLISHED,
        _content(
            "Unterhaltsvorschuss",
            "Unterhaltsvorschuss",
            "11701",
            6,
            3,
            "Antrag auf Unterhaltsvorschuss für Alleinerziehende beim Jugendamt, mit "
            "Datenabruf statt Papiernachweisen, wo das Fachverfahren es erlaubt.",
            account="bundid",
            payment="",
            annual=27_000_000,
            connection=300_000,
            contact=("Anja Wagner", "anja.wagner@tmasgff.thueringen.demo.test"),
        ),
    ),
    DemoListing(
        "HH",
        None,
        PUBLISHED,
        _content(
            "Melderegisterauskunft",
            "Melderegisterauskunft",
            "11801",
            10,
            4,
            "Einfache Melderegisterauskunft für Privatpersonen und Unternehmen, automatisiert "
            "aus dem Melderegister beantwortet (XMeld).",
            transport="osci_dvdv",
            xoev="XMeld",
            account="none",
            annual=9_000_000,
            connection=120_000,
            contact=("Jonas Hansen", "jonas.hansen@hamburg.demo.test"),
        ),
    ),
    DemoListing(
        "SN",
        None,
        SUBMITTED,
        _content(
            "Antrag auf Projektförderung",
            "Forschungsförderung",
            "11901",
            7,
            2,
            "Förderanträge für Forschungs- und Innovationsvorhaben online stellen, mit "
            "Finanzierungsplan und Verwendungsnachweis.",
            payment="",
            checklist="muss",
            annual=14_000_000,
            connection=200_000,
            contact=("Claudia Richter", "claudia.richter@smwk.sachsen.demo.test"),
        ),
    ),
    DemoListing(
        "NI",
        None,
        PUBLISHED,
        _content(
            "Approbation als Ärztin oder Arzt",
            "Approbation Heilberufe",
            "12001",
            8,
            2,
            "Antrag auf Approbation nach bestandener ärztlicher Prüfung, mit digitalem "
            "Nachweis der Prüfungsergebnisse.",
            annual=11_000_000,
            connection=150_000,
            contact=("Hauke Meyer", "hauke.meyer@ms.niedersachsen.demo.test"),
        ),
    ),
    DemoListing(
        "BW",
        "Komm.ONE",
        PUBLISHED,
        _content(
            "Wasserrechtliche Erlaubnis",
            "Wasserrechtliche Erlaubnis",
            "12101",
            13,
            2,
            "Antrag auf eine wasserrechtliche Erlaubnis, etwa für eine Grundwasserentnahme "
            "oder eine Einleitung, mit Kartenauswahl des Standorts.",
            transport="osci_dvdv",
            annual=8_000_000,
            connection=140_000,
            contact=("Sabine Maier", "sabine.maier@um.bwl.demo.test"),
        ),
    ),
    DemoListing(
        "BB",
        "ZIT-BB",
        DRAFT,
        _content(
            "Jagdschein",
            "Jagdschein",
            "12201",
            5,
            1,
            "Erster Entwurf: Informationen zum Jagdschein und Antrag als Formular zum Ausdrucken.",
            checklist="gaps",
            contact=("Jana Beispiel", "jana.beispiel@mluk.brandenburg.demo.test"),
        ),
    ),
)


def demo_pdf(title: str, lines: list[str]) -> bytes:
    """A small valid one-page PDF (Helvetica, WinAnsi), written by hand with a correct xref."""

    def text(value: str) -> bytes:
        escaped = value.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        return b"(" + escaped.encode("cp1252") + b")"

    commands = [b"BT", b"/F1 16 Tf", b"72 770 Td", text(title) + b" Tj", b"/F1 11 Tf"]
    for line in lines:
        commands += [b"0 -20 Td", text(line) + b" Tj"]
    commands.append(b"ET")
    stream = b"\n".join(commands)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842]"
        b" /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
    ]
    pdf = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += str(number).encode() + b" 0 obj\n" + body + b"\nendobj\n"
    xref = len(pdf)
    pdf += b"xref\n0 " + str(len(objects) + 1).encode() + b"\n0000000000 65535 f \n"
    for offset in offsets:
        pdf += f"{offset:010d} 00000 n \n".encode()
    pdf += b"trailer\n<< /Size " + str(len(objects) + 1).encode() + b" /Root 1 0 R >>\n"
    pdf += b"startxref\n" + str(xref).encode() + b"\n%%EOF\n"
    return bytes(pdf)


AUFENTHALTSTITEL_PDF = (
    "Anbindungsleitfaden Aufenthaltstitel (Demo)",
    [
        "EfA-Onlinedienst Aufenthaltstitel - Land Brandenburg, Betrieb: ZIT-BB",
        "1. Zustellpunkt der Ausländerbehörde in FIT-Connect einrichten",
        "2. Schnittstelle XAusländer zum Fachverfahren freischalten",
        "3. Servicekonto bzw. BundID und ePayBL-Mandant konfigurieren",
        "Demodokument: Inhalte sind fiktiv.",
    ],
)


def _listings(report: DemoReport) -> None:
    """Create the demo listings that are missing, keyed by (provider Land, OZG-ID)."""
    existing = {
        (ags, ozg_id)
        for ags, ozg_id in db.session.execute(select(Listing.provider_land_ags, Listing.ozg_id))
    }
    ags_of = {land.short: land.ags for land in db.session.scalars(select(Land))}
    operators = {
        org.short_name: org.id
        for org in db.session.scalars(
            select(Organisation).where(
                Organisation.kind == OrganisationKind.IT_DIENSTLEISTER,
                Organisation.active.is_(True),
            )
        )
    }
    users = {user.email: user for user in db.session.scalars(select(User))}
    fitko, fitko_2 = users["fitko-1@demo.test"], users["fitko-2@demo.test"]
    for spec in DEMO_LISTINGS:
        if (ags_of[spec.land], spec.content["ozg_id"]) in existing:
            continue
        editor = users[f"editor-{spec.land.lower()}@demo.test"]
        # An operator an admin has deactivated in the meantime is left out, not an error.
        data = {**spec.content, "operator_id": operators.get(spec.operator)}
        listing = listing_service.create_listing(editor, data)
        report.listings_created += 1
        listing_id = listing.id
        if spec.content["ozg_id"] == "10255":
            title, lines = AUFENTHALTSTITEL_PDF
            listing_service.add_document(
                editor,
                listing_id,
                title=title,
                filename="anbindungsleitfaden-aufenthaltstitel.pdf",
                content=demo_pdf(title, lines),
            )
        if spec.plan == DRAFT:
            continue
        listing_service.submit_listing(editor, listing_id)
        if spec.plan == SUBMITTED:
            continue
        if spec.plan == REJECTED:
            listing_service.reject_listing(fitko, listing_id, spec.reason)
            continue
        listing_service.publish_listing(fitko, listing_id)
        if spec.plan == WITHDRAWN:
            listing_service.withdraw_listing(editor, listing_id)
        elif spec.plan in (PENDING_REVISION, TWO_VERSIONS):
            revision = dict(spec.revision)
            if "description" in revision:
                revision["description"] += _demo_note(data["ozg_id"])
            listing_service.update_listing(editor, listing_id, {**data, **revision})
            if spec.plan == TWO_VERSIONS:
                listing_service.accept_revision(fitko_2, listing_id)


# --- demo reuses and the Nachnutzungsallianz ---------------------------------------------------
#
# The seed's reuse story (docs/domain.md, "The seed's own cases"), made through the reuse and
# alliance services acting as the demo users (editors of both sides, fitko-1 checks, fitko-2
# countersigns), so that every row has its audit trail and its notices:
#
# * Aufenthaltstitel (BB): Brandenburg runs it itself; live in the Ausländerbehörden of
#   LK Elbe-Elster and LK Teltow-Fläming since 1 December 2020, Potsdam and further Kreise
#   followed, the rest are connecting or planned. A Nachnutzungsallianz of 12 Länder:
#   Brandenburg leads, 11 members in every stage (BY and HE live with a rollout, NI testing,
#   SN connecting, NW contracted, TH waiting for FITKO's countersignature, SH for FITKO's
#   check, MV with conditions waiting for the order, RP in coordination, SL interested,
#   HB on hold). BE, HH, ST and BW have no reuse of it. The cost key 2026 is adopted
#   unanimously; the one for 2027 is being voted on.
# * Verpflichtungserklärung (HE): Hessen live in Frankfurt am Main and Wiesbaden;
#   Brandenburg in talks (coordination, no conditions yet).
# * Einbürgerung (NW): published as NRW's nationwide reusable solution; Brandenburg has
#   stated its interest.
# * A few more reuses for variety, among them the side exits "declined" and "withdrawn".
#
# Dates: the services stamp "now" on every move and refuse dates in the future and dates
# before a contract's effective date. So that the story has a plausible history, the demo
# rewrites, right after each move of a row it has just created, that row's "when" columns
# (transition time, stage since, reuse created, conditions proposed, contract ordered /
# checked / countersigned, alliance request / decision, cost-key proposal / decision / votes)
# to the story's date. Demo only; audit rows are never touched (hash chain), they keep the
# real time of loading. The contract's ordered_at is backdated before the countersignature,
# because the service rightly refuses an effective date before the order.

CHECKED = "checked"  # ordered and checked by a first FITKO person; waits for the countersignature
_STEPS = (
    "interest",
    "coordination",
    "ordered",
    CHECKED,
    "contracted",
    "connecting",
    "testing",
    "live",
)

SHARE_RULE = "Anteil nach dem von der Allianz beschlossenen Kostenschlüssel"
AUFENTHALTSTITEL_SCOPE = (
    "Nutzung des Onlinedienstes Aufenthaltstitel durch alle Ausländerbehörden des Landes: "
    "Betrieb durch den ZIT-BB, Pflege und Weiterentwicklung, Second-Level-Support; die "
    "Anbindung an das Fachverfahren über XAusländer übernimmt das Land."
)


@dataclass(frozen=True)
class DemoRollout:
    status: str  # planned | connecting | live
    on: date
    codes: tuple[str, ...] | slice  # authority keys, or a slice of the Land's Ausländerbehörden


@dataclass(frozen=True)
class DemoReuse:
    listing: tuple[str, str]  # (provider Land short code, OZG-ID)
    adopter: str  # Land short code; the provider itself is its own use (Eigennutzung)
    stage: str  # how far along the main line: one of _STEPS
    dates: dict[str, date]  # per step reached; "effective" for the contract, "live" for own use
    expected_usage: int | None = None
    note: str = ""
    conditions: dict[str, Any] | None = None  # proposed by the provider in coordination
    onboarding: tuple[tuple[str, date], ...] = ()  # checklist items done: (key, on)
    rollout: tuple[DemoRollout, ...] = ()
    exit: tuple[str, date, str] | None = None  # side exit after `stage`: (action, on, comment)
    join: str = ""  # message asking to join the listing's alliance; "" = no request


@dataclass(frozen=True)
class DemoCostKey:
    listing: tuple[str, str]
    year: int
    key: str
    funding_model: str
    parameters: dict[str, Any]
    rationale: str
    proposed_on: date
    votes: tuple[tuple[str, str, str], ...] | None  # (Land, vote, comment); None: every member
    voted_on: date


def _share_rule(start: date, connection: int = 1_500_000) -> dict[str, Any]:
    return {
        "condition_model": "share_rule",
        "share_rule": SHARE_RULE,
        "connection_cost_cents": connection,
        "scope": AUFENTHALTSTITEL_SCOPE,
        "conditions_start": start,
    }


def _annual_fee(fee: int, start: date, scope: str = AUFENTHALTSTITEL_SCOPE, connection=1_500_000):
    return {
        "condition_model": "annual_fee",
        "annual_fee_cents": fee,
        "connection_cost_cents": connection,
        "scope": scope,
        "conditions_start": start,
    }


ALL_ITEMS = ("transport", "user_account", "payment", "xoev")


def _all_done(*dates: date) -> tuple[tuple[str, date], ...]:
    """Every checklist item done, on these dates in checklist order."""
    return tuple(zip(ALL_ITEMS, dates, strict=True))


TITEL = ("BB", "10255")
VERPFLICHTUNG = ("HE", "10256")
D = date  # short for the many dates below

# Brandenburg's 18 Ausländerbehörden: the 14 Landkreise and the 4 kreisfreie Städte.
BB_FIRST = ("12062", "12072")  # LK Elbe-Elster, LK Teltow-Fläming
BB_SPRING_2021 = ("12054000", "12052000", "12065", "12060", "12063", "12061", "12069")
BB_LATER = ("12053000", "12067", "12064", "12073")
BB_PLANNED = ("12051000", "12066", "12068", "12070", "12071")

DEMO_REUSES: tuple[DemoReuse, ...] = (
    DemoReuse(
        TITEL,
        "BB",
        "live",
        {"live": D(2020, 12, 1)},
        rollout=(
            DemoRollout(
                "planned", D(2020, 10, 1), BB_FIRST + BB_SPRING_2021 + BB_LATER + BB_PLANNED
            ),
            DemoRollout("connecting", D(2020, 11, 2), BB_FIRST),
            DemoRollout("live", D(2020, 12, 1), BB_FIRST),
            DemoRollout("connecting", D(2021, 1, 15), BB_SPRING_2021),
            DemoRollout("live", D(2021, 3, 31), BB_SPRING_2021),
            DemoRollout("connecting", D(2021, 9, 1), BB_LATER),
            DemoRollout("live", D(2022, 5, 2), BB_LATER[:2]),
        ),
    ),
    DemoReuse(
        TITEL,
        "BY",
        "live",
        {
            "interest": D(2020, 12, 10),
            "coordination": D(2021, 1, 11),
            "conditions": D(2021, 1, 25),
            "ordered": D(2021, 2, 15),
            "checked": D(2021, 2, 22),
            "contracted": D(2021, 2, 26),
            "effective": D(2021, 3, 1),
            "connecting": D(2021, 3, 8),
            "testing": D(2021, 7, 1),
            "live": D(2021, 9, 1),
        },
        expected_usage=95_000,
        note="Bayern möchte den Dienst in allen Ausländerbehörden einsetzen; Betrieb der "
        "Anbindung über die AKDB.",
        conditions=_share_rule(D(2021, 3, 1)),
        onboarding=_all_done(D(2021, 3, 22), D(2021, 4, 12), D(2021, 5, 3), D(2021, 6, 14)),
        rollout=(
            DemoRollout("planned", D(2021, 3, 15), slice(None)),
            DemoRollout("connecting", D(2021, 7, 1), slice(0, 30)),
            DemoRollout("live", D(2021, 9, 1), slice(0, 30)),
            DemoRollout("connecting", D(2022, 2, 1), slice(30, 48)),
            DemoRollout("live", D(2022, 6, 1), slice(30, 48)),
            DemoRollout("connecting", D(2026, 9, 1), slice(48, 68)),
        ),
        join="Bayern nutzt den Dienst nach und möchte in der Steuerungsgruppe mitwirken.",
    ),
    DemoReuse(
        TITEL,
        "HE",
        "live",
        {
            "interest": D(2021, 1, 20),
            "coordination": D(2021, 2, 10),
            "conditions": D(2021, 3, 1),
            "ordered": D(2021, 4, 12),
            "checked": D(2021, 4, 19),
            "contracted": D(2021, 4, 26),
            "effective": D(2021, 5, 1),
            "connecting": D(2021, 5, 10),
            "testing": D(2021, 10, 1),
            "live": D(2021, 12, 1),
        },
        expected_usage=48_000,
        note="Hessen plant die Einführung in allen Ausländerbehörden; Anbindung über ekom21.",
        conditions=_annual_fee(11_400_000, D(2021, 5, 1)),
        onboarding=_all_done(D(2021, 6, 1), D(2021, 6, 15), D(2021, 7, 1), D(2021, 9, 15)),
        rollout=(
            DemoRollout("planned", D(2021, 5, 15), slice(None)),
            DemoRollout("connecting", D(2021, 10, 1), slice(0, 12)),
            DemoRollout("live", D(2021, 12, 1), slice(0, 12)),
            DemoRollout("connecting", D(2025, 3, 3), slice(12, 18)),
        ),
        join="Hessen ist Partnerland im Themenfeld Ein- und Auswanderung und tritt der "
        "Allianz bei.",
    ),
    DemoReuse(
        TITEL,
        "NI",
        "testing",
        {
            "interest": D(2021, 6, 1),
            "coordination": D(2021, 9, 1),
            "conditions": D(2022, 6, 1),
            "ordered": D(2022, 9, 15),
            "checked": D(2022, 10, 4),
            "contracted": D(2022, 12, 12),
            "effective": D(2023, 1, 1),
            "connecting": D(2023, 1, 16),
            "testing": D(2026, 9, 1),
        },
        expected_usage=52_000,
        conditions=_share_rule(D(2023, 1, 1)),
        onboarding=_all_done(D(2023, 3, 1), D(2023, 6, 1), D(2024, 2, 1), D(2026, 8, 14)),
        rollout=(
            DemoRollout("planned", D(2026, 9, 15), slice(None)),
            DemoRollout("connecting", D(2026, 10, 15), slice(0, 6)),
        ),
        join="Niedersachsen testet den Dienst und möchte der Allianz beitreten.",
    ),
    DemoReuse(
        TITEL,
        "SN",
        "connecting",
        {
            "interest": D(2021, 9, 1),
            "coordination": D(2022, 1, 10),
            "conditions": D(2025, 3, 3),
            "ordered": D(2025, 5, 5),
            "checked": D(2025, 5, 12),
            "contracted": D(2025, 6, 16),
            "effective": D(2025, 7, 1),
            "connecting": D(2025, 9, 1),
        },
        expected_usage=24_000,
        conditions=_share_rule(D(2025, 7, 1)),
        onboarding=(("transport", D(2025, 10, 1)), ("user_account", D(2025, 11, 17))),
        rollout=(DemoRollout("planned", D(2025, 9, 1), slice(None)),),
        join="Sachsen schließt die Anbindung gerade ab.",
    ),
    DemoReuse(
        TITEL,
        "NW",
        "contracted",
        {
            "interest": D(2022, 3, 1),
            "coordination": D(2022, 5, 2),
            "conditions": D(2025, 9, 1),
            "ordered": D(2025, 10, 20),
            "checked": D(2025, 11, 3),
            "contracted": D(2025, 12, 15),
            "effective": D(2026, 1, 1),
        },
        expected_usage=180_000,
        conditions=_share_rule(D(2026, 1, 1)),
        join="Nordrhein-Westfalen hat den Vertrag geschlossen und tritt der Allianz bei.",
    ),
    DemoReuse(
        TITEL,
        "TH",
        CHECKED,
        {
            "interest": D(2023, 2, 1),
            "coordination": D(2023, 4, 3),
            "conditions": D(2026, 7, 1),
            "ordered": D(2026, 10, 5),
            "checked": D(2026, 10, 12),
            "planned": D(2027, 1, 1),
        },
        expected_usage=14_000,
        conditions=_share_rule(D(2027, 1, 1)),
        join="Thüringen hat bestellt; der Vertrag liegt bei der FITKO.",
    ),
    DemoReuse(
        TITEL,
        "SH",
        "ordered",
        {
            "interest": D(2024, 4, 2),
            "coordination": D(2024, 9, 2),
            "conditions": D(2026, 9, 14),
            "ordered": D(2026, 11, 16),
            "planned": D(2027, 1, 1),
        },
        expected_usage=21_000,
        conditions=_share_rule(D(2027, 1, 1)),
        join="Schleswig-Holstein hat verbindlich bestellt.",
    ),
    DemoReuse(
        TITEL,
        "MV",
        "coordination",
        {
            "interest": D(2025, 2, 3),
            "coordination": D(2025, 6, 2),
            "conditions": D(2026, 9, 1),
            "planned": D(2027, 4, 1),
        },
        expected_usage=9_000,
        conditions=_annual_fee(2_400_000, D(2027, 4, 1), connection=1_200_000),
        join="Mecklenburg-Vorpommern prüft die vorgeschlagenen Bedingungen.",
    ),
    DemoReuse(
        TITEL,
        "RP",
        "coordination",
        {"interest": D(2025, 3, 3), "coordination": D(2026, 3, 2), "planned": D(2027, 7, 1)},
        expected_usage=26_000,
        note="Rheinland-Pfalz möchte zunächst die kreisfreien Städte anbinden.",
        join="Rheinland-Pfalz ist in der Abstimmung und möchte der Allianz beitreten.",
    ),
    DemoReuse(
        TITEL,
        "SL",
        "interest",
        {"interest": D(2025, 6, 16), "planned": D(2027, 10, 1)},
        expected_usage=5_000,
        note="Das Saarland prüft die Nachnutzung für die Ausländerbehörden der Landkreise.",
        join="Das Saarland interessiert sich für die Nachnutzung.",
    ),
    DemoReuse(
        TITEL,
        "HB",
        "coordination",
        {"interest": D(2024, 1, 15), "coordination": D(2024, 5, 2), "planned": D(2025, 1, 1)},
        expected_usage=7_000,
        exit=(
            "hold",
            D(2025, 2, 3),
            "Zurückgestellt bis zur Umstellung des Fachverfahrens der Ausländerbehörde Bremen.",
        ),
        join="Bremen möchte den Dienst nach der Umstellung seines Fachverfahrens nachnutzen.",
    ),
    # Verpflichtungserklärung: Hessen live in two Kommunen, Brandenburg in talks.
    DemoReuse(
        ("HE", "10256"),
        "HE",
        "live",
        {"live": D(2021, 3, 1)},
        rollout=(
            DemoRollout("planned", D(2020, 11, 2), ("06412000", "06414000")),
            DemoRollout("connecting", D(2021, 1, 11), ("06412000", "06414000")),
            DemoRollout("live", D(2021, 3, 1), ("06412000", "06414000")),
        ),
    ),
    DemoReuse(
        ("HE", "10256"),
        "BB",
        "coordination",
        {"interest": D(2020, 11, 20), "coordination": D(2021, 1, 18), "planned": D(2027, 1, 1)},
        expected_usage=6_000,
        note="Brandenburg möchte den Dienst allen brandenburgischen Ausländerbehörden anbieten "
        "und hat Gespräche mit Hessen aufgenommen.",
    ),
    DemoReuse(
        ("NW", "10257"),
        "BB",
        "interest",
        {"interest": D(2026, 5, 4), "planned": D(2027, 7, 1)},
        expected_usage=30_000,
        note="Brandenburg will die bundesweit nachnutzbare Einbürgerung aus "
        "Nordrhein-Westfalen für seine Einbürgerungsbehörden übernehmen.",
    ),
    # Variety: a live reuse without rollout, a declined and a withdrawn one.
    DemoReuse(
        ("HB", "10301"),
        "SH",
        "live",
        {
            "interest": D(2022, 2, 1),
            "coordination": D(2022, 3, 1),
            "conditions": D(2022, 3, 15),
            "ordered": D(2022, 4, 4),
            "checked": D(2022, 4, 11),
            "contracted": D(2022, 4, 25),
            "effective": D(2022, 5, 1),
            "connecting": D(2022, 5, 9),
            "testing": D(2022, 8, 1),
            "live": D(2022, 10, 4),
        },
        expected_usage=12_000,
        conditions=_annual_fee(
            4_800_000,
            D(2022, 5, 1),
            scope="Nutzung von Elterngeld digital für alle Elterngeldstellen des Landes.",
            connection=700_000,
        ),
        onboarding=(("transport", D(2022, 6, 1)), ("user_account", D(2022, 7, 1))),
    ),
    DemoReuse(
        ("HB", "10301"),
        "NI",
        "coordination",
        {"interest": D(2023, 3, 1), "coordination": D(2023, 4, 3)},
        expected_usage=40_000,
        exit=(
            "decline",
            D(2023, 6, 1),
            "Die Plattform kann 2023 keine weiteren großen Länder aufnehmen; bitte 2025 erneut anfragen.",
        ),
    ),
    DemoReuse(
        ("MV", "10801"),
        "BB",
        "coordination",
        {"interest": D(2023, 9, 1), "coordination": D(2023, 10, 2)},
        expected_usage=15_000,
        exit=(
            "withdraw",
            D(2024, 2, 1),
            "Brandenburg führt ein eigenes Bauportal ein; die Nachnutzung entfällt.",
        ),
    ),
)

DEMO_COST_KEYS: tuple[DemoCostKey, ...] = (
    DemoCostKey(
        TITEL,
        2026,
        "koenigstein",
        "participants",
        {},
        "Die Steuerungsgruppe teilt die Betriebskosten 2026 nach dem Königsteiner Schlüssel "
        "unter den beteiligten Ländern auf.",
        D(2025, 10, 6),
        None,
        D(2025, 11, 10),
    ),
    DemoCostKey(
        TITEL,
        2027,
        "mixed",
        "participants",
        {"usage": 50, "koenigstein": 50},
        "Ab 2027 soll die tatsächliche Nutzung zur Hälfte einfließen, weil die Antragszahlen "
        "zwischen den Ländern stark schwanken.",
        D(2026, 11, 2),
        (
            ("BY", "approve", ""),
            ("HE", "approve", ""),
            ("NI", "approve", "Zustimmung; die Nutzungszahlen liefern wir quartalsweise."),
        ),
        D(2026, 11, 9),
    ),
    # An alliance of Hessen alone: its proposal is adopted at once. Under efa_2024 the
    # Bund and all 16 Länder carry half of the cost, so Brandenburg (still in talks, no
    # contract) already pays its part of the all-Länder pool.
    DemoCostKey(
        VERPFLICHTUNG,
        2026,
        "koenigstein",
        "efa_2024",
        {},
        "Finanzierung nach dem Beschluss 2023/35 des IT-Planungsrats: die Hälfte tragen die "
        "beteiligten Länder nach dem Königsteiner Schlüssel, je ein Viertel der Bund und alle "
        "16 Länder.",
        D(2025, 11, 3),
        None,
        D(2025, 11, 3),
    ),
)


def _day(value: date) -> date:
    """The story's date, but never in the future (the services refuse future dates)."""
    return min(value, utcnow().date())


def _at(value: date) -> datetime:
    return datetime.combine(_day(value), time(9, 0))


class _Story:
    """Acts out the demo reuses; caches listings, users and authority lists."""

    def __init__(self, report: DemoReport) -> None:
        self.report = report
        self.users = {user.email: user for user in db.session.scalars(select(User))}
        self.ags = {land.short: land.ags for land in db.session.scalars(select(Land))}
        self.fitko = self.users["fitko-1@demo.test"]
        self.fitko_2 = self.users["fitko-2@demo.test"]
        self._behoerden: dict[str, list[str]] = {}

    def editor(self, short: str) -> User:
        return self.users[f"editor-{short.lower()}@demo.test"]

    def listing(self, key: tuple[str, str]) -> Listing | None:
        listing = db.session.scalar(
            select(Listing).where(
                Listing.provider_land_ags == self.ags[key[0]], Listing.ozg_id == key[1]
            )
        )
        return (
            listing if listing is not None and listing.status == ListingStatus.PUBLISHED else None
        )

    def auslaenderbehoerden(self, land_ags: str) -> list[str]:
        """One authority per Landkreis; for a kreisfreie Stadt the Stadt itself (by AGS)."""
        if land_ags not in self._behoerden:
            kreise = db.session.execute(
                select(Authority.ags, Authority.type)
                .where(Authority.land_ags == land_ags, Authority.level == AuthorityLevel.KREIS)
                .order_by(Authority.ags)
            ).all()
            cities = set(
                db.session.scalars(
                    select(Authority.ags).where(
                        Authority.ags.in_([f"{ags}000" for ags, _type in kreise])
                    )
                )
            )
            self._behoerden[land_ags] = [
                f"{ags}000"
                if kind in ("Kreisfreie Stadt", "Stadtkreis") and f"{ags}000" in cities
                else ags
                for ags, kind in kreise
            ]
        return self._behoerden[land_ags]

    # -- one reuse

    def play(self, spec: DemoReuse) -> None:
        listing = self.listing(spec.listing)
        if listing is None:
            return  # unpublished since (an admin or editor changed the demo): left out
        adopter = self.editor(spec.adopter)
        if db.session.scalar(
            select(Reuse.id)
            .where(Reuse.listing_id == listing.id, Reuse.adopter_land_ags == adopter.land_ags)
            .limit(1)
        ):
            return
        if spec.adopter == spec.listing[0]:
            reuse = reuse_service.record_own_use(adopter, listing.id, _day(spec.dates["live"]))
            self._backdate(reuse, spec.dates["live"], created=True)
        else:
            reuse = self._main_line(spec, listing, adopter)
        self.report.reuses_created += 1
        for step in spec.rollout:
            codes = (
                self.auslaenderbehoerden(adopter.land_ags)[step.codes]
                if isinstance(step.codes, slice)
                else list(step.codes)
            )
            if step.status == "planned":
                reuse_service.add_rollout_authorities(adopter, reuse.id, codes, _day(step.on))
            else:
                reuse_service.update_rollout(adopter, reuse.id, codes, step.status, _day(step.on))
        db.session.commit()

    def _main_line(self, spec: DemoReuse, listing: Listing, adopter: User) -> Reuse:
        provider = self.editor(spec.listing[0])
        dates = spec.dates
        reached = _STEPS[: _STEPS.index(spec.stage) + 1]
        planned = dates.get("effective") or dates.get("planned")
        reuse = reuse_service.express_interest(
            adopter,
            listing.id,
            {"planned_start": planned, "expected_usage": spec.expected_usage, "note": spec.note},
        )
        reuse_id = reuse.id
        self._backdate(reuse, dates["interest"], created=True)
        if "coordination" in reached:
            reuse = reuse_service.transition(provider, reuse_id, "start_coordination")
            self._backdate(reuse, dates["coordination"])
            if spec.conditions is not None:
                reuse = reuse_service.propose_conditions(provider, reuse_id, spec.conditions)
                reuse.conditions_proposed_at = _at(dates["conditions"])
        if "ordered" in reached:
            reuse = reuse_service.transition(adopter, reuse_id, "order")
            self._backdate(reuse, dates["ordered"])
            reuse.contract.ordered_at = _at(dates["ordered"])
        if CHECKED in reached:
            contract = reuse_service.check_contract(
                self.fitko,
                reuse.contract.id,
                {
                    "eligibility_basis": "traeger",
                    "legal_basis": reuse_service.DEFAULT_LEGAL_BASIS,
                    "remarks": "Das Land ist Träger der FITKO; Inhouse-Fähigkeit gegeben.",
                },
            )
            contract.checked_at = _at(dates["checked"])
        if "contracted" in reached:
            contract = reuse_service.countersign_contract(
                self.fitko_2, reuse.contract.id, {"effective_date": _day(dates["effective"])}
            )
            contract.countersigned_at = _at(dates["contracted"])
            self._backdate(reuse, dates["contracted"])
        if "connecting" in reached:
            reuse = reuse_service.transition(adopter, reuse_id, "start_connecting")
            self._backdate(reuse, dates["connecting"])
            for key, on in spec.onboarding:
                reuse_service.update_onboarding_item(adopter, reuse_id, key, True, _day(on))
        if "testing" in reached:
            reuse = reuse_service.transition(adopter, reuse_id, "start_testing")
            self._backdate(reuse, dates["testing"])
        if "live" in reached:
            reuse = reuse_service.transition(adopter, reuse_id, "go_live")
            self._backdate(reuse, dates["live"])
        if spec.exit is not None:
            action, on, comment = spec.exit
            actor = provider if action == "decline" else adopter
            reuse = reuse_service.transition(actor, reuse_id, action, comment)
            self._backdate(reuse, on)
        return reuse

    @staticmethod
    def _backdate(reuse: Reuse, on: date, *, created: bool = False) -> None:
        """Demo only: date the reuse's latest transition (and its stage) to the story's date."""
        when = _at(on)
        latest = db.session.scalar(
            select(ReuseTransition)
            .where(ReuseTransition.reuse_id == reuse.id)
            .order_by(ReuseTransition.id.desc())
            .limit(1)
        )
        latest.occurred_at = when
        reuse.stage_since = when
        if created:
            reuse.created_at = when

    # -- the alliance

    def join(self, spec: DemoReuse) -> None:
        listing = self.listing(spec.listing)
        if listing is None:
            return
        member = self.editor(spec.adopter)
        alliance = db.session.scalar(select(Alliance).where(Alliance.listing_id == listing.id))
        if alliance is not None and db.session.scalar(
            select(AllianceMembership.id).where(
                AllianceMembership.alliance_id == alliance.id,
                AllianceMembership.land_ags == member.land_ags,
            )
        ):
            return
        alliance_service.request_join(member, listing.id, spec.join)
        membership = alliance_service.decide_join(
            self.editor(spec.listing[0]), listing.id, member.land_ags, True
        )
        # Asked with the interest, accepted two weeks later; the alliance (and its lead's
        # membership) dates from the first request.
        asked = spec.dates["interest"]
        membership.requested_at = _at(asked)
        membership.decided_at = _at(asked + timedelta(days=14))
        alliance = membership.alliance
        if alliance.created_at > _at(asked):
            alliance.created_at = _at(asked)
            for row in alliance.memberships:
                if row.is_lead:
                    row.requested_at = row.decided_at = _at(asked)
        self.report.alliance_members_added += 1
        db.session.commit()

    def cost_key(self, spec: DemoCostKey) -> None:
        listing = self.listing(spec.listing)
        if listing is None:
            return
        alliance = db.session.scalar(select(Alliance).where(Alliance.listing_id == listing.id))
        if alliance is not None and db.session.scalar(
            select(CostKeyDecision.id).where(
                CostKeyDecision.alliance_id == alliance.id, CostKeyDecision.year == spec.year
            )
        ):
            return
        lead = self.editor(spec.listing[0])
        decision = alliance_service.propose_cost_key(
            lead,
            listing.id,
            spec.year,
            spec.key,
            spec.funding_model,
            spec.parameters,
            spec.rationale,
        )
        decision_id = decision.id
        if spec.votes is None:  # every member approves
            others = sorted(
                db.session.scalars(
                    select(AllianceMembership.land_ags).where(
                        AllianceMembership.alliance_id == decision.alliance_id,
                        AllianceMembership.land_ags != lead.land_ags,
                        AllianceMembership.status == MembershipStatus.MEMBER,
                    )
                )
            )
            shorts = {ags: short for short, ags in self.ags.items()}
            votes = [(shorts[ags], "approve", "") for ags in others]
        else:
            votes = list(spec.votes)
        for short, choice, comment in votes:
            decision = alliance_service.vote(
                self.editor(short), listing.id, spec.year, choice, comment
            )
        decision = db.session.get(CostKeyDecision, decision_id)
        decision.proposed_at = _at(spec.proposed_on)
        for vote in decision.votes:
            vote.voted_at = _at(
                spec.proposed_on if vote.land_ags == lead.land_ags else spec.voted_on
            )
        if decision.decided_at is not None:
            decision.decided_at = _at(spec.voted_on)
        self.report.cost_key_decisions_created += 1
        db.session.commit()


def _reuses(report: DemoReport) -> None:
    """Create the demo reuses, alliance members and cost-key decisions that are missing."""
    story = _Story(report)
    for spec in DEMO_REUSES:
        story.play(spec)
    for spec in DEMO_REUSES:
        if spec.join:
            story.join(spec)
    for spec in DEMO_COST_KEYS:
        story.cost_key(spec)


# --- demo cost sharing ---------------------------------------------------------------------------
#
# Key data, cost plans and usage figures for the story's cost years, made through the services
# (the provider's editor keeps the plan, each Land's editor enters its own usage, the command
# line actor loads key data), so every row has its audit entry.
#
# Key data: the reference data ship the Königsteiner Schlüssel of 2015 and 2017 and the
# Einwohner of 2018 only, and a split refuses a year without key data rather than use another
# year's. So that the demo's cost years 2026 and 2027 compute, the demo loads them with the
# newest shipped values carried forward, and says so in its report. A real installation
# uploads the real figures of the year (Verwaltung → Schlüsseldaten).
#
# Cost plans (provider editors): Aufenthaltstitel 2025, 2026 and 2027 (the first item created
# is Aufenthaltstitel's, so item 1 of a fresh demo belongs to listing 1), and the
# Verpflichtungserklärung 2026, split under efa_2024 (see DEMO_COST_KEYS).
#
# Usage figures (each participating Land's editor, for its own Land): the Aufenthaltstitel's
# participants of 2025, 2026 and 2027. Usage is counted, never forecast: the service refuses a
# year that has not begun, so the figures of 2027 are entered by a demo loaded in 2027 or
# later (loading again then adds them). One participant lacks a figure on purpose in 2025
# (Sachsen, joined in July) and 2027 (Nordrhein-Westfalen): those years have no adopted key,
# the default key "usage" applies, and the split page shows the warning that the Land counts
# as 0. The figures of 2026 are there for the usage pages and the simulator (the key of 2026
# is the adopted Königsteiner Schlüssel).

DEMO_COST_YEARS = (2026, 2027)
CARRIED_KEYS = ("koenigstein", "population")


@dataclass(frozen=True)
class DemoPlan:
    listing: tuple[str, str]
    year: int
    items: tuple[tuple[str, int, str], ...]  # (cost type, cents, description)


def _titel_plan(year: int, factor: int, *, development: str) -> DemoPlan:
    """Aufenthaltstitel's plan of ``year``: 2026 amounts times ``factor`` per mille."""

    def cents(euro: int) -> int:
        return euro * factor // 1000 * 100

    return DemoPlan(
        TITEL,
        year,
        (
            ("infrastructure", cents(420_000), "Rechenzentrumsbetrieb und Hosting beim ZIT-BB"),
            ("development", cents(310_000), development),
            ("platform_fees", cents(85_000), "Entgelte für FIT-Connect, Servicekonto und ePayBL"),
            ("service_operation", cents(260_000), "Betrieb des Online-Dienstes und Support"),
            ("direct", cents(45_000), "Barrierefreiheitsprüfung und Penetrationstest"),
        ),
    )


DEMO_PLANS: tuple[DemoPlan, ...] = (
    _titel_plan(2026, 1000, development="Umsetzung der Änderungen aus dem Änderungsboard"),
    _titel_plan(2027, 1050, development="Anpassungen an die Novelle des Aufenthaltsgesetzes"),
    _titel_plan(2025, 950, development="Mehrsprachigkeit und Nachweis-Upload"),
    DemoPlan(
        VERPFLICHTUNG,
        2026,
        (
            ("infrastructure", 7_000_000, "Hosting bei ekom21"),
            ("development", 5_000_000, "Terminvereinbarung und Online-Bezahlung"),
            ("platform_fees", 1_000_000, "Entgelte für ePayBL"),
            ("service_operation", 4_000_000, "Betrieb des Online-Dienstes"),
            ("direct", 1_000_000, "Barrierefreiheitsprüfung"),
        ),
    ),
)


@dataclass(frozen=True)
class DemoUsage:
    listing: tuple[str, str]
    year: int
    cases: dict[str, int]  # Land short code -> applications in the year


DEMO_USAGE: tuple[DemoUsage, ...] = (
    # Sachsen (contract from July 2025) has no figure: counted as 0, with a warning.
    DemoUsage(TITEL, 2025, {"BB": 39_800, "BY": 84_100, "HE": 42_700, "NI": 0}),
    # Sachsen and Nordrhein-Westfalen are still connecting: no applications yet.
    DemoUsage(
        TITEL, 2026, {"BB": 41_250, "BY": 88_900, "HE": 44_300, "NI": 3_100, "SN": 0, "NW": 0}
    ),
    # Nordrhein-Westfalen has no figure: counted as 0, with a warning.
    DemoUsage(TITEL, 2027, {"BB": 42_000, "BY": 90_500, "HE": 45_100, "NI": 12_400, "SN": 2_300}),
)


def _plain(value) -> str:
    """A key value as the upload file writes it: no exponent, no trailing zeros."""
    return f"{value.normalize():f}"


def _key_data(report: DemoReport) -> None:
    """Load the key data of the demo's cost years that is missing, carried forward from the
    newest year before them (one upload per key and year, as the command line actor)."""
    shipped = cost_data.key_years()
    for key in CARRIED_KEYS:
        years = shipped.get(key, [])
        source = max((year for year in years if year < DEMO_COST_YEARS[0]), default=None)
        missing = [year for year in DEMO_COST_YEARS if year not in years]
        if source is None or not missing:
            continue
        values = cost_data.key_values(key, source)
        rows = "".join(f"{ags};{_plain(values[ags])}\r\n" for ags in sorted(values))
        for year in missing:
            cost_data.import_key_csv(SystemActor(), key, year, f"land;value\r\n{rows}".encode())
            report.key_data_loaded += 1
        report.notes.append(
            _(
                "Demo: %(key)s %(years)s aus den Werten von %(source)d fortgeschrieben; eine "
                "echte Installation lädt die Werte des Jahres hoch.",
                key=cost_data.key_label(key),
                years=", ".join(str(year) for year in missing),
                source=source,
            )
        )


def _costs(report: DemoReport) -> None:
    """Create the demo's key data, cost plans and usage figures that are missing."""
    _key_data(report)
    story = _Story(report)
    for plan in DEMO_PLANS:
        listing = story.listing(plan.listing)
        if listing is None or plan.year in cost_sharing.plan_years(listing.id):
            continue
        editor = story.editor(plan.listing[0])
        for cost_type, cents, description in plan.items:
            cost_sharing.add_plan_item(editor, listing.id, plan.year, cost_type, cents, description)
            report.cost_plan_items_created += 1
    this_year = utcnow().year
    for usage in DEMO_USAGE:
        listing = story.listing(usage.listing)
        if listing is None or usage.year > this_year:
            continue
        entered = set(
            db.session.scalars(
                select(UsageFigure.land_ags).where(
                    UsageFigure.listing_id == listing.id, UsageFigure.year == usage.year
                )
            )
        )
        for short, cases in usage.cases.items():
            editor = story.editor(short)
            # A Land that no longer takes part (changed in the demo since) is left out.
            if editor.land_ags in entered or not can(editor, Permission.RECORD_USAGE, listing):
                continue
            cost_data.record_usage(editor, listing.id, usage.year, cases)
            report.usage_figures_recorded += 1


# --- demo follows ------------------------------------------------------------------------
#
# Two demo users follow something, so that the follow box, the follows page and the
# notices can be tried out at once (users no test relies on for its own notices):
# a viewer of Baden-Württemberg follows the Aufenthaltstitel in the FIT-Store inbox, and a
# viewer of Thüringen follows the Land Brandenburg by e-mail.
DEMO_FOLLOWS: tuple[tuple[str, tuple[str, str] | None, str | None, bool, bool], ...] = (
    ("viewer-bw@demo.test", TITEL, None, True, False),
    ("viewer-th@demo.test", None, "BB", False, True),
)


def _follows(report: DemoReport) -> None:
    """Create the demo follows that are missing; one that exists (its channels perhaps
    changed since) is left alone."""
    from fitstore.services import follows as follow_service  # only the demo follows need it

    story = _Story(report)
    for email, listing_key, land_short, in_app, email_notice in DEMO_FOLLOWS:
        user = story.users.get(email)
        listing = story.listing(listing_key) if listing_key else None
        land_ags = story.ags.get(land_short) if land_short else None
        if user is None or (listing is None and land_ags is None):
            continue
        listing_id = listing.id if listing is not None else None
        if follow_service.get_follow(user, listing_id, land_ags) is None:
            follow_service.follow(
                user, listing_id=listing_id, land_ags=land_ags, in_app=in_app, email=email_notice
            )
