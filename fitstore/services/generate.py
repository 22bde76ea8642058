"""A synthetic national data set on top of the demo: ``fitstore generate``.

For benchmarks and for trying the app out at the size of a real federation: hundreds of
listings of all 16 Länder in all Themenfelder, reuses of every Land in every stage with a
plausible history, contracts signed by the demo's two FITKO users, onboarding checklists,
alliances with cost-key decisions, cost plans, usage figures and the rollout to the real
Kreise and Gemeinden of the reference data (more than a million rows at national scale).

How it works: the demo is loaded first (its users log in to the generated data). Then the
whole data set is planned in memory from ``random.Random(seed)`` and the as-of date
(never the wall clock), so the same seed and as-of date give the same rows, ids included
(ids continue after the highest id in each table). The rows go in with bulk inserts in
one transaction: SQLAlchemy Core on SQLite, ``COPY`` on PostgreSQL, followed by resetting
the id sequences and ``ANALYZE``. The rows obey every rule the services enforce (no stage
skipped, four eyes, dates not before the contract nor after the as-of date, authorities
live only once the reuse is live, ...), but they are written directly, not through the
services: going through them would cost hours at this size and write millions of audit
rows. One audit event records the generation itself; it also marks the database, so a
second run is refused.

Every generated history ends before the as-of date: the last moment is the as-of date's
midnight, and date fields are at most the day before it.
"""

from __future__ import annotations

import enum
import json
import random
import time as clock
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text

from fitstore.extensions import db
from fitstore.models import (
    Alliance,
    AllianceMembership,
    AuditEvent,
    Authority,
    AuthorityLevel,
    Contract,
    CostKeyDecision,
    CostKeyValue,
    CostKeyVote,
    CostPlanItem,
    Land,
    Listing,
    ListingVersion,
    OnboardingItem,
    Organisation,
    OrganisationKind,
    Reuse,
    ReuseTransition,
    Rollout,
    RolloutEvent,
    UsageFigure,
    User,
)
from fitstore.models.base import utcnow
from fitstore.services import audit, listings
from fitstore.services.reuses import DEFAULT_LEGAL_BASIS
from fitstore.services.system import SystemActor

#: The audit action of a generation; its presence marks a database as generated.
GENERATED_ACTION = "data.generated"
#: Nothing generated happens before this day.
HISTORY_START = date(2020, 1, 1)
PLAN_YEARS = (2025, 2026, 2027)
CHUNK_ROWS = 20_000


class GenerateRefused(Exception):
    """The database cannot take a generated data set (e.g. it already holds one)."""


@dataclass(frozen=True)
class Scale:
    name: str
    listings: int
    #: chance that a Land other than the provider has a reuse of a published listing
    #: (beyond the reuses that make sure every Land is in every stage)
    participation: float
    #: share of listings that are municipal services (rolled out to the Gemeinden);
    #: the others are Kreis services (one authority per Kreis)
    gemeinde_share: float
    #: rollout rows to aim at (the coverage of the Länder's authorities is scaled to it)
    rollout_target: int
    #: share of published listings with a Nachnutzungsallianz
    alliance_share: float
    #: share of published listings with cost plans for 2025 to 2027
    plan_share: float


SCALES = {
    "small": Scale("small", 60, 0.35, 0.5, 35_000, 0.5, 0.6),
    "national": Scale("national", 600, 0.7, 0.6, 1_500_000, 0.45, 0.6),
}


@dataclass
class GenerateReport:
    scale: str
    seed: int
    as_of: date
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


# --- the catalogue of plausible services --------------------------------------------------
#
# (title, OZG-Leistung, level, XÖV standard) per Themenfeld number: real kinds of
# administrative services; "gemeinde" ones are rolled out to the Gemeinden, "kreis" ones
# to the Kreise and kreisfreien Städte. Titles get variants so that several Länder can
# offer the same kind of service.

KREIS, GEMEINDE = "kreis", "gemeinde"

