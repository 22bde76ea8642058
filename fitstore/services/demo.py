"""Demo organisations, users and EfA listings for trying fitstore out (never in production).

``load_demo`` is idempotent: organisations are keyed by short name, users by e-mail,
listings by (provider Land, OZG-ID); running it again creates nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from fitstore.extensions import db
from fitstore.models import Land, Listing, Organisation, OrganisationKind, Role, User
from fitstore.services import audit
from fitstore.services import listings as listing_service
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
        SUBMITTED,
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
        PUBLISHED,
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
