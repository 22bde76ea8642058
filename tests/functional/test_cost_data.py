"""Cost data over HTTP: key data per year (admin upload with validation) and usage
figures per listing, Land and year (entry by the Land, CSV import by FITKO, who sees what).

The usage tests work on a listing they publish themselves: Brandenburg provides it and
uses it itself, Bayern reuses it under a contract, Hessen has only expressed interest,
Sachsen is a member of the alliance without a reuse, Nordrhein-Westfalen is uninvolved.
"""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from io import BytesIO

import pytest
from sqlalchemy import func, select

from fitstore.extensions import db
from fitstore.models import AuditEvent, CostKeyValue, Reuse, UsageFigure, UsageSource
from fitstore.models.base import utcnow
from fitstore.services import alliances, cost_data, listings, reuses
from fitstore.services.reference import DATA_DIR
from tests.factories import listing_content, user_by_email

KEY_URL = "/verwaltung/schluesseldaten"


def _shipped(column: str) -> list[tuple[str, str, str, str]]:
    """(AGS, short, name, value) of the 16 Länder from the shipped reference data."""
    with open(DATA_DIR / "laender.csv", encoding="utf-8", newline="") as handle:
        return [
            (row["ags"], row["short"], row["name"], row[column])
            for row in csv.DictReader(handle, delimiter=";")
        ]


KOENIGSTEIN_2017 = _shipped("koenigstein_2017_percent")
POPULATION_2018 = _shipped("population_2018_12_31")


def koenigstein_csv(rows=None, *, bom=True) -> bytes:
    """The 2017 values as an admin would upload them: ``;`` and decimal commas."""
    rows = KOENIGSTEIN_2017 if rows is None else rows
    lines = ["land;value"] + [f"{short};{value.replace('.', ',')}" for _a, short, _n, value in rows]
    return (("\ufeff" if bom else "") + "\r\n".join(lines) + "\r\n").encode("utf-8")


def upload(client, content: bytes, key="koenigstein", year="2024", filename="schluessel.csv"):
    return client.post(
        KEY_URL,
        data={"key": key, "year": year, "file": (BytesIO(content), filename)},
        content_type="multipart/form-data",
    )


def stored(app, key: str, year: int) -> dict[str, Decimal]:
    with app.app_context():
        return cost_data.key_values(key, year)


@pytest.fixture(autouse=True)
def _demo_audit_head(app):
    """The demo writes key-data and usage audit rows too: the tests look at their own."""
    global DEMO_AUDIT_HEAD
    with app.app_context():
        DEMO_AUDIT_HEAD = db.session.scalar(select(func.max(AuditEvent.id))) or 0


DEMO_AUDIT_HEAD = 0


def audit_rows(app, action: str) -> list[AuditEvent]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == action, AuditEvent.id > DEMO_AUDIT_HEAD
                )
            )
        )
        db.session.expunge_all()
        return rows


# --- key data -------------------------------------------------------------------------


def test_admin_uploads_a_new_koenigstein_year_which_is_stored_and_audited(app, client, login_as):
    login_as("admin@demo.test")
    response = upload(client, koenigstein_csv())
    assert response.status_code == 302
    assert response.headers["Location"].endswith(KEY_URL)

    values = stored(app, "koenigstein", 2024)
    assert values == {ags: Decimal(value) for ags, _s, _n, value in KOENIGSTEIN_2017}
    assert sum(values.values()) == 100
    assert stored(app, "koenigstein", 2017) == values  # the shipped year is untouched

    (event,) = audit_rows(app, "key_data.imported")
    details = json.loads(event.details)
    assert event.actor_email == "admin@demo.test"
    assert (details["key"], details["year"], details["sum"]) == ("koenigstein", 2024, "100.00000")
    assert details["values"]["12"] == "3.03655"

    page = client.get(KEY_URL).get_data(as_text=True)
    assert "ist gespeichert" in page
    assert '<th class="kern-table__header" scope="col">2024</th>' in page
    assert "3,03655" in page


def test_an_existing_year_is_never_overwritten(app, client, login_as):
    login_as("admin@demo.test")
    assert upload(client, koenigstein_csv()).status_code == 302
    changed = [(a, s, n, "6.25") for a, s, n, _v in KOENIGSTEIN_2017]  # 16 × 6.25 = 100
    response = upload(client, koenigstein_csv(changed))
    assert response.status_code == 409
    assert "bereits Werte hinterlegt" in response.get_data(as_text=True)
    assert stored(app, "koenigstein", 2024)["12"] == Decimal("3.03655")
    assert upload(client, koenigstein_csv(changed), year="2017").status_code == 409
    assert len(audit_rows(app, "key_data.imported")) == 1