SERVICES: dict[int, tuple[tuple[str, str, str, str], ...]] = {
    1: (
        ("Schwerbehindertenausweis", "Feststellung der Behinderung", KREIS, ""),
        ("Blindengeld", "Blindenhilfe", KREIS, ""),
        ("Grundsicherung im Alter", "Grundsicherung im Alter und bei Erwerbsminderung", KREIS, ""),
        ("Ausnahmebewilligung Sonntagsarbeit", "Arbeitszeit Ausnahmebewilligung", KREIS, ""),
        ("Mitteilung der Schwangerschaft an die Aufsichtsbehörde", "Mutterschutz", KREIS, ""),
        ("Baustellenvorankündigung", "Arbeitsschutz Baustellen", KREIS, ""),
    ),
    2: (
        ("Wohngeld", "Wohngeld", KREIS, ""),
        ("Wohnberechtigungsschein", "Wohnberechtigungsschein", GEMEINDE, ""),
        ("Bauantrag", "Baugenehmigung", KREIS, "XBau"),
        ("Bauvorbescheid", "Bauvorbescheid", KREIS, "XBau"),
        ("Abgeschlossenheitsbescheinigung", "Abgeschlossenheitsbescheinigung", KREIS, "XBau"),
        ("Zweckentfremdungsgenehmigung", "Zweckentfremdung von Wohnraum", GEMEINDE, ""),
        ("Denkmalrechtliche Genehmigung", "Denkmalschutz", KREIS, ""),
        ("Hausnummernvergabe", "Hausnummer", GEMEINDE, ""),
    ),
    3: (
        ("BAföG", "Ausbildungsförderung (BAföG)", KREIS, ""),
        ("Aufstiegs-BAföG", "Aufstiegsfortbildungsförderung", KREIS, ""),
        ("Schülerbeförderung", "Schülerbeförderung", KREIS, ""),
        ("Anmeldung zur Grundschule", "Schulanmeldung", GEMEINDE, ""),
        ("Anerkennung ausländischer Schulabschlüsse", "Zeugnisanerkennung", KREIS, ""),
        ("Bildungsgutschein Volkshochschule", "Weiterbildungsförderung", GEMEINDE, ""),
    ),
    4: (
        ("Aufenthaltstitel Verlängerung", "Aufenthaltstitel", KREIS, "XAusländer"),
        ("Verpflichtungserklärung", "Verpflichtungserklärung", KREIS, "XAusländer"),
        ("Einbürgerung", "Einbürgerung", KREIS, "XAusländer"),
        ("Fiktionsbescheinigung", "Fiktionsbescheinigung", KREIS, "XAusländer"),
        ("Blaue Karte EU", "Aufenthaltserlaubnis zur Beschäftigung", KREIS, "XAusländer"),
        ("Niederlassungserlaubnis", "Niederlassungserlaubnis", KREIS, "XAusländer"),
        ("Beschäftigungserlaubnis", "Beschäftigungserlaubnis", KREIS, "XAusländer"),
    ),
    5: (
        ("Fischereischein", "Fischereischein", GEMEINDE, ""),
        ("Jagdschein", "Jagdschein", KREIS, ""),
        ("Ehrenamtskarte", "Ehrenamtskarte", KREIS, ""),
        ("Sammlungserlaubnis", "Sammlungserlaubnis", GEMEINDE, ""),
        ("Erlaubnis für ein Feuerwerk", "Feuerwerk Abbrennerlaubnis", GEMEINDE, ""),
        ("Sondernutzung für Vereinsfeste", "Sondernutzungserlaubnis", GEMEINDE, ""),
    ),
    6: (
        ("Elterngeld", "Elterngeld", KREIS, ""),
        ("Unterhaltsvorschuss", "Unterhaltsvorschuss", KREIS, ""),
        ("Kita-Platz Anmeldung", "Kinderbetreuung", GEMEINDE, ""),
        ("Geburtsurkunde", "Personenstandsurkunde", GEMEINDE, "XPersonenstand"),
        ("Anmeldung der Eheschließung", "Eheschließung", GEMEINDE, "XPersonenstand"),
        ("Namensänderung", "Namensänderung", GEMEINDE, "XPersonenstand"),
        ("Beistandschaft", "Beistandschaft", KREIS, ""),
        ("Erlaubnis zur Kindertagespflege", "Kindertagespflege", KREIS, ""),
    ),
    7: (
        ("Projektförderung", "Forschungsförderung", KREIS, ""),
        ("Innovationsgutschein", "Innovationsförderung", KREIS, ""),
        ("Digitalbonus", "Digitalisierungsförderung", KREIS, ""),
        ("Breitbandförderung", "Breitbandausbau", KREIS, ""),
        ("Meistergründungsprämie", "Existenzgründungsförderung", KREIS, ""),
    ),
    8: (
        ("Approbation", "Approbation Heilberufe", KREIS, ""),
        ("Heilpraktikererlaubnis", "Heilpraktikererlaubnis", KREIS, ""),
        ("Belehrung nach dem Infektionsschutzgesetz", "Infektionsschutzbelehrung", KREIS, ""),
        ("Anzeige eines Tätowierstudios", "Hygieneanzeige", KREIS, ""),
        ("Berufserlaubnis Pflegefachkraft", "Pflegeberufe Erlaubnis", KREIS, ""),
        ("Leichenpass", "Bestattung", GEMEINDE, ""),
    ),
    9: (
        ("Kfz-Zulassung", "Fahrzeugzulassung", KREIS, ""),
        ("Führerscheinumtausch", "Fahrerlaubnis", KREIS, ""),
        ("Anwohnerparkausweis", "Bewohnerparkausweis", GEMEINDE, ""),
        ("Parkausweis für Menschen mit Behinderung", "Parkerleichterung", KREIS, ""),
        ("Personenbeförderungsschein", "Fahrerlaubnis zur Fahrgastbeförderung", KREIS, ""),
        ("Halteverbotszone für den Umzug", "Verkehrsrechtliche Anordnung", GEMEINDE, ""),
        ("Großraum- und Schwertransport", "Ausnahmegenehmigung Schwertransport", KREIS, ""),
    ),
    10: (
        ("Meldebescheinigung", "Meldebescheinigung", GEMEINDE, "XMeld"),
        ("Melderegisterauskunft", "Melderegisterauskunft", GEMEINDE, "XMeld"),
        ("Wohnsitzanmeldung", "Meldewesen An- und Ummeldung", GEMEINDE, "XMeld"),
        ("Übermittlungssperre", "Auskunftssperre Melderegister", GEMEINDE, "XMeld"),
        ("Amtliche Beglaubigung", "Beglaubigung", GEMEINDE, ""),
        ("Verlustanzeige Personalausweis", "Personalausweis", GEMEINDE, ""),
    ),
    11: (
        ("Waffenbesitzkarte", "Waffenbesitzkarte", KREIS, "XWaffe"),
        ("Versammlungsanzeige", "Versammlung", KREIS, ""),
        ("Fundsache melden", "Fundsachen", GEMEINDE, ""),
        ("Ausnahme vom Lärmschutz", "Lärmschutz Ausnahmegenehmigung", GEMEINDE, ""),
        ("Bewachungserlaubnis", "Bewachungsgewerbe", KREIS, ""),
        ("Anzeige einer Ordnungswidrigkeit", "Ordnungswidrigkeiten", GEMEINDE, ""),
    ),
    12: (
        ("Hundesteuer Anmeldung", "Hundesteuer", GEMEINDE, ""),
        ("Zweitwohnungsteuer", "Zweitwohnungsteuer", GEMEINDE, ""),
        ("Vergnügungssteuer", "Vergnügungssteuer", GEMEINDE, ""),
        ("Grundsteuer Erlass", "Grundsteuer", GEMEINDE, ""),
        ("Übernachtungsteuer", "Beherbergungsabgabe", GEMEINDE, ""),
        ("Gewerbesteuer Vorauszahlung", "Gewerbesteuer", GEMEINDE, ""),
    ),
    13: (
        ("Wasserrechtliche Erlaubnis", "Wasserrechtliche Erlaubnis", KREIS, ""),
        ("Baumfällgenehmigung", "Baumschutz", GEMEINDE, ""),
        ("Sperrmüll-Anmeldung", "Abfallentsorgung", KREIS, ""),
        ("Immissionsschutzrechtliche Genehmigung", "Immissionsschutz", KREIS, ""),
        ("Anzeige eines Heizöltanks", "Anlagen wassergefährdender Stoffe", KREIS, ""),
        ("Brunnenanzeige", "Grundwasserbenutzung", KREIS, ""),
    ),
    14: (
        ("Gewerbeanmeldung", "Gewerbeanzeige", GEMEINDE, "XGewerbeanzeige"),
        ("Gewerbeummeldung", "Gewerbeanzeige", GEMEINDE, "XGewerbeanzeige"),
        ("Gaststättenerlaubnis", "Gaststättenerlaubnis", GEMEINDE, ""),
        ("Reisegewerbekarte", "Reisegewerbe", GEMEINDE, ""),
        ("Maklererlaubnis", "Erlaubnis nach § 34c GewO", KREIS, ""),
        ("Marktzulassung", "Wochenmarkt", GEMEINDE, ""),
    ),
}
TITLE_VARIANTS = (
    "",
    " online",
    " digital",
    " – Online-Antrag",
    " – Änderungsmitteilung",
    " – Erstantrag",
    " – Verlängerung",
)
FIRST_NAMES = (
    "Anna", "Jonas", "Lea", "Felix", "Marie", "Paul", "Sophie", "Lukas", "Hannah", "Jan",
    "Laura", "Tim", "Katharina", "Stefan", "Julia", "Matthias", "Sandra", "Andreas",
)  # fmt: skip
LAST_NAMES = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
    "Schulz", "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Neumann", "Schwarz",
)  # fmt: skip
COST_ITEMS = (
    ("infrastructure", "Rechenzentrumsbetrieb und Hosting"),
    ("development", "Fachliche Weiterentwicklung nach dem Änderungsboard"),
    ("platform_fees", "Entgelte für FIT-Connect, Nutzerkonto und Bezahldienst"),
    ("service_operation", "Betrieb des Online-Dienstes und Support"),
    ("direct", "Barrierefreiheitsprüfung und Penetrationstest"),
)
HOLD_REASONS = (
    "Zurückgestellt bis zur Umstellung des Fachverfahrens.",
    "Haushaltssperre; Wiederaufnahme im nächsten Haushaltsjahr.",
    "Zurückgestellt, bis die Anbindung an das Nutzerkonto steht.",
)
EXIT_COMMENTS = {
    "declined": "Die Plattform kann derzeit keine weiteren Länder aufnehmen.",
    "withdrawn": "Das Land führt eine eigene Lösung ein; die Nachnutzung entfällt.",
    "terminated": "Gekündigt: Wechsel auf eine landeseigene Plattform.",
}

# --- stages ----------------------------------------------------------------------------

