"""The demo's cost-sharing story: key data for the cost years, the plans of Aufenthaltstitel
and Verpflichtungserklärung, the usage figures, and what a demo user sees computed from them.

The test database already holds the demo data (tests/conftest.py), so these tests read it.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from fitstore import costs
from fitstore.extensions import db
from fitstore.models import AuditEvent, CostKeyValue, CostPlanItem, Listing, UsageFigure
from fitstore.models.base import utcnow
from fitstore.services import audit, cost_data, cost_sharing
from fitstore.services.demo import load_demo
from tests.factories import user_by_email as user

AUFENTHALTSTITEL = ("12", "10255")
VERPFLICHTUNGSERKLAERUNG = ("06", "10256")
# The Länder with a contract in force all year (or Brandenburg's own use) in 2026 and 2027:
# BB, BY, HE, NI, SN and NW (from 1 January 2026).
TITEL_PARTICIPANTS = {"12", "09", "06", "03", "14", "05"}
TITEL_2026_TOTAL = (420_000 + 310_000 + 85_000 + 260_000 + 45_000) * 100


@pytest.fixture
def ctx(app):
    with app.test_request_context():
        yield app


def listing(key: tuple[str, str]) -> Listing:
    land, ozg_id = key
    return db.session.scalar(
        select(Listing).where(Listing.provider_land_ags == land, Listing.ozg_id == ozg_id)
    )


def split(key: tuple[str, str], year: int) -> cost_sharing.ListingSplit:
    return cost_sharing.listing_split(user("fitko-1@demo.test"), listing(key).id, year)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_key_data_of_2026_and_2027_carried_forward_from_the_newest_shipped_year(ctx):
    for year in (2026, 2027):
        assert cost_data.key_values("koenigstein", year) == cost_data.key_values(
            "koenigstein", 2017
        )
        assert cost_data.key_values("population", year) == cost_data.key_values("population", 2018)
    assert sum(cost_data.key_values("koenigstein", 2026).values()) == Decimal(100)
    # Loaded through the import, as the command line actor, one audit row per key and year.
    imported = db.session.execute(
        select(AuditEvent.object_id, AuditEvent.actor_email).where(
            AuditEvent.action == "key_data.imported"
        )
    ).all()
    assert sorted(imported) == [
        ("koenigstein/2026", "system:cli"),
        ("koenigstein/2027", "system:cli"),
        ("population/2026", "system:cli"),
        ("population/2027", "system:cli"),
    ]


def test_the_aufenthaltstitel_2026_split_computes_and_sums_to_the_plan(ctx):
    result = split(AUFENTHALTSTITEL, 2026)
    assert result.problem is None and result.warnings == []
    assert (result.key, result.funding_model, result.cost_key.decided) == (
        "koenigstein",
        "participants",
        True,
    )
    assert result.total_cents == TITEL_2026_TOTAL == 112_000_000
    assert {item.cost_type.value for item in result.items} == {
        "infrastructure",
        "development",
        "platform_fees",
        "service_operation",
        "direct",
    }
    assert {p.land_ags: p.months for p in result.participants} == dict.fromkeys(
        TITEL_PARTICIPANTS, 12
    )
    assert set(result.split.cents) == TITEL_PARTICIPANTS
    assert sum(result.split.cents.values()) == TITEL_2026_TOTAL
    # Nordrhein-Westfalen, the largest Land by the Königsteiner Schlüssel, pays the most;
    # Brandenburg, the smallest of the six, the least.
    shares = result.split.cents
    assert max(shares, key=shares.get) == "05" and min(shares, key=shares.get) == "12"
    assert all(row.share is not None and row.months == 12 for row in result.rows())


def test_the_2025_split_uses_usage_and_warns_about_sachsens_missing_figure(ctx):
    result = split(AUFENTHALTSTITEL, 2025)
    assert result.problem is None
    assert (result.key, result.cost_key.decided) == ("usage", False)
    assert result.warnings == ["Ohne Nutzungszahl für 2025, daher mit 0 gezählt: Sachsen."]
    months = {p.land_ags: p.months for p in result.participants}
    assert months["14"] == 6  # Sachsen's contract took effect on 1 July 2025
    assert "05" not in months  # Nordrhein-Westfalen only from 2026
    assert result.cents_of("14") == 0 and result.cents_of("03") == 0  # no figure, and 0 cases
    assert sum(result.split.cents.values()) == result.total_cents == 106_400_000
    assert result.cents_of("09") > result.cents_of("06") > result.cents_of("12") > 0


def _clock(monkeypatch, when: datetime) -> None:
    """Move the clock the demo and the usage service read."""
    monkeypatch.setattr("fitstore.services.demo.utcnow", lambda: when)
    monkeypatch.setattr("fitstore.services.cost_data.utcnow", lambda: when)


def test_the_2027_split_uses_usage_and_warns_about_the_missing_figure(ctx, monkeypatch):
    result = split(AUFENTHALTSTITEL, 2027)
    # The vote on 2027 is open: the default key applies, not the proposed mixed key.
    assert (result.key, result.funding_model, result.cost_key.decided) == (
        "usage",
        "participants",
        False,
    )
    assert result.total_cents == 117_600_000
    if utcnow().year < 2027:
        # Usage is counted, never forecast: nobody can enter a figure of 2027 yet, and the
        # split says what is missing instead of computing something else.
        assert result.problem_field == "usage" and result.split is None
        assert not db.session.scalar(select(UsageFigure.id).where(UsageFigure.year == 2027))
        # Loaded again in 2027, the demo enters the figures of the year.
        _clock(monkeypatch, datetime(2027, 3, 1, 9, 0))
        assert load_demo().usage_figures_recorded == 5
        result = split(AUFENTHALTSTITEL, 2027)
    assert result.problem is None
    assert result.warnings == [
        "Ohne Nutzungszahl für 2027, daher mit 0 gezählt: Nordrhein-Westfalen."
    ]
    assert {p.land_ags for p in result.participants} == TITEL_PARTICIPANTS
    assert result.cents_of("05") == 0
    assert sum(result.split.cents.values()) == 117_600_000
    assert result.cents_of("09") > result.cents_of("06") > result.cents_of("12")
    assert audit.verify_chain().ok


def test_the_efa_2024_split_of_the_verpflichtungserklaerung(ctx):
    result = split(VERPFLICHTUNGSERKLAERUNG, 2026)
    assert result.problem is None
    assert (result.key, result.funding_model, result.cost_key.decided) == (
        "koenigstein",
        "efa_2024",
        True,
    )
    total = result.total_cents
    assert total == 18_000_000
    pools = {pool.name: pool.cents for pool in result.split.pools}
    assert pools == {"participants": total // 2, "bund": total // 4, "laender": total // 4}
    assert result.cents_of(costs.BUND) == 4_500_000  # 25 %
    # Hessen runs it alone: half of the cost, plus its part of the all-Länder pool.
    assert [p.land_ags for p in result.participants] == ["06"]
    rows = {row.payer: row for row in result.rows()}
    assert rows["06"].participants_cents == 9_000_000
    assert rows["06"].cents == 9_000_000 + rows["06"].laender_cents
    # Brandenburg, still in talks, pays its Königsteiner share of the all-Länder pool.
    koenigstein = cost_data.key_values("koenigstein", 2026)
    assert not rows["12"].participant and rows["12"].participants_cents == 0
    exact = Decimal(4_500_000) * koenigstein["12"] / 100
    assert abs(rows["12"].cents - exact) < 1
    assert len(result.split.cents) == 17  # 16 Länder and the Bund
    assert sum(result.split.cents.values()) == total


def test_the_security_walkers_sample_arguments_point_at_real_data(ctx):
    """test_security.py walks every route with listing 1, year 2026, item 1 and Land 12."""
    first = db.session.get(Listing, 1)
    assert (first.provider_land_ags, first.ozg_id) == AUFENTHALTSTITEL
    item = db.session.get(CostPlanItem, 1)
    assert (item.listing_id, item.year) == (1, 2026)
    plan = cost_sharing.get_plan(user("editor-bb@demo.test"), 1, 2026)
    assert plan.may_edit and plan.total_cents == TITEL_2026_TOTAL
    statement = cost_sharing.land_statement(user("viewer-bb@demo.test"), "12", 2026)
    lines = {line.listing.ozg_id: line.cents for line in statement.lines}
    assert set(lines) == {"10255", "10256"}  # a share, and the efa_2024 all-Länder pool
    assert lines["10255"] == split(AUFENTHALTSTITEL, 2026).cents_of("12") > 0
    assert statement.open_items == []


def test_the_demo_usage_figures_were_entered_by_each_land(ctx):
    titel = listing(AUFENTHALTSTITEL)
    rows = db.session.execute(
        select(UsageFigure.year, UsageFigure.land_ags, UsageFigure.cases).where(
            UsageFigure.listing_id == titel.id, UsageFigure.year == 2026
        )
    ).all()
    assert {ags for _year, ags, _cases in rows} == TITEL_PARTICIPANTS
    recorded = db.session.scalars(
        select(AuditEvent.actor_email).where(
            AuditEvent.action == "usage.recorded", AuditEvent.object_id == str(titel.id)
        )
    ).all()
    assert "editor-nw@demo.test" in recorded and "editor-bb@demo.test" in recorded
    assert not {"fitko-1@demo.test", "system:cli"} & set(recorded)


MODELS = (CostPlanItem, UsageFigure, CostKeyValue, AuditEvent)


def test_loading_the_demo_again_adds_no_cost_data(ctx):
    before = [count(model) for model in MODELS]
    report = load_demo()
    assert (
        report.key_data_loaded,
        report.cost_plan_items_created,
        report.usage_figures_recorded,
        report.cost_key_decisions_created,
        report.notes,
    ) == (0, 0, 0, 0, [])
    assert [count(model) for model in MODELS] == before
    assert audit.verify_chain().ok


def test_the_first_load_reports_the_carried_forward_key_data(ctx):
    """The report of the load that adds the key data says where it comes from. (The
    template database has it already: remove it here, in this test's copy, to see that.)"""
    db.session.execute(CostKeyValue.__table__.delete().where(CostKeyValue.year >= 2026))
    db.session.commit()
    report = load_demo()
    assert report.key_data_loaded == 4
    assert report.notes == [
        "Demo: Königsteiner Schlüssel 2026, 2027 aus den Werten von 2017 fortgeschrieben; "
        "eine echte Installation lädt die Werte des Jahres hoch.",
        "Demo: Einwohner 2026, 2027 aus den Werten von 2018 fortgeschrieben; eine echte "
        "Installation lädt die Werte des Jahres hoch.",
    ]
    assert cost_data.key_values("population", 2027) == cost_data.key_values("population", 2018)
    assert audit.verify_chain().ok