def test_a_file_with_15_laender_is_refused_naming_the_missing_land(app, client, login_as):
    login_as("admin@demo.test")
    response = upload(client, koenigstein_csv(KOENIGSTEIN_2017[:15]))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Es fehlt Thüringen (16)" in page
    assert "jedes der 16 Länder genau einmal" in page
    assert stored(app, "koenigstein", 2024) == {}
    assert audit_rows(app, "key_data.imported") == []


def test_a_koenigstein_sum_of_99_9_is_refused_showing_the_sum(app, client, login_as):
    login_as("admin@demo.test")
    rows = [
        (a, s, n, "21.04424" if s == "NW" else v) for a, s, n, v in KOENIGSTEIN_2017
    ]  # NW 0.1 lower
    response = upload(client, koenigstein_csv(rows))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "zusammen 99,9 statt 100" in page
    assert stored(app, "koenigstein", 2024) == {}


def test_non_numeric_and_negative_values_are_refused_naming_their_lines(app, client, login_as):
    login_as("admin@demo.test")
    rows = [
        (a, s, n, "drei" if s == "HH" else "-1.5" if s == "HB" else v)
        for a, s, n, v in KOENIGSTEIN_2017
    ]
    response = upload(client, koenigstein_csv(rows))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    # The header is line 1: Hamburg (02) is line 3, Bremen (04) line 5.
    assert "Zeile 3 (Hamburg): „drei“ ist keine Zahl." in page
    assert "Zeile 5 (Bremen): „-1,5“ ist negativ" in page
    assert stored(app, "koenigstein", 2024) == {}


def test_a_land_twice_is_refused(app, client, login_as):
    login_as("admin@demo.test")
    rows = [*KOENIGSTEIN_2017[:15], ("12", "DE-BB", "Brandenburg", "2.69470")]
    response = upload(client, koenigstein_csv(rows))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Zeile 17: Brandenburg steht bereits in Zeile 13" in page
    assert "Es fehlt Thüringen (16)" in page
    assert stored(app, "koenigstein", 2024) == {}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "Bitte wählen Sie eine CSV-Datei mit Inhalt aus."),
        (b"land;wert\nBB;3\n", "Die Kopfzeile muss „land;value“ lauten"),
        ("land;value\nBB;3,5\n".encode("latin-1") + b"\xe4", "nicht UTF-8-kodiert"),
        (b"land;value\nXY;3\n", "Zeile 2: Unbekanntes Land „XY“"),
        (b"land;value\nBB;3,123456\n", "Zeile 2 (Brandenburg): „3,123456“ hat mehr als 5"),
        (b"land;value\nBB;1.000,5\n", "Zeile 2 (Brandenburg): „1.000,5“ ist keine Zahl"),
        (b"land;value\nBB;\n", "Zeile 2 (Brandenburg): kein Wert angegeben."),
        (b"land,value\nBB,3,5\n", "Zeile 2: 2 Angaben erwartet (Land und Zahl), gefunden: 3"),
        (b"land;value\nBB;10000000000\n", "„10000000000“ ist zu groß"),
        (b"land;value\nB\x00B;3\n", "Zeile 2"),
    ],
)
def test_malformed_files_are_refused_with_what_to_fix(app, client, login_as, content, message):
    login_as("admin@demo.test")
    response = upload(client, content)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page
    assert 'aria-describedby="file-hint file-error"' in page  # the error is tied to the field
    assert stored(app, "koenigstein", 2024) == {}


@pytest.mark.parametrize(
    ("key", "year", "field_message"),
    [
        ("gleichverteilung", "2024", "Bitte wählen Sie den Königsteiner Schlüssel"),
        ("koenigstein", "24", "Bitte geben Sie ein Jahr von 1990 bis 2100 an."),
        ("koenigstein", "zwanzig", "vierstellig"),
    ],
)
def test_key_and_year_are_checked(app, client, login_as, key, year, field_message):
    login_as("admin@demo.test")
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(CostKeyValue))
    response = upload(client, koenigstein_csv(), key=key, year=year)
    assert response.status_code == 422
    assert field_message in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CostKeyValue)) == before