MAIN = ("interest", "coordination", "ordered", "contracted", "connecting", "testing", "live")
CONTRACTED = ("contracted", "connecting", "testing", "live")
#: Final stages of a generated reuse and their weights.
STAGE_WEIGHTS = (
    ("interest", 8),
    ("coordination", 8),
    ("ordered", 4),
    ("contracted", 7),
    ("connecting", 9),
    ("testing", 6),
    ("live", 40),
    ("declined", 3),
    ("withdrawn", 4),
    ("on_hold", 4),
    ("terminated", 3),
)
ALL_STAGES = tuple(stage for stage, _weight in STAGE_WEIGHTS)
#: Days between one stage and the next (from the earlier stage to this one).
GAP_DAYS = {
    "coordination": (7, 120),
    "ordered": (14, 240),
    "contracted": (7, 60),
    "connecting": (3, 45),
    "testing": (30, 240),
    "live": (14, 120),
    "declined": (14, 150),
    "withdrawn": (14, 300),
    "on_hold": (14, 300),
    "resume": (30, 200),
    "terminated": (60, 900),
}
#: How much of a Land's authorities a reuse reaches, by how far it got (scaled later).
COVERAGE = {"contracted": 0.2, "connecting": 0.45, "testing": 0.6, "live": 0.95}


# --- writing rows in bulk ------------------------------------------------------------------

#: Insert order: parents before children (PostgreSQL checks foreign keys row by row).
TABLES = (
    Listing,
    ListingVersion,
    Reuse,
    ReuseTransition,
    Contract,
    OnboardingItem,
    Rollout,
    RolloutEvent,
    Alliance,
    AllianceMembership,
    CostKeyDecision,
    CostKeyVote,
    CostPlanItem,
    UsageFigure,
)


def _plain(value: Any) -> Any:
    # psycopg writes an Enum by its name; the columns hold the values.
    return value.value if isinstance(value, enum.Enum) else value


class _Writer:
    """Buffers rows per table and writes them in chunks: SQLAlchemy Core executemany on
    SQLite, COPY on PostgreSQL. Ids are assigned here, continuing after each table's
    highest id."""

    def __init__(self, chunk: int = CHUNK_ROWS) -> None:
        self.connection = db.session.connection()
        self.postgres = self.connection.dialect.name == "postgresql"
        self.chunk = chunk
        self.tables = [model.__table__ for model in TABLES]
        self.columns = {
            table.name: [column.name for column in table.columns] for table in self.tables
        }
        self.buffers: dict[str, list[dict[str, Any]]] = {table.name: [] for table in self.tables}
        self.counts: dict[str, int] = dict.fromkeys(self.buffers, 0)
        self.next_ids = {
            table.name: (self.connection.scalar(select(func.max(table.c.id))) or 0) + 1
            for table in self.tables
        }
        self.pending = 0
        self.statements: dict[str, tuple[str, list[str], list]] = {}

    def new_id(self, table: str) -> int:
        value = self.next_ids[table]
        self.next_ids[table] = value + 1
        return value

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.buffers[table].append(row)
        self.pending += 1

    def maybe_flush(self) -> None:
        """Write the buffers once they are big enough; called between whole objects (a
        reuse with all its rows), so a child row never goes in before its parent."""
        if self.pending >= self.chunk:
            self.flush()

    def flush(self) -> None:
        for table in self.tables:
            rows = self.buffers[table.name]
            if not rows:
                continue
            if self.postgres:
                self._copy(table.name, rows)
            else:
                self._insert(table, rows)
            self.counts[table.name] += len(rows)
            self.buffers[table.name] = []
        self.pending = 0

    def _insert(self, table, rows: list[dict[str, Any]]) -> None:
        """One executemany of plain tuples. The values go through the columns' own bind
        processors, so they are stored exactly as the ORM stores them (e.g. SQLite's
        datetime text); SQLAlchemy's per-row parameter handling of ``insert(table)``
        would cost three times as much."""
        dialect = self.connection.dialect
        if table.name not in self.statements:
            columns = list(table.columns)
            self.statements[table.name] = (
                str(insert(table).compile(dialect=dialect)),
                [column.name for column in columns],
                [column.type.dialect_impl(dialect).bind_processor(dialect) for column in columns],
            )
        statement, names, processors = self.statements[table.name]
        values = [
            tuple(
                row[name] if process is None or row[name] is None else process(row[name])
                for name, process in zip(names, processors, strict=True)
            )
            for row in rows
        ]
        self.connection.exec_driver_sql(statement, values)

    def _copy(self, name: str, rows: list[dict[str, Any]]) -> None:
        columns = self.columns[name]
        quoted = ", ".join(f'"{column}"' for column in columns)
        cursor = self.connection.connection.dbapi_connection.cursor()
        with cursor.copy(f"COPY {name} ({quoted}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([_plain(row[column]) for column in columns])

    def finish(self) -> None:
        self.flush()
        if self.postgres:
            # Inserts with explicit ids leave the sequences behind: later inserts by the
            # app would collide.
            for table in self.tables:
                self.connection.execute(
                    # The table names are the models' own, never input.
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'),"  # noqa: S608
                        f" (SELECT max(id) FROM {table.name}))"
                    )
                )


# --- planning ------------------------------------------------------------------------------


@dataclass
class _Listing:
    id: int
    title: str
    provider: str
    level: str
    status: str
    published_at: datetime | None
    connection_cost: int
    mandatory_items: dict[str, bool]


@dataclass
class _Step:
    source: str | None
    target: str
    actor_id: int | None
    at: datetime
    comment: str = ""


@dataclass
class _Reuse:
    id: int
    listing: _Listing
    land: str
    own_use: bool
    steps: list[_Step]
    resume_stage: str | None = None
    #: rollout plan, filled once the coverage is scaled
    authorities: int = 0
    coverage: float = 0.0

    @property
    def stage(self) -> str:
        return self.steps[-1].target

    def reached(self, stage: str) -> _Step | None:
        """The first step into ``stage``, if the reuse ever got there."""
        return next((step for step in self.steps if step.target == stage), None)

    @property
    def furthest(self) -> str:
        """The furthest main-line stage the reuse reached."""
        reached = [step.target for step in self.steps if step.target in MAIN]
        return max(reached, key=MAIN.index)

    @property
    def end(self) -> datetime | None:
        """When the reuse stopped moving on: on hold or closed (None: still going)."""
        if self.stage in ("on_hold", "terminated", "declined", "withdrawn"):
            return self.steps[-1].at
        return None