def test_population_has_no_sum_rule_and_accepts_comma_files_with_iso_codes(app, client, login_as):
    login_as("admin@demo.test")
    lines = ["Land,Value"] + [f"DE-{short},{value}" for _a, short, _n, value in POPULATION_2018]
    response = upload(client, "\n".join(lines).encode(), key="population", year="2025")
    assert response.status_code == 302
    values = stored(app, "population", 2025)
    assert values["05"] == Decimal("17932651")
    assert len(values) == 16
    assert client.get(KEY_URL).status_code == 200


def test_land_codes_may_be_ags_without_leading_zero_short_or_name(app, client, login_as):
    login_as("admin@demo.test")
    codes = {0: "1", 1: "02", 2: "Niedersachsen", 3: "hb"}
    rows = [(a, codes.get(index, s), n, v) for index, (a, s, n, v) in enumerate(KOENIGSTEIN_2017)]
    assert upload(client, koenigstein_csv(rows, bom=False)).status_code == 302
    assert stored(app, "koenigstein", 2024)["01"] == Decimal("3.39074")


@pytest.mark.parametrize(
    "email", ["fitko-1@demo.test", "editor-bb@demo.test", "viewer-bb@demo.test"]
)
def test_only_admins_manage_key_data(app, client, login_as, email):
    login_as(email)
    assert client.get(KEY_URL).status_code == 403
    assert upload(client, koenigstein_csv()).status_code == 403
    assert stored(app, "koenigstein", 2024) == {}
    assert "Schlüsseldaten" not in client.get("/").get_data(as_text=True)


def test_the_key_data_page_lists_every_year_with_its_sum(client, login_as):
    login_as("admin@demo.test")
    page = client.get(KEY_URL).get_data(as_text=True)
    for year in (2015, 2017, 2018):
        assert f'scope="col">{year}</th>' in page
    assert "Königsteiner Schlüssel" in page and "Einwohner" in page
    assert ">100</strong>" in page  # both Königstein years add up to 100
    assert 'type="radio"' in page and "<legend" in page
    template = client.get(f"{KEY_URL}/vorlage.csv")
    assert template.mimetype == "text/csv"
    lines = template.get_data(as_text=True).splitlines()
    assert lines[0] == "land;value" and len(lines) == 17 and "BB;" in lines


# --- usage figures ----------------------------------------------------------------------

CONDITIONS = {
    "condition_model": "share_rule",
    "share_rule": "Anteil nach Kostenschlüssel der Allianz",
    "connection_cost_cents": 300_000,
    "scope": "Betrieb und Pflege",
    "conditions_start": "2025-01-01",
}


@pytest.fixture
def listing_id(app) -> int:
    """A fresh listing of Brandenburg: own use (BB), a contract (BY), interest only (HE),
    an alliance member without reuse (SN)."""
    with app.app_context():
        people = {
            code: user_by_email(f"editor-{code}@demo.test") for code in ("bb", "by", "he", "sn")
        }
        fitko1, fitko2 = (user_by_email(f"fitko-{n}@demo.test") for n in (1, 2))
        listing = listings.create_listing(
            people["bb"], listing_content(title="Nutzungszählung Kranich")
        )
        listings.submit_listing(people["bb"], listing.id)
        listings.publish_listing(fitko1, listing.id)
        reuses.record_own_use(people["bb"], listing.id)
        interest = {"planned_start": "2026-01-01", "expected_usage": 5000, "note": ""}
        reuse = reuses.express_interest(people["by"], listing.id, interest)
        reuses.transition(people["bb"], reuse.id, "start_coordination")
        reuses.propose_conditions(people["bb"], reuse.id, CONDITIONS)
        reuses.transition(people["by"], reuse.id, "order")
        contract_id = db.session.get(Reuse, reuse.id).contract.id
        reuses.check_contract(
            fitko1, contract_id, {"eligibility_basis": "traeger", "legal_basis": "§ 108 GWB"}
        )
        reuses.countersign_contract(fitko2, contract_id, {"effective_date": utcnow().date()})
        reuses.express_interest(people["he"], listing.id, interest)
        alliances.request_join(people["sn"], listing.id)
        alliances.decide_join(people["bb"], listing.id, "14", True)
        return listing.id


def usage_url(listing_id: int, suffix: str = "") -> str:
    return f"/leistungen/{listing_id}/nutzung{suffix}"


def figures(app, listing_id: int, year: int = 2025) -> dict[str, tuple[int, UsageSource]]:
    with app.app_context():
        rows = db.session.scalars(
            select(UsageFigure).where(
                UsageFigure.listing_id == listing_id, UsageFigure.year == year
            )
        )
        return {row.land_ags: (row.cases, row.source) for row in rows}


def record(client, listing_id: int, cases, year=2025):
    return client.post(usage_url(listing_id), data={"year": str(year), "cases": str(cases)})


def import_csv(client, listing_id: int, content: bytes, year=2025):
    return client.post(
        usage_url(listing_id, "/import"),
        data={"year": str(year), "file": (BytesIO(content), "nutzung.csv")},
        content_type="multipart/form-data",
    )


def test_the_adopter_records_the_usage_of_its_own_land(app, client, login_as, listing_id):
    login_as("editor-by@demo.test")
    page = client.get(usage_url(listing_id) + "?jahr=2025").get_data(as_text=True)
    assert "Nutzungen Ihres Landes erfassen" in page
    assert "noch nicht erfasst" in page

    response = record(client, listing_id, 48213)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(usage_url(listing_id) + "?jahr=2025")
    assert figures(app, listing_id) == {"09": (48213, UsageSource.ENTRY)}
    assert record(client, listing_id, 50120).status_code == 302  # a correction
    assert figures(app, listing_id) == {"09": (50120, UsageSource.ENTRY)}

    events = audit_rows(app, "usage.recorded")
    assert [(e.land_ags, e.actor_email) for e in events] == [("09", "editor-by@demo.test")] * 2
    assert json.loads(events[1].details) == {
        "year": 2025,
        "land": "09",
        "cases": 50120,
        "previous": 48213,
    }
    page = client.get(usage_url(listing_id) + "?jahr=2025").get_data(as_text=True)
    assert "50.120" in page and "Eingabe des Landes" in page


def test_the_provider_records_its_own_use(app, client, login_as, listing_id):
    login_as("editor-bb@demo.test")
    assert record(client, listing_id, 9000).status_code == 302
    assert figures(app, listing_id) == {"12": (9000, UsageSource.ENTRY)}


@pytest.mark.parametrize(
    ("email", "status"),
    [
        ("editor-he@demo.test", 403),  # interest only: no contract, no cost sharing
        ("editor-nw@demo.test", 403),  # uninvolved
        ("editor-sn@demo.test", 403),  # alliance member, but no reuse
        ("viewer-by@demo.test", 403),  # the right Land, but reading only
        ("fitko-1@demo.test", 403),  # FITKO imports, it does not enter for a Land
        ("admin@demo.test", 403),
    ],
)
def test_nobody_else_records_usage(app, client, login_as, listing_id, email, status):
    login_as(email)
    assert record(client, listing_id, 777).status_code == status
    assert figures(app, listing_id) == {}
    page = client.get(usage_url(listing_id)).get_data(as_text=True)
    assert "Nutzungen Ihres Landes erfassen" not in page


def test_another_lands_editor_cannot_change_the_adopters_figure(app, client, login_as, listing_id):
    login_as("editor-by@demo.test")
    record(client, listing_id, 48213)
    client.post("/abmelden")
    login_as("editor-he@demo.test")
    assert record(client, listing_id, 1).status_code == 403
    assert figures(app, listing_id) == {"09": (48213, UsageSource.ENTRY)}


@pytest.mark.parametrize(
    ("cases", "year", "message"),
    [
        ("-5", 2025, "„-5“ ist negativ"),
        ("12,5", 2025, "„12,5“ ist keine ganze Zahl"),
        ("zwölf", 2025, "„zwölf“ ist keine ganze Zahl"),
        ("", 2025, "Bitte geben Sie die Zahl der Nutzungen an."),
        ("9" * 5000, 2025, "ist zu groß"),
        ("10", utcnow().year + 1, "Bitte geben Sie ein Jahr von 1990 bis"),
    ],
)
def test_bad_usage_entries_are_refused(app, client, login_as, listing_id, cases, year, message):
    login_as("editor-by@demo.test")
    response = record(client, listing_id, cases, year)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert figures(app, listing_id, year) == {}