class _Generator:
    def __init__(self, scale: Scale, seed: int, as_of: date, progress: Callable[[str], None]):
        self.scale = scale
        # Reproducible synthetic data, not secrets: a seeded generator is the point.
        self.rng = random.Random(seed)  # noqa: S311
        self.seed = seed
        self.as_of = as_of
        #: the end of generated history: the as-of date's midnight
        self.limit = datetime.combine(as_of, time.min)
        self.last_day = as_of - timedelta(days=1)
        self.progress = progress
        self._load_reference()

    # -- reference data and demo users

    def _load_reference(self) -> None:
        session = db.session
        self.lands = {land.ags: land for land in session.scalars(select(Land).order_by(Land.ags))}
        self.land_codes = sorted(self.lands)
        koenigstein = {
            ags: float(value)
            for ags, value in session.execute(
                select(CostKeyValue.land_ags, CostKeyValue.value).where(
                    CostKeyValue.key == "koenigstein",
                    CostKeyValue.year
                    == select(func.max(CostKeyValue.year))
                    .where(CostKeyValue.key == "koenigstein", CostKeyValue.year <= self.as_of.year)
                    .scalar_subquery(),
                )
            )
        }
        self.weights = [koenigstein.get(ags, 1.0) for ags in self.land_codes]
        self.key_years: dict[str, set[int]] = defaultdict(set)
        for key, year in session.execute(select(CostKeyValue.key, CostKeyValue.year).distinct()):
            self.key_years[key].add(year)
        users = {
            user.email: user.id
            for user in session.scalars(select(User).where(User.email.like("%@demo.test")))
        }
        missing = [
            email
            for email in ("fitko-1@demo.test", "fitko-2@demo.test")
            + tuple(f"editor-{land.short.lower()}@demo.test" for land in self.lands.values())
            if email not in users
        ]
        if missing:
            raise GenerateRefused(
                "The demo users are missing (deleted or renamed?): " + ", ".join(missing)
            )
        self.fitko = (users["fitko-1@demo.test"], users["fitko-2@demo.test"])
        self.editors = {
            ags: users[f"editor-{land.short.lower()}@demo.test"] for ags, land in self.lands.items()
        }
        self.operators: dict[str, list[int]] = defaultdict(list)
        for org_id, land_ags in session.execute(
            select(Organisation.id, Organisation.land_ags)
            .where(
                Organisation.kind == OrganisationKind.IT_DIENSTLEISTER,
                Organisation.active.is_(True),
            )
            .order_by(Organisation.id)
        ):
            self.operators[land_ags].append(org_id)
        # Authorities that can go live with a service: the Kreise, and the Gemeinden that
        # have a municipal administration (not the unpopulated gemeindefreie Gebiete).
        self.authorities: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
        for authority_id, level, kind, kreis, land_ags in session.execute(
            select(
                Authority.id,
                Authority.level,
                Authority.type,
                Authority.kreis_ags,
                Authority.land_ags,
            ).order_by(Authority.ags)
        ):
            if level == AuthorityLevel.GEMEINDE and kind == "Gemeindefreies Gebiet":
                continue
            self.authorities[(land_ags, str(level))].append((authority_id, kreis))

    # -- small helpers

    def _between(self, start: datetime, end: datetime) -> datetime:
        """A moment (whole minutes) in [start, end]."""
        minutes = max(0, int((end - start).total_seconds() // 60))
        return start.replace(second=0, microsecond=0) + timedelta(
            minutes=self.rng.randint(0, minutes)
        )

    def _day_between(self, start: date, end: date) -> date:
        return start + timedelta(days=self.rng.randint(0, max(0, (end - start).days)))

    def _at_work(self, day: date) -> datetime:
        """A moment in office hours of ``day``."""
        return datetime.combine(day, time(self.rng.randint(8, 16), self.rng.randint(0, 59)))

    def _provider(self) -> str:
        return self.rng.choices(self.land_codes, weights=self.weights)[0]

    # -- listings

    def listings(self, writer: _Writer) -> list[_Listing]:
        count = self.scale.listings
        statuses = (
            ["withdrawn"] * max(2, count // 50)
            + ["submitted"] * max(2, count // 60)
            + ["rejected"] * max(1, count // 100)
            + ["draft"] * max(2, count // 60)
        )
        statuses += ["published"] * (count - len(statuses))
        self.rng.shuffle(statuses)
        criteria = listings.criteria()
        seen_titles: set[str] = set()
        made = []
        themenfelder = sorted(SERVICES)
        for number, status in enumerate(statuses):
            # Every Themenfeld in turn, so that each has listings even at small scale.
            themenfeld = themenfelder[number % len(themenfelder)]
            wanted = GEMEINDE if self.rng.random() < self.scale.gemeinde_share else KREIS
            choices = [s for s in SERVICES[themenfeld] if s[2] == wanted] or SERVICES[themenfeld]
            base, ozg_name, level, xoev = self.rng.choice(choices)
            provider = self._provider()
            land = self.lands[provider]
            title = base + self.rng.choice(TITLE_VARIANTS)
            if title in seen_titles:
                title = f"{title} ({land.name})"
            if title in seen_titles:
                title = f"{title} {number + 1}"
            seen_titles.add(title)
            ozg_id = str(30000 + number)
            user_account = self.rng.choice(
                ("servicekonto_bundid", "bundid", "servicekonto", "none")
            )
            payment = self.rng.choice(("ePayBL", "ePayBL", "pmPayment", "", ""))
            transport = "fit_connect" if self.rng.random() < 0.7 else "osci_dvdv"
            operators = self.operators.get(provider, [])
            first, last = self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)
            complete = status == "published" and self.rng.random() < 0.7
            data = {
                "title": title,
                "ozg_name": ozg_name,
                "ozg_id": ozg_id,
                "leika_keys": [
                    f"99{ozg_id}{key:07d}" for key in range(1, self.rng.randint(1, 3) + 1)
                ],
                "themenfeld_number": themenfeld,
                "reifegrad": self.rng.choices((1, 2, 3, 4), weights=(5, 20, 60, 15))[0],
                "operator_id": operators[0] if operators and self.rng.random() < 0.6 else None,
                "description": (
                    f"{ozg_name}: Online-Antrag mit Formularassistent, Upload der Nachweise "
                    f"und Bescheid ins Postfach des Nutzerkontos. Bereitgestellt von "
                    f"{land.name} für die "
                    + ("Gemeinden" if level == GEMEINDE else "Kreise und kreisfreien Städte")
                    + " aller Länder.\n\n_Synthetische Testdaten: Leistung, Kosten und "
                    "Kontakt sind fiktiv._"
                ),
                "transport": transport,
                "xoev_standard": xoev,
                "user_account": user_account,
                "payment": payment,
                "requirements_note": (
                    "Zustellpunkt in FIT-Connect erforderlich."
                    if transport == "fit_connect"
                    else "DVDV-Eintrag der Behörde erforderlich (OSCI-Transport)."
                ),
                "checklist": {
                    criterion.key: complete or criterion.level == "MUSS" for criterion in criteria
                },
                "annual_cost_cents": self.rng.randint(20, 1500) * 100_000,
                "connection_cost_cents": self.rng.randint(5, 200) * 10_000,
                "contact_name": f"{first} {last}",
                "contact_email": (
                    f"{first.lower()}.{_ascii(last)}@ozg.{land.short.lower()}.beispiel.test"
                ),
            }
            values = listings.validate_content(data)
            # The listing service's own text and search columns, on an object never added
            # to the session.
            listing = Listing(provider_land_ags=provider)
            listings._apply(listing, values)
            created = self._between(
                datetime.combine(HISTORY_START, time(8)), self.limit - timedelta(days=120)
            )
            submitted = published = withdrawn = None
            if status != "draft":
                submitted = created + timedelta(days=self.rng.randint(2, 60), minutes=5)
            if status in ("published", "withdrawn"):
                published = submitted + timedelta(days=self.rng.randint(2, 30), minutes=5)
            if status == "withdrawn":
                withdrawn = self._between(published + timedelta(days=1), self.limit)
            listing_id = writer.new_id("listing")
            row = {
                column: _plain(getattr(listing, column))
                for column in (*listings.CONTENT_FIELDS, "search_document", "search_stems")
            }
            row.update(
                id=listing_id,
                status="draft" if status == "rejected" else status,
                lock_version=1,
                provider_land_ags=provider,
                created_by_id=self.editors[provider],
                created_at=created,
                updated_at=withdrawn or published or submitted or created,
                submitted_at=submitted,
                published_at=published,
                withdrawn_at=withdrawn,
                rejection_reason=(
                    "Die MUSS-Kriterien sind noch nicht vollständig erfüllt; bitte ergänzen."
                    if status == "rejected"
                    else None
                ),
                published_version=1 if published else 0,
            )
            writer.add("listing", row)
            if published:
                content = {name: _plain(getattr(listing, name)) for name in listings.CONTENT_FIELDS}
                writer.add(
                    "listing_version",
                    {
                        "id": writer.new_id("listing_version"),
                        "listing_id": listing_id,
                        "number": 1,
                        "content": listings._snapshot(content),
                        "published_at": published,
                        "published_by_id": self.rng.choice(self.fitko),
                    },
                )
            made.append(
                _Listing(
                    listing_id,
                    title,
                    provider,
                    level,
                    status,
                    published,
                    values["connection_cost_cents"],
                    {
                        "transport": True,
                        "user_account": user_account != "none",
                        "payment": bool(payment),
                        "xoev": bool(xoev),
                    },
                )
            )
            writer.maybe_flush()
        return made

    # -- reuse histories

    def _path(self, final: str) -> tuple[list[str], str | None]:
        """The stages a reuse goes through to end in ``final`` (and its resume stage)."""
        if final in MAIN:
            path = list(MAIN[: MAIN.index(final) + 1])
            resume = None
        elif final == "declined":
            path, resume = [*MAIN[:2], "declined"], None
        elif final == "withdrawn":
            path, resume = [*MAIN[: self.rng.randint(1, 3)], "withdrawn"], None
        elif final == "on_hold":
            resume = self.rng.choice(MAIN[:6])
            path = [*MAIN[: MAIN.index(resume) + 1], "on_hold"]
        else:  # terminated
            last = self.rng.choice(("contracted", "connecting", "testing", "live", "live", "live"))
            path, resume = [*MAIN[: MAIN.index(last) + 1], "terminated"], None
        # Now and then a reuse was on hold on its way and resumed where it left.
        if self.rng.random() < 0.08:
            candidates = [
                index
                for index, stage in enumerate(path[:-1])
                if stage in MAIN[:6] and path[index + 1] != "on_hold"
            ]
            if candidates:
                index = self.rng.choice(candidates)
                path[index + 1 : index + 1] = ["on_hold", path[index]]
        return path, resume

    def _times(self, path: list[str], earliest: datetime) -> list[datetime] | None:
        """Increasing moments for the steps of ``path``, after ``earliest`` and before
        the as-of date; None when there is no room."""
        gaps = [0.0]
        previous = path[0]
        for stage in path[1:]:
            kind = "resume" if previous == "on_hold" and stage in MAIN else stage
            low, high = GAP_DAYS[kind]
            gaps.append(self.rng.uniform(low, high))
            previous = stage
        window = (self.limit - earliest).total_seconds() / 86400 - 1
        if window < len(path):
            return None
        total = sum(gaps)
        if total < window:
            start = self.rng.uniform(0, window - total)
        else:
            start = self.rng.uniform(0, window * 0.1)
            factor = (window - start) / total
            gaps = [gap * factor for gap in gaps]
        moments, offset = [], start
        for gap in gaps:
            offset += gap
            moment = earliest + timedelta(minutes=int(offset * 1440))
            if moments and moment <= moments[-1]:
                moment = moments[-1] + timedelta(minutes=1)
            moments.append(moment)
        return moments if moments[-1] < self.limit else None

    def _steps(self, listing: _Listing, land: str, path: list[str], moments: list[datetime]):
        adopter, provider = self.editors[land], self.editors[listing.provider]
        checker = self.rng.choice(self.fitko)
        countersigner = self.fitko[1] if checker == self.fitko[0] else self.fitko[0]
        steps: list[_Step] = []
        source = None
        hold_actor = None
        for stage, moment in zip(path, moments, strict=True):
            comment = ""
            if source == "on_hold":
                actor = hold_actor  # resumed by whoever put it on hold
            elif stage == "interest":
                actor = adopter
            elif stage in ("coordination", "declined"):
                actor = provider
            elif stage == "contracted" and source == "ordered":
                actor = countersigner
            elif stage == "on_hold":
                hold_actor = adopter if self.rng.random() < 0.7 else self.fitko[0]
                actor = hold_actor
                comment = self.rng.choice(HOLD_REASONS)
            else:
                actor = adopter
            if stage in EXIT_COMMENTS:
                comment = EXIT_COMMENTS[stage]
                if stage == "terminated" and self.rng.random() < 0.3:
                    actor = self.fitko[0]
            steps.append(_Step(source, stage, actor, moment, comment))
            source = stage
        return steps, (checker, countersigner)

    def plan_reuses(self, made: list[_Listing], writer: _Writer) -> list[tuple[_Reuse, tuple]]:
        """Decide every reuse: who, which listing, which history. Every Land gets every
        stage at least once (its first listings take them in a shuffled order)."""
        rng = self.rng
        stages, weights = zip(*STAGE_WEIGHTS, strict=True)
        forced = {ags: rng.sample(ALL_STAGES, len(ALL_STAGES)) for ags in self.land_codes}
        planned: list[tuple[_Reuse, tuple]] = []
        for listing in made:
            if listing.status != "published":
                continue
            published = listing.published_at
            # The provider's own use (Eigennutzung), often since before the listing.
            if rng.random() < 0.85:
                since = max(HISTORY_START, published.date() - timedelta(days=rng.randint(-60, 365)))
                since = min(since, self.last_day)
                step = _Step(
                    None,
                    "live",
                    self.editors[listing.provider],
                    datetime.combine(since, time.min),
                    f"Eigennutzung durch das bereitstellende Land seit {since:%d.%m.%Y}",
                )
                reuse = _Reuse(writer.new_id("reuse"), listing, listing.provider, True, [step])
                planned.append((reuse, (None, None)))
            for land in self.land_codes:
                if land == listing.provider:
                    continue
                if forced[land]:
                    final = forced[land].pop()
                elif rng.random() < self.scale.participation:
                    final = rng.choices(stages, weights=weights)[0]
                else:
                    continue
                earliest = published + timedelta(days=1)
                while True:
                    path, resume = self._path(final)
                    moments = self._times(path, earliest)
                    if moments is None:
                        if earliest == published + timedelta(days=1):
                            forced[land].append(final)  # no room: the next listing takes it
                        break
                    steps, signers = self._steps(listing, land, path, moments)
                    reuse = _Reuse(writer.new_id("reuse"), listing, land, False, steps, resume)
                    planned.append((reuse, signers))
                    # After a closed reuse a Land sometimes starts again (once).
                    if final not in ("declined", "withdrawn", "terminated") or rng.random() > 0.3:
                        break
                    final = rng.choice(("interest", "coordination", "contracted", "live"))
                    earliest = steps[-1].at + timedelta(days=1)
        return planned

    # -- writing reuses

    def _coverage(self, planned: list[tuple[_Reuse, tuple]]) -> None:
        """Size the rollouts: each reuse with a contract (or own use) reaches a share of
        its Land's authorities; the shares are scaled so that the total meets the
        scale's target."""
        candidates = []
        for reuse, _signers in planned:
            furthest = reuse.furthest
            if furthest not in COVERAGE:
                continue
            authorities = len(self.authorities[(reuse.land, reuse.listing.level)])
            share = COVERAGE[furthest] * self.rng.uniform(0.5, 1.0)
            reuse.authorities = authorities
            candidates.append((reuse, share))
        factor = 1.0
        for _round in range(4):
            expected = sum(min(1.0, share * factor) * r.authorities for r, share in candidates)
            if not expected:
                break
            factor *= self.scale.rollout_target / expected
        for reuse, share in candidates:
            reuse.coverage = min(1.0, share * factor)

    def write_reuses(self, planned: list[tuple[_Reuse, tuple]], writer: _Writer) -> None:
        self._coverage(planned)
        for number, (reuse, signers) in enumerate(planned):
            self._write_reuse(reuse, signers, writer)
            writer.maybe_flush()
            if number % 1000 == 999:
                self.progress(
                    f"  reuses {number + 1}/{len(planned)}, rollouts so far "
                    f"{writer.counts['rollout'] + len(writer.buffers['rollout'])}"
                )

    def _write_reuse(self, reuse: _Reuse, signers: tuple, writer: _Writer) -> None:
        rng = self.rng
        listing, land = reuse.listing, reuse.land
        adopter, provider = self.editors[land], self.editors[listing.provider]
        first = reuse.steps[0]
        updated = reuse.steps[-1].at
        row: dict[str, Any] = {
            "id": reuse.id,
            "listing_id": listing.id,
            "adopter_land_ags": land,
            "stage": reuse.stage,
            "resume_stage": reuse.resume_stage,
            "stage_since": reuse.steps[-1].at,
            "lock_version": 1,
            "planned_start": None,
            "expected_usage": None,
            "interest_note": "",
            "condition_model": None,
            "annual_fee_cents": None,
            "share_rule": "",
            "connection_cost_cents": None,
            "scope": "",
            "conditions_start": None,
            "conditions_proposed_at": None,
            "conditions_proposed_by_id": None,
            "terminated_on": None,
            "created_by_id": adopter,
            # Own use is recorded after publication, dated back to its real start.
            "created_at": max(first.at, listing.published_at) if reuse.own_use else first.at,
            "updated_at": None,
        }
        if reuse.own_use:
            row["planned_start"] = first.at.date()
        else:
            row["planned_start"] = first.at.date() + timedelta(days=rng.randint(60, 400))
            row["expected_usage"] = int(rng.randint(500, 40_000) * self.weights_of(land))
            if rng.random() < 0.5:
                row["interest_note"] = (
                    f"{self.lands[land].name} möchte den Dienst in allen zuständigen Behörden "
                    "einsetzen."
                )
                first.comment = row["interest_note"]
        ordered = reuse.reached("ordered")
        coordination = reuse.reached("coordination")
        if coordination is not None and (ordered is not None or rng.random() < 0.6):
            after = reuse.steps[reuse.steps.index(coordination) + 1 :]
            until = after[0].at if after else self.limit
            proposed = self._between(coordination.at, until - timedelta(minutes=1))
            share = rng.random() < 0.6
            row.update(
                condition_model="share_rule" if share else "annual_fee",
                annual_fee_cents=None if share else rng.randint(10, 200) * 100_000,
                share_rule=(
                    "Anteil nach dem von der Allianz beschlossenen Kostenschlüssel" if share else ""
                ),
                connection_cost_cents=listing.connection_cost or 0,
                scope=(
                    f"Nutzung von {listing.title} durch die zuständigen Behörden des Landes: "
                    "Betrieb, Pflege und Weiterentwicklung, Second-Level-Support."
                ),
                conditions_start=(proposed + timedelta(days=45)).date().replace(day=1),
                conditions_proposed_at=proposed,
                conditions_proposed_by_id=provider,
            )
        terminated = reuse.reached("terminated")
        if terminated is not None:
            row["terminated_on"] = terminated.at.date()
        for step in reuse.steps:
            writer.add(
                "reuse_transition",
                {
                    "id": writer.new_id("reuse_transition"),
                    "reuse_id": reuse.id,
                    "from_stage": step.source,
                    "to_stage": step.target,
                    "actor_id": step.actor_id,
                    "occurred_at": step.at,
                    "comment": step.comment,
                },
            )
        effective = None
        if ordered is not None:
            effective = self._contract(reuse, row, ordered, signers, writer)
        connecting = reuse.reached("connecting")
        if connecting is not None:
            self._onboarding(reuse, connecting, effective, writer)
        if reuse.coverage:
            start = effective if effective is not None else first.at.date()
            # Rollout moves are recorded after the countersignature (or the own use's start).
            contracted = reuse.reached("contracted") if effective is not None else None
            not_before = contracted.at if contracted is not None else first.at
            last = self._rollouts(reuse, start, not_before, writer)
            if last is not None:
                updated = max(updated, last)
        row["updated_at"] = updated
        writer.add("reuse", row)

    def weights_of(self, land: str) -> float:
        """A Land's size relative to the average Land (Königsteiner Schlüssel)."""
        return self.weights[self.land_codes.index(land)] * len(self.weights) / sum(self.weights)

    def _contract(self, reuse, row, ordered: _Step, signers, writer: _Writer) -> date | None:
        checker, countersigner = signers
        contracted = reuse.reached("contracted")
        status = "awaiting_check"
        checked_at = countersigned_at = effective = ended = None
        if contracted is not None:
            status = "in_force"
            checked_at = self._between(ordered.at, contracted.at - timedelta(minutes=1))
            countersigned_at = contracted.at
            effective = contracted.at.date()
            terminated = reuse.reached("terminated")
            if terminated is not None:
                status, ended = "terminated", terminated.at.date()
        elif reuse.stage == "withdrawn":
            status = "cancelled"
        elif self.rng.random() < 0.5:
            # Ordered (perhaps on hold since): the first FITKO person may have checked it.
            status = "awaiting_countersign"
            checked_at = self._between(ordered.at, (reuse.end or self.limit) - timedelta(minutes=1))
        conditions = {
            "condition_model": row["condition_model"],
            "annual_fee_cents": row["annual_fee_cents"],
            "share_rule": row["share_rule"],
            "connection_cost_cents": row["connection_cost_cents"],
            "scope": row["scope"],
            "conditions_start": (
                row["conditions_start"].isoformat() if row["conditions_start"] else None
            ),
        }
        writer.add(
            "contract",
            {
                "id": writer.new_id("contract"),
                "reuse_id": reuse.id,
                "number": f"NV-{ordered.at.year}-{reuse.id:06d}",
                "status": status,
                "lock_version": 1,
                "conditions": json.dumps(conditions, sort_keys=True, ensure_ascii=False),
                "ordered_by_id": self.editors[reuse.land],
                "ordered_at": ordered.at,
                "checked_by_id": checker if checked_at else None,
                "checked_at": checked_at,
                "eligibility_basis": "traeger" if checked_at else None,
                "legal_basis": DEFAULT_LEGAL_BASIS if checked_at else "",
                "check_remarks": "",
                "countersigned_by_id": countersigner if countersigned_at else None,
                "countersigned_at": countersigned_at,
                "effective_date": effective,
                "ended_on": ended,
            },
        )
        return effective

    def _onboarding(self, reuse: _Reuse, connecting: _Step, effective, writer: _Writer) -> None:
        testing = reuse.reached("testing")
        start = max(connecting.at.date(), effective or connecting.at.date())
        end = (testing.at if testing else (reuse.end or self.limit)).date()
        if testing is None and reuse.end is None:
            end = self.last_day
        for position, key in enumerate(("transport", "user_account", "payment", "xoev")):
            mandatory = reuse.listing.mandatory_items[key]
            done = (mandatory and testing is not None) or self.rng.random() < 0.5
            done_on = self._day_between(start, max(start, end)) if done else None
            writer.add(
                "onboarding_item",
                {
                    "id": writer.new_id("onboarding_item"),
                    "reuse_id": reuse.id,
                    "key": key,
                    "position": position,
                    "mandatory": mandatory,
                    "done_on": done_on,
                    "done_by_id": self.editors[reuse.land] if done_on else None,
                    "note": "",
                },
            )

    def _rollouts(
        self, reuse: _Reuse, start: date, not_before: datetime, writer: _Writer
    ) -> datetime | None:
        """The rollout to the Land's authorities in a few waves, each planned, then
        connecting, then live (live only once the reuse is live). Returns the last
        recorded moment."""
        rng = self.rng
        pool = self.authorities[(reuse.land, reuse.listing.level)]
        count = round(reuse.coverage * len(pool))
        if not count:
            return None
        chosen = sorted(rng.sample(range(len(pool)), count))
        rng.shuffle(chosen)
        end = (reuse.end or self.limit).date()
        if reuse.end is None:
            end = self.last_day
        live_step = reuse.reached("live")
        live_from = live_step.at.date() if live_step else None
        furthest = reuse.furthest
        waves = min(count, rng.randint(1, 4))
        size = -(-count // waves)
        actor = self.editors[reuse.land]
        last_recorded = None
        for wave in range(waves):
            members = chosen[wave * size : (wave + 1) * size]
            if not members:
                break
            span = (end - start).days
            planned = start + timedelta(days=rng.randint(0, span * (wave + 1) // waves))
            moves = [("planned", planned)]
            if furthest != "contracted" and rng.random() < (0.95 - 0.15 * wave):
                connecting = self._day_between(planned, planned + (end - planned) / 2)
                moves.append(("connecting", connecting))
                if live_from is not None and rng.random() < (0.97 - 0.1 * wave):
                    earliest = max(connecting, live_from)
                    if earliest <= end:
                        moves.append(("live", self._day_between(earliest, end)))
            recorded = []
            floor = not_before
            for move, on in moves:
                if move == "live" and live_step is not None:
                    floor = max(floor, live_step.at)  # an authority goes live after its Land
                # Same-day steps keep their order: each is recorded after the one it follows.
                moment = max(self._at_work(on), floor + timedelta(minutes=1))
                recorded.append(moment)
                floor = moment
            status, status_on = moves[-1]
            live_on = status_on if status == "live" else None
            for index in members:
                authority_id, kreis = pool[index]
                rollout_id = writer.new_id("rollout")
                writer.add(
                    "rollout",
                    {
                        "id": rollout_id,
                        "reuse_id": reuse.id,
                        "authority_id": authority_id,
                        "kreis_ags": kreis,
                        "status": status,
                        "status_on": status_on,
                        "live_on": live_on,
                        "updated_at": recorded[-1],
                        "updated_by_id": actor,
                    },
                )
                previous = None
                for (move, on), moment in zip(moves, recorded, strict=True):
                    writer.add(
                        "rollout_event",
                        {
                            "id": writer.new_id("rollout_event"),
                            "rollout_id": rollout_id,
                            "from_status": previous,
                            "to_status": move,
                            "on": on,
                            "actor_id": actor,
                            "recorded_at": moment,
                        },
                    )
                    previous = move
            last_recorded = max(filter(None, (last_recorded, recorded[-1])))
        return last_recorded

    # -- alliances and cost-key decisions

    def alliances(self, planned: list[tuple[_Reuse, tuple]], writer: _Writer) -> None:
        rng = self.rng
        by_listing: dict[int, list[_Reuse]] = defaultdict(list)
        listings_by_id: dict[int, _Listing] = {}
        for reuse, _signers in planned:
            if not reuse.own_use:
                by_listing[reuse.listing.id].append(reuse)
            listings_by_id[reuse.listing.id] = reuse.listing
        for listing_id in sorted(by_listing):
            if rng.random() >= self.scale.alliance_share:
                continue
            listing = listings_by_id[listing_id]
            lead = listing.provider
            # The current reuse per Land (the latest), as the alliance sees it.
            current: dict[str, _Reuse] = {}
            for reuse in by_listing[listing_id]:
                current[reuse.land] = reuse
            requests = []
            for land in sorted(current):
                reuse = current[land]
                if reuse.stage in ("declined", "withdrawn"):
                    continue
                if rng.random() > (0.85 if reuse.furthest in CONTRACTED else 0.35):
                    continue
                asked = self._between(
                    reuse.steps[0].at, min(self.limit, reuse.steps[0].at + timedelta(days=90))
                )
                if asked >= self.limit - timedelta(days=1):
                    continue
                decided = asked + timedelta(days=rng.randint(2, 30), minutes=rng.randint(1, 600))
                roll = rng.random()
                if decided >= self.limit or roll < 0.08:
                    status, decided = "requested", None
                elif roll < 0.12:
                    status = "declined"
                else:
                    status = "member"
                requests.append((land, asked, status, decided))
            if not requests:
                continue
            alliance_id = writer.new_id("alliance")
            created = min(asked for _land, asked, _status, _decided in requests)
            writer.add(
                "alliance",
                {
                    "id": alliance_id,
                    "listing_id": listing_id,
                    "lead_land_ags": lead,
                    "created_at": created,
                },
            )
            writer.add(
                "alliance_membership",
                {
                    "id": writer.new_id("alliance_membership"),
                    "alliance_id": alliance_id,
                    "land_ags": lead,
                    "status": "member",
                    "is_lead": True,
                    "requested_at": listing.published_at,
                    "requested_by_id": None,
                    "decided_at": listing.published_at,
                    "decided_by_id": None,
                    "message": "",
                },
            )
            members = {lead: listing.published_at}
            for land, asked, status, decided in requests:
                writer.add(
                    "alliance_membership",
                    {
                        "id": writer.new_id("alliance_membership"),
                        "alliance_id": alliance_id,
                        "land_ags": land,
                        "status": status,
                        "is_lead": False,
                        "requested_at": asked,
                        "requested_by_id": self.editors[land],
                        "decided_at": decided,
                        "decided_by_id": self.editors[lead] if decided else None,
                        "message": (
                            f"{self.lands[land].name} nutzt den Dienst nach und möchte in der "
                            "Steuerungsgruppe mitwirken."
                        ),
                    },
                )
                if status == "member":
                    members[land] = decided
            self._decisions(alliance_id, lead, created, members, writer)
            writer.maybe_flush()

    def _decisions(self, alliance_id, lead, created, members, writer: _Writer) -> None:
        rng = self.rng
        for year in (2026, 2027):
            if year > self.as_of.year + 1 or rng.random() < 0.35:
                continue
            proposed = self._at_work(
                self._day_between(date(year - 1, 9, 1), date(year - 1, 12, 15))
            )
            proposed = max(proposed, created + timedelta(hours=1))
            if proposed >= self.limit - timedelta(days=1):
                continue
            # Key data must exist for the year; the usage key needs figures of a year that
            # has begun.
            keys = ["equal"] + [
                key for key in ("koenigstein", "population") if year in self.key_years[key]
            ] * 3
            key = rng.choice(keys)
            efa = year in self.key_years["koenigstein"] and rng.random() < 0.25
            decision_id = writer.new_id("cost_key_decision")
            votes = [(lead, "approve", proposed)]
            objection = rng.random() < 0.1
            for land in sorted(members):
                if land == lead:
                    continue
                voted = max(proposed, members[land]) + timedelta(
                    days=rng.randint(1, 25), minutes=rng.randint(1, 600)
                )
                if voted >= self.limit:
                    continue
                votes.append((land, "approve", voted))
            if objection and len(votes) > 1:
                land, _vote, voted = votes[-1]
                votes[-1] = (land, "object", voted)
            voted_lands = {land for land, _vote, _at in votes}
            if any(vote == "object" for _land, vote, _at in votes):
                status, outcome = "rejected", "usage"
            elif voted_lands >= set(members):
                status, outcome = "adopted", key
            else:
                status, outcome = "open", None
            decided = max(at for _land, _vote, at in votes) if status != "open" else None
            writer.add(
                "cost_key_decision",
                {
                    "id": decision_id,
                    "alliance_id": alliance_id,
                    "year": year,
                    "proposed_key": key,
                    "key_parameters": "{}",
                    "funding_model": "efa_2024" if efa else "participants",
                    "status": status,
                    "outcome_key": outcome,
                    "proposed_by_id": self.editors[lead],
                    "proposed_at": proposed,
                    "decided_at": decided,
                    "rationale": f"Vorschlag der Leitung für die Betriebskosten {year}.",
                    "lock_version": 1,
                },
            )
            for land, vote, at in votes:
                writer.add(
                    "cost_key_vote",
                    {
                        "id": writer.new_id("cost_key_vote"),
                        "decision_id": decision_id,
                        "land_ags": land,
                        "vote": vote,
                        "comment": "" if vote == "approve" else "Wir bevorzugen die Nutzung.",
                        "voted_by_id": self.editors[land],
                        "voted_at": at,
                    },
                )

    # -- cost plans and usage figures

    def costs(self, made: list[_Listing], planned: list[tuple[_Reuse, tuple]], writer) -> None:
        rng = self.rng
        # Months in force per listing and Land (contract, or own use since its start).
        spans: dict[int, dict[str, list[tuple[date, date | None]]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for reuse, _signers in planned:
            if reuse.own_use:
                spans[reuse.listing.id][reuse.land].append((reuse.steps[0].at.date(), None))
                continue
            contracted = reuse.reached("contracted")
            if contracted is None:
                continue
            terminated = reuse.reached("terminated")
            spans[reuse.listing.id][reuse.land].append(
                (contracted.at.date(), terminated.at.date() if terminated else None)
            )
        for listing in made:
            if listing.status != "published" or rng.random() >= self.scale.plan_share:
                continue
            editor = self.editors[listing.provider]
            base = rng.randint(50, 3000) * 100_000
            for year in PLAN_YEARS:
                if year > self.as_of.year + 1:
                    continue
                made_at = max(
                    listing.published_at + timedelta(days=1),
                    self._at_work(self._day_between(date(year - 1, 9, 1), date(year - 1, 12, 20))),
                )
                if made_at >= self.limit:
                    continue
                growth = 1 + 0.04 * (year - PLAN_YEARS[0])
                for cost_type, description in rng.sample(COST_ITEMS, rng.randint(2, 5)):
                    amount = int(base * growth * rng.uniform(0.1, 0.5)) // 100 * 100
                    writer.add(
                        "cost_plan_item",
                        {
                            "id": writer.new_id("cost_plan_item"),
                            "listing_id": listing.id,
                            "year": year,
                            "cost_type": cost_type,
                            "description": description,
                            "amount_cents": amount,
                            "lock_version": 1,
                            "created_by_id": editor,
                            "created_at": made_at,
                            "updated_at": made_at,
                        },
                    )
                # Usage is counted, never forecast: figures of years that have begun only.
                if year <= self.as_of.year:
                    self._usage(listing, year, spans[listing.id], writer)
            writer.maybe_flush()

    def _usage(self, listing: _Listing, year: int, spans, writer: _Writer) -> None:
        rng = self.rng
        first, last = date(year, 1, 1), date(year, 12, 31)
        taking_part = [
            land
            for land in sorted(spans)
            if any(start <= last and (end is None or end >= first) for start, end in spans[land])
        ]
        if not taking_part:
            return
        earliest = max(first + timedelta(days=31), listing.published_at.date())
        latest = min(self.last_day, date(year + 1, 3, 31))
        if earliest > latest:
            earliest = latest
        # One Land now and then has not reported yet (the split counts it as 0 and says so).
        reporting = [land for land in taking_part if rng.random() > 0.1] or taking_part[:1]
        for number, land in enumerate(reporting):
            cases = int(rng.randint(200, 60_000) * self.weights_of(land))
            if number and rng.random() < 0.05:
                cases = 0
            imported = rng.random() < 0.3
            writer.add(
                "usage_figure",
                {
                    "id": writer.new_id("usage_figure"),
                    "listing_id": listing.id,
                    "year": year,
                    "land_ags": land,
                    "cases": max(cases, 1) if number == 0 else cases,
                    "entered_by_id": self.fitko[0] if imported else self.editors[land],
                    "entered_at": self._at_work(self._day_between(earliest, latest)),
                    "source": "import" if imported else "entry",
                },
            )


def _ascii(name: str) -> str:
    return name.lower().replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")


def already_generated() -> bool:
    return (
        db.session.scalar(
            select(AuditEvent.id).where(AuditEvent.action == GENERATED_ACTION).limit(1)
        )
        is not None
    )


def generate(
    scale: str,
    seed: int,
    as_of: date,
    progress: Callable[[str], None] = lambda message: None,
) -> GenerateReport:
    """Load the demo and add a synthetic data set of ``scale`` ("small" or "national")
    in one transaction. Raises GenerateRefused when the database already holds one, or
    when the demo's users are missing. Not for production: the caller refuses there."""
    from fitstore.services.demo import load_demo

    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}")
    if already_generated():
        raise GenerateRefused(
            "This database already holds generated data; generate into a fresh database."
        )
    if as_of <= HISTORY_START + timedelta(days=365):
        raise GenerateRefused(f"The as-of date must lie after {HISTORY_START.year + 1}.")
    if as_of > utcnow().date():
        # The app refuses dates in the future ("nicht in der Zukunft"); so does the generator.
        raise GenerateRefused("The as-of date must not lie in the future.")
    started = clock.monotonic()
    report = GenerateReport(scale, seed, as_of)
    progress("Loading reference and demo data …")
    load_demo()
    generator = _Generator(SCALES[scale], seed, as_of, progress)
    writer = _Writer()
    progress("Listings …")
    made = generator.listings(writer)
    progress("Planning reuses …")
    planned = generator.plan_reuses(made, writer)
    progress(f"Reuses, contracts and rollouts ({len(planned)} reuses) …")
    generator.write_reuses(planned, writer)
    progress("Alliances, cost-key decisions, cost plans and usage figures …")
    generator.alliances(planned, writer)
    generator.costs(made, planned, writer)
    writer.finish()
    report.rows = dict(writer.counts)
    audit.record(
        SystemActor(),
        GENERATED_ACTION,
        "database",
        None,
        details={"scale": scale, "seed": seed, "as_of": as_of.isoformat(), "rows": report.rows},
    )
    db.session.commit()
    if writer.postgres:
        progress("ANALYZE …")
        for model in TABLES:
            db.session.execute(text(f"ANALYZE {model.__tablename__}"))
        db.session.commit()
    report.seconds = clock.monotonic() - started
    return report