def test_fitko_imports_usage_figures_of_several_laender(app, client, login_as, listing_id):
    login_as("editor-by@demo.test")
    record(client, listing_id, 48213)
    client.post("/abmelden")
    login_as("fitko-1@demo.test")
    page = client.get(usage_url(listing_id) + "?jahr=2025").get_data(as_text=True)
    assert "Nutzungszahlen importieren" in page
    response = import_csv(client, listing_id, "\ufeffland;cases\nBY;50000\nDE-BB;9100\n".encode())
    assert response.status_code == 302
    assert figures(app, listing_id) == {
        "09": (50000, UsageSource.IMPORT),
        "12": (9100, UsageSource.IMPORT),
    }
    (event,) = audit_rows(app, "usage.imported")
    details = json.loads(event.details)
    assert details["figures"] == {"09": 50000, "12": 9100}
    assert details["previous"] == {"09": 48213, "12": None}


def test_a_fitko_import_with_one_bad_line_changes_nothing(app, client, login_as, listing_id):
    login_as("editor-by@demo.test")
    record(client, listing_id, 48213)
    client.post("/abmelden")
    login_as("fitko-1@demo.test")
    response = import_csv(client, listing_id, b"land;cases\nBY;50000\nBB;-3\nXX;4\n")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Zeile 3 (Brandenburg): „-3“ ist negativ" in page
    assert "Zeile 4: Unbekanntes Land „XX“" in page
    assert figures(app, listing_id) == {"09": (48213, UsageSource.ENTRY)}
    assert audit_rows(app, "usage.imported") == []
    assert import_csv(client, listing_id, b"land;cases\n").status_code == 422
    assert import_csv(client, listing_id, b"land;cases\nBY;1\nBY;2\n").status_code == 422
    assert figures(app, listing_id) == {"09": (48213, UsageSource.ENTRY)}


@pytest.mark.parametrize("email", ["editor-bb@demo.test", "editor-by@demo.test", "admin@demo.test"])
def test_only_fitko_imports_usage(app, client, login_as, listing_id, email):
    login_as(email)
    assert import_csv(client, listing_id, b"land;cases\nBY;1\n").status_code == 403
    assert figures(app, listing_id) == {}


BY_CASES, BB_CASES = 48213, 7391


@pytest.mark.parametrize(
    ("email", "sees_by", "sees_bb"),
    [
        ("fitko-1@demo.test", True, True),
        ("admin@demo.test", True, True),
        ("viewer-bb@demo.test", True, True),  # the provider (lead of the alliance)
        ("viewer-sn@demo.test", True, True),  # an alliance member
        ("viewer-by@demo.test", True, False),  # its own Land only
        ("editor-he@demo.test", False, False),  # not in the cost sharing, not a member
        ("editor-nw@demo.test", False, False),
    ],
)
def test_who_sees_which_usage_figures(app, client, login_as, listing_id, email, sees_by, sees_bb):
    with app.app_context():
        cost_data.record_usage(user_by_email("editor-by@demo.test"), listing_id, 2025, BY_CASES)
        cost_data.record_usage(user_by_email("editor-bb@demo.test"), listing_id, 2025, BB_CASES)
    login_as(email)
    response = client.get(usage_url(listing_id) + "?jahr=2025")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert ("48.213" in page) is sees_by
    assert ("7.391" in page) is sees_bb
    assert ("55.604" in page) is (sees_by and sees_bb)  # the sum, only for whoever sees all


def test_usage_of_an_unpublished_listing_of_another_land_is_not_found(app, client, login_as):
    with app.app_context():
        draft = listings.create_listing(
            user_by_email("editor-bb@demo.test"), listing_content(title="Entwurf Kranich")
        )
        draft_id = draft.id
    login_as("editor-by@demo.test")
    assert client.get(usage_url(draft_id)).status_code == 404
    assert record(client, draft_id, 5).status_code == 404
    assert client.get(usage_url(999999)).status_code == 404


def test_the_usage_page_runs_a_constant_number_of_queries(
    app, client, login_as, listing_id, count_queries
):
    login_as("fitko-1@demo.test")
    url = usage_url(listing_id) + "?jahr=2025"
    client.get(url)
    with count_queries() as before:
        assert client.get(url).status_code == 200
    import_csv(
        client,
        listing_id,
        b"land;cases\n"
        + b"".join(
            f"{short};{index}\n".encode()
            for index, (_a, short, _n, _v) in enumerate(KOENIGSTEIN_2017)
        ),
    )
    with count_queries() as after:
        page = client.get(url)
    assert page.get_data(as_text=True).count("Import der FITKO") == 16
    assert after.count == before.count


def test_the_listing_page_links_to_the_usage_figures(client, login_as, listing_id):
    login_as("viewer-nw@demo.test")
    page = client.get(f"/leistungen/{listing_id}").get_data(as_text=True)
    assert usage_url(listing_id) in page
