"""The cost-sharing service on stored data: the worked example of domain.md end to end
(contracts → participants and months → key of the alliance → cents), and every rule on
the way: who takes part for how many months, which key applies, what is refused and why,
the cost plan's checks and audit trail, the simulation that never writes, and a Land's
statement."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from fractions import Fraction

import pytest
from sqlalchemy import func, select

from fitstore.errors import Forbidden, Invalid, NotFound, PreconditionFailed
from fitstore.extensions import db
from fitstore.models import (
    AuditEvent,
    Contract,
    CostKeyDecision,
    CostPlanItem,
    Reuse,
    UsageFigure,
)
from fitstore.services import alliances, audit, cost_data, cost_sharing, listings, reuses
from fitstore.services.system import SystemActor
from tests.factories import (
    WORKED_EXAMPLE_FULL_YEAR,
    WORKED_EXAMPLE_SN_FROM_JULY,
    WORKED_EXAMPLE_YEAR,
    contracted_reuse,
    listing_content,
    user_by_email,
    worked_example,
)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


@pytest.mark.parametrize(
    ("sn_from_july", "expected"),
    [(False, WORKED_EXAMPLE_FULL_YEAR), (True, WORKED_EXAMPLE_SN_FROM_JULY)],
)
def test_the_worked_example_comes_out_to_the_cent(ctx, sn_from_july, expected):
    listing_id = worked_example(sn_from_july=sn_from_july)
    result = cost_sharing.listing_split(
        user_by_email("fitko-1@demo.test"), listing_id, WORKED_EXAMPLE_YEAR
    )
    assert result.problem is None
    assert dict(result.split.cents) == expected
    assert {p.land_ags: p.months for p in result.participants} == {
        "12": 12,
        "06": 12,
        "03": 12,
        "14": 6 if sn_from_july else 12,
    }


# --- the rules on stored data ----------------------------------------------------------
#
# The tests below work in YEAR, a past year without any demo cost data: usage figures can
# be entered for it (never for a year still to come), there is no key data for it until a
# test loads some, and contracts are made through the services with the reuse service's
# clock set back to before their effective date (a countersignature may not predate the
# order, and the order is stamped "today").

YEAR = 2024
TOTAL = 1_000_000  # 10,000.00 EUR


@pytest.fixture
def clock(monkeypatch):
    """``with clock(date(...)):`` runs the reuse service on that day (at 09:00)."""

    @contextmanager
    def at(day: date):
        with monkeypatch.context() as patch:
            patch.setattr("fitstore.services.reuses.utcnow", lambda: datetime.combine(day, time(9)))
            yield

    return at


def published(title: str = "Kostenregel") -> int:
    """A published listing of Brandenburg; returns its id."""
    bb, fitko = user_by_email("editor-bb@demo.test"), user_by_email("fitko-1@demo.test")
    listing_id = listings.create_listing(bb, listing_content(title=title)).id
    listings.submit_listing(bb, listing_id)
    listings.publish_listing(fitko, listing_id)
    return listing_id


def contract(clock, listing_id: int, adopter: str, effective: date, **kwargs) -> int:
    """A contract of ``adopter`` (short code) effective on ``effective``, ordered a month
    before; returns the reuse id."""
    with clock(effective - timedelta(days=30)):
        return contracted_reuse(listing_id, adopter, effective, **kwargs).id


def terminate(clock, reuse_id: int, adopter: str, on: date) -> None:
    with clock(on):
        reuses.transition(user_by_email(f"editor-{adopter}@demo.test"), reuse_id, "terminate")


def own_use(listing_id: int, since: str = "2023-01-01") -> None:
    reuses.record_own_use(user_by_email("editor-bb@demo.test"), listing_id, since)


def plan(listing_id: int, cents: int = TOTAL, year: int = YEAR) -> None:
    cost_sharing.add_plan_item(
        user_by_email("editor-bb@demo.test"), listing_id, year, "infrastructure", cents, "Betrieb"
    )


def load_key_data(year: int = YEAR) -> None:
    """Königsteiner Schlüssel 2017 and Einwohner 2018 as the key data of ``year``."""
    for key, source in (("koenigstein", 2017), ("population", 2018)):
        values = cost_data.key_values(key, source)
        rows = "".join(f"{ags};{values[ags].normalize():f}\n" for ags in sorted(values))
        cost_data.import_key_csv(SystemActor(), key, year, f"land;value\n{rows}".encode())


def decide(listing_id: int, key: str, funding_model: str = "participants", parameters=None):
    """Brandenburg proposes; as the alliance's only member its proposal is adopted."""
    alliances.propose_cost_key(
        user_by_email("editor-bb@demo.test"), listing_id, YEAR, key, funding_model, parameters
    )


def usage(listing_id: int, adopter: str, cases: int, year: int = YEAR) -> None:
    cost_data.record_usage(user_by_email(f"editor-{adopter}@demo.test"), listing_id, year, cases)


def split_of(listing_id: int, year: int = YEAR) -> cost_sharing.ListingSplit:
    return cost_sharing.listing_split(user_by_email("fitko-1@demo.test"), listing_id, year)


def months_of(result: cost_sharing.ListingSplit) -> dict[str, int]:
    return {p.land_ags: p.months for p in result.participants}


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# participants and months


def test_a_contract_effective_on_15_march_counts_ten_months(ctx, clock):
    listing_id = published()
    contract(clock, listing_id, "he", date(YEAR, 3, 15))
    plan(listing_id)
    result = split_of(listing_id)
    (he,) = result.participants
    assert (he.land_ags, he.months, he.own_use) == ("06", 10, False)
    assert he.month_numbers == tuple(range(3, 13))
    assert he.since == date(YEAR, 3, 15) and he.until is None
    assert he.contracts and he.contracts[0].startswith("NV-")


def test_a_contract_terminated_on_10_september_counts_up_to_september(ctx, clock):
    listing_id = published()
    reuse_id = contract(clock, listing_id, "he", date(YEAR - 1, 6, 1))
    terminate(clock, reuse_id, "he", date(YEAR, 9, 10))
    result = split_of(listing_id)
    (he,) = result.participants
    assert he.months == 9 and he.month_numbers == tuple(range(1, 10))
    assert he.until == date(YEAR, 9, 10)
    # The year after the termination it no longer takes part.
    assert split_of(listing_id, YEAR + 1).participants == []


def test_on_hold_after_the_contract_still_counts(ctx, clock):
    listing_id = published()
    reuse_id = contract(clock, listing_id, "he", date(YEAR, 5, 1))
    reuses.transition(user_by_email("editor-he@demo.test"), reuse_id, "hold")
    assert months_of(split_of(listing_id)) == {"06": 8}


def test_ordered_but_not_countersigned_does_not_count(ctx, clock):
    listing_id = published()
    bb, he = user_by_email("editor-bb@demo.test"), user_by_email("editor-he@demo.test")
    with clock(date(YEAR - 1, 12, 1)):
        reuse_id = reuses.express_interest(he, listing_id, {"planned_start": f"{YEAR}-01-01"}).id
        reuses.transition(bb, reuse_id, "start_coordination")
        reuses.propose_conditions(
            bb,
            reuse_id,
            {
                "condition_model": "share_rule",
                "share_rule": "Anteil nach Kostenschlüssel",
                "connection_cost_cents": 0,
                "scope": "Betrieb",
                "conditions_start": f"{YEAR}-01-01",
            },
        )
        reuses.transition(he, reuse_id, "order")
        contract_id = db.session.get(Reuse, reuse_id).contract.id
        reuses.check_contract(
            user_by_email("fitko-1@demo.test"),
            contract_id,
            {"eligibility_basis": "traeger", "legal_basis": "§ 108 Abs. 4 GWB"},
        )
    plan(listing_id)
    result = split_of(listing_id)
    assert result.participants == []
    assert result.problem_field == "participants" and result.split is None


def test_a_contract_effective_next_year_does_not_count(ctx, clock):
    listing_id = published()
    own_use(listing_id)
    contract(clock, listing_id, "he", date(YEAR + 1, 1, 1))
    assert months_of(split_of(listing_id)) == {"12": 12}
    assert months_of(split_of(listing_id, YEAR + 1)) == {"12": 12, "06": 12}


def test_two_contracts_of_one_land_in_a_year_count_each_month_once(ctx, clock):
    listing_id = published()
    first = contract(clock, listing_id, "he", date(YEAR, 1, 1))
    terminate(clock, first, "he", date(YEAR, 5, 20))
    # A new contract, effective in the month the old one ended: May counts once.
    second = contract(clock, listing_id, "he", date(YEAR, 5, 25))
    assert second != first
    (he,) = split_of(listing_id).participants
    assert he.months == 12 and he.month_numbers == tuple(range(1, 13))
    assert len(he.contracts) == 2
    assert he.since == date(YEAR, 1, 1) and he.until is None
    # With a gap: January to March, then from July: 3 + 6 months.
    other = published("Zwei Verträge mit Lücke")
    first = contract(clock, other, "ni", date(YEAR, 1, 1))
    terminate(clock, first, "ni", date(YEAR, 3, 31))
    contract(clock, other, "ni", date(YEAR, 7, 1))
    (ni,) = split_of(other).participants
    assert ni.months == 9 and ni.month_numbers == (1, 2, 3, 7, 8, 9, 10, 11, 12)


def test_own_use_counts_from_its_start(ctx):
    listing_id = published()
    own_use(listing_id, f"{YEAR}-04-20")
    (bb,) = split_of(listing_id).participants
    assert (bb.land_ags, bb.months, bb.own_use, bb.contracts) == ("12", 9, True, ())
    assert bb.since == date(YEAR, 4, 20)
    assert split_of(listing_id, YEAR - 1).participants == []


# the key of the year


def test_the_adopted_key_of_the_alliance_applies(ctx):
    listing_id = published()
    own_use(listing_id)
    decide(listing_id, "koenigstein")
    result = split_of(listing_id)
    assert (result.key, result.funding_model, result.cost_key.decided) == (
        "koenigstein",
        "participants",
        True,
    )
    assert result.cost_key.source.startswith("Einstimmiger Beschluss")


def _alliance_with_hessen(listing_id: int) -> None:
    alliances.request_join(user_by_email("editor-he@demo.test"), listing_id, "")
    alliances.decide_join(user_by_email("editor-bb@demo.test"), listing_id, "06", True)


def test_while_the_vote_is_open_the_default_usage_key_applies(ctx):
    listing_id = published()
    _alliance_with_hessen(listing_id)
    decide(listing_id, "koenigstein")
    result = split_of(listing_id)
    assert (result.key, result.funding_model, result.cost_key.decided) == (
        "usage",
        "participants",
        False,
    )
    assert "Abstimmung über 2024 läuft noch" in result.cost_key.source


def test_a_rejected_proposal_leaves_the_default_usage_key(ctx):
    listing_id = published()
    _alliance_with_hessen(listing_id)
    decide(listing_id, "koenigstein")
    alliances.vote(user_by_email("editor-he@demo.test"), listing_id, YEAR, "object", "Nein")
    result = split_of(listing_id)
    assert (result.key, result.cost_key.decided) == ("usage", True)
    assert "durch Widerspruch abgelehnt" in result.cost_key.source


def test_without_an_alliance_the_usage_key_applies(ctx):
    listing_id = published()
    result = split_of(listing_id)
    assert (result.key, result.funding_model, result.cost_key.decided) == (
        "usage",
        "participants",
        False,
    )
    assert result.cost_key.source.startswith("Kein Beschluss der Allianz für 2024")


# usage figures, key data, plan, participants


def test_usage_splits_by_the_figures_and_counts_a_missing_one_as_zero(ctx, clock):
    listing_id = published()
    own_use(listing_id)
    contract(clock, listing_id, "he", date(YEAR, 1, 1))
    contract(clock, listing_id, "ni", date(YEAR, 1, 1))
    plan(listing_id)
    usage(listing_id, "bb", 300)
    usage(listing_id, "he", 100)
    result = split_of(listing_id)
    assert result.problem is None and result.key == "usage"
    assert result.warnings == ["Ohne Nutzungszahl für 2024, daher mit 0 gezählt: Niedersachsen."]
    assert dict(result.split.cents) == {"12": 750_000, "06": 250_000, "03": 0}
    rows = {row.payer: row for row in result.rows()}
    assert rows["03"].participant and rows["03"].weight == 0 and rows["03"].cents == 0


def test_usage_without_any_figure_is_a_problem_that_says_what_to_do(ctx, clock):
    listing_id = published()
    own_use(listing_id)
    plan(listing_id)
    result = split_of(listing_id)
    assert result.split is None and result.problem_field == "usage"
    assert "braucht Nutzungszahlen" in result.problem
    assert "„Nutzungszahlen“" in result.problem


def test_a_year_without_key_data_is_a_problem_naming_the_key(ctx):
    listing_id = published()
    own_use(listing_id)
    plan(listing_id)
    decide(listing_id, "population")
    result = split_of(listing_id)
    assert result.split is None and result.problem_field == "year"
    assert result.problem.startswith("Für 2024 liegen keine Schlüsseldaten „Einwohnerzahl")
    # Never computed with the figures of another year: once the year has data, it computes.
    load_key_data()
    assert split_of(listing_id).problem is None


def test_without_a_plan_the_problem_is_the_plan(ctx):
    listing_id = published()
    own_use(listing_id)
    result = split_of(listing_id)
    assert (result.has_plan, result.total_cents, result.split) == (False, 0, None)
    assert result.problem_field == "plan"
    assert result.problem.startswith("Für 2024 gibt es noch keinen Kostenplan")


def test_without_a_participant_nobody_pays(ctx):
    listing_id = published()
    plan(listing_id)
    result = split_of(listing_id)
    assert result.problem_field == "participants" and result.split is None
    assert "niemanden" in result.problem


def test_a_mixed_key_combines_the_renormalised_shares(ctx, clock):
    listing_id = published()
    own_use(listing_id)
    contract(clock, listing_id, "he", date(YEAR, 1, 1))
    plan(listing_id)
    load_key_data()
    usage(listing_id, "bb", 1)
    usage(listing_id, "he", 3)
    decide(listing_id, "mixed", parameters={"usage": "50", "koenigstein": "50"})
    result = split_of(listing_id)
    assert result.problem is None and result.mix == {"koenigstein": 50, "usage": 50}
    # BB: 1/2 x 1/4 (usage) + 1/2 x 3.03655 / (3.03655 + 7.39885) (Königsteiner Schlüssel)
    # = 27.04927...% -> 270,492.75 cents exact; the left-over cent goes to BB (.75 > .25).
    assert dict(result.split.cents) == {"12": 270_493, "06": 729_507}
    bb = next(row for row in result.rows() if row.payer == "12")
    assert bb.weight == Fraction(1, 8) + Fraction(303655, 2 * 1043540)


def test_a_target_group_key_without_a_weight_for_a_participant(ctx, clock):
    listing_id = published()
    own_use(listing_id)
    contract(clock, listing_id, "he", date(YEAR, 1, 1))
    plan(listing_id)
    decide(listing_id, "target_group", parameters={"BB": "120", "NI": "80"})
    result = split_of(listing_id)
    assert result.split is None and result.problem_field == "parameters"
    assert "kein Gewicht für Hessen" in result.problem


def test_efa_2024_bund_pays_a_quarter_and_every_land_the_all_laender_pool(ctx, clock):
    listing_id = published()
    own_use(listing_id)
    contract(clock, listing_id, "he", date(YEAR, 7, 1))  # 6 months
    plan(listing_id, 4_000_000)
    load_key_data()
    decide(listing_id, "koenigstein", "efa_2024")
    result = split_of(listing_id)
    assert result.problem is None and result.funding_model == "efa_2024"
    pools = {pool.name: pool.cents for pool in result.split.pools}
    assert pools == {"participants": 2_000_000, "bund": 1_000_000, "laender": 1_000_000}
    assert result.cents_of("bund") == 1_000_000
    koenigstein = {
        ags: Fraction(value) for ags, value in cost_data.key_values("koenigstein", 2017).items()
    }
    # The participants' half, pro rata: BB 12 months, HE 6 months.
    bb_weight, he_weight = koenigstein["12"] * 12, koenigstein["06"] * 6
    rows = {row.payer: row for row in result.rows()}
    exact_bb = 2_000_000 * bb_weight / (bb_weight + he_weight)
    assert abs(rows["12"].participants_cents - exact_bb) < 1
    assert rows["12"].participants_cents + rows["06"].participants_cents == 2_000_000
    # Bayern takes no part, yet pays its Königsteiner share of the all-Länder pool for the
    # whole year.
    bayern = rows["09"]
    assert not bayern.participant and bayern.participants_cents == 0
    assert abs(bayern.laender_cents - 1_000_000 * koenigstein["09"] / 100) < 1
    assert bayern.cents == bayern.laender_cents
    laender = {line.payer: line for line in result.split.pool("laender").lines}
    assert len(laender) == 16 and laender["09"].months == 12
    assert sum(result.split.cents.values()) == 4_000_000


# the cost plan


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (-1, "nicht negativ"),
        (True, "ganze Zahl"),
        ("1000", "ganze Zahl"),
        (12.5, "ganze Zahl"),
        (2**63, "zu groß"),
    ],
)
def test_bad_plan_amounts_are_refused(ctx, amount, message):
    listing_id = published()
    with pytest.raises(Invalid) as refused:
        cost_sharing.add_plan_item(
            user_by_email("editor-bb@demo.test"), listing_id, YEAR, "development", amount
        )
    assert message in refused.value.errors["amount_cents"][0]
    assert cost_sharing.plan_years(listing_id) == []


def test_the_largest_amount_is_stored_exactly_but_a_sum_beyond_it_is_refused(ctx):
    listing_id = published()
    bb = user_by_email("editor-bb@demo.test")
    biggest = 2**63 - 1
    item = cost_sharing.add_plan_item(bb, listing_id, YEAR, "development", biggest - 10)
    cost_sharing.add_plan_item(bb, listing_id, YEAR, "direct", 10)
    with pytest.raises(Invalid) as refused:
        cost_sharing.add_plan_item(bb, listing_id, YEAR, "direct", 1)
    assert "Summe des Kostenplans" in refused.value.errors["amount_cents"][0]
    with pytest.raises(Invalid):
        cost_sharing.update_plan_item(bb, listing_id, item.id, "development", biggest - 9)
    db.session.expire_all()
    assert cost_sharing.plan_totals(YEAR, [listing_id]) == {listing_id: biggest}


def test_a_plan_holds_at_most_100_items(ctx):
    listing_id = published()
    bb = user_by_email("editor-bb@demo.test")
    for number in range(100):
        cost_sharing.add_plan_item(bb, listing_id, YEAR, "direct", 100, f"Position {number}")
    with pytest.raises(Invalid) as refused:
        cost_sharing.add_plan_item(bb, listing_id, YEAR, "direct", 100)
    assert "höchstens 100 Positionen" in refused.value.errors["cost_type"][0]
    assert len(cost_sharing.get_plan(bb, listing_id, YEAR).items) == 100
    # The limit is per year.
    cost_sharing.add_plan_item(bb, listing_id, YEAR + 1, "direct", 100)


def test_plan_items_are_checked_field_by_field(ctx):
    listing_id = published()
    with pytest.raises(Invalid) as refused:
        cost_sharing.add_plan_item(
            user_by_email("editor-bb@demo.test"), listing_id, "24", "catering", 1, "x" * 201
        )
    assert set(refused.value.errors) == {"year"}
    with pytest.raises(Invalid) as refused:
        cost_sharing.add_plan_item(
            user_by_email("editor-bb@demo.test"), listing_id, YEAR, "catering", 1, "x" * 201
        )
    assert set(refused.value.errors) == {"cost_type", "description"}


def _audit_rows(listing_id: int) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.object_type == "listing",
                AuditEvent.object_id == str(listing_id),
                AuditEvent.action.like("cost_plan.%"),
            )
            .order_by(AuditEvent.id)
        )
    )


def test_adding_changing_and_removing_an_item_each_write_one_audit_row(ctx):
    listing_id = published()
    bb = user_by_email("editor-bb@demo.test")
    item = cost_sharing.add_plan_item(bb, listing_id, YEAR, "development", 5_000, "Pflege")
    item_id, version = item.id, item.lock_version
    changed = cost_sharing.update_plan_item(
        bb, listing_id, item_id, "infrastructure", 7_500, "Hosting", version=version
    )
    assert changed.lock_version == version + 1
    cost_sharing.delete_plan_item(bb, listing_id, item_id, version=changed.lock_version)
    rows = _audit_rows(listing_id)
    assert [row.action for row in rows] == [
        "cost_plan.item_added",
        "cost_plan.item_changed",
        "cost_plan.item_removed",
    ]
    assert {row.actor_email for row in rows} == {"editor-bb@demo.test"}
    assert {row.land_ags for row in rows} == {"12"}
    added, changed_row, removed = (json.loads(row.details) for row in rows)
    assert added == {
        "item": item_id,
        "year": YEAR,
        "cost_type": "development",
        "amount_cents": 5_000,
        "description": "Pflege",
    }
    assert changed_row["before"]["amount_cents"] == 5_000
    assert changed_row["after"] == {
        "year": YEAR,
        "cost_type": "infrastructure",
        "amount_cents": 7_500,
        "description": "Hosting",
    }
    assert removed["amount_cents"] == 7_500
    assert db.session.get(CostPlanItem, item_id) is None
    assert audit.verify_chain().ok


def test_a_stale_version_is_refused_and_nothing_changes(ctx):
    listing_id = published()
    bb = user_by_email("editor-bb@demo.test")
    item = cost_sharing.add_plan_item(bb, listing_id, YEAR, "development", 5_000)
    item_id, seen = item.id, item.lock_version
    cost_sharing.update_plan_item(bb, listing_id, item_id, "development", 6_000, version=seen)
    with pytest.raises(PreconditionFailed):
        cost_sharing.update_plan_item(bb, listing_id, item_id, "development", 9_000, version=seen)
    with pytest.raises(PreconditionFailed):
        cost_sharing.delete_plan_item(bb, listing_id, item_id, version=seen)
    db.session.expire_all()
    assert db.session.get(CostPlanItem, item_id).amount_cents == 6_000
    assert len(_audit_rows(listing_id)) == 2


def test_only_an_editor_of_the_provider_land_keeps_the_plan(ctx, clock):
    listing_id = published()
    bb = user_by_email("editor-bb@demo.test")
    item_id = cost_sharing.add_plan_item(bb, listing_id, YEAR, "development", 5_000).id
    # Hessen has nothing to do with the listing's costs: the plan does not exist for it.
    he = user_by_email("editor-he@demo.test")
    with pytest.raises(NotFound):
        cost_sharing.add_plan_item(he, listing_id, YEAR, "development", 1)
    with pytest.raises(NotFound):
        cost_sharing.get_plan(he, listing_id, YEAR)
    # As a participant Hessen sees the plan, but may not change it.
    contract(clock, listing_id, "he", date(YEAR, 1, 1))
    assert cost_sharing.get_plan(he, listing_id, YEAR).may_edit is False
    for email in ("editor-he@demo.test", "viewer-bb@demo.test", "fitko-1@demo.test"):
        actor = user_by_email(email)
        with pytest.raises(Forbidden):
            cost_sharing.add_plan_item(actor, listing_id, YEAR, "development", 1)
        with pytest.raises(Forbidden):
            cost_sharing.update_plan_item(actor, listing_id, item_id, "development", 1)
        with pytest.raises(Forbidden):
            cost_sharing.delete_plan_item(actor, listing_id, item_id)
    # An item of another listing is not found through this one.
    other = published("Andere Leistung")
    with pytest.raises(NotFound):
        cost_sharing.update_plan_item(bb, other, item_id, "development", 1)
    with pytest.raises(NotFound):
        cost_sharing.delete_plan_item(bb, other, item_id)
    db.session.expire_all()
    assert db.session.get(CostPlanItem, item_id).amount_cents == 5_000


@pytest.mark.parametrize("item_id", [0, -1, 2**31, 2**63, "1", None])
def test_an_item_id_that_cannot_exist_is_not_found(ctx, item_id):
    """Also ids beyond the database's integer (PostgreSQL would fail on them)."""
    listing_id = published()
    bb = user_by_email("editor-bb@demo.test")
    with pytest.raises(NotFound):
        cost_sharing.update_plan_item(bb, listing_id, item_id, "development", 1)
    with pytest.raises(NotFound):
        cost_sharing.delete_plan_item(bb, listing_id, item_id)


# the simulation


SIMULATION_TABLES = (CostPlanItem, UsageFigure, Reuse, Contract, CostKeyDecision, AuditEvent)


def test_simulate_recomputes_without_writing_anything(ctx, clock):
    listing_id = published()
    own_use(listing_id)
    contract(clock, listing_id, "he", date(YEAR, 1, 1))
    plan(listing_id)
    load_key_data()
    decide(listing_id, "koenigstein")
    real = split_of(listing_id)
    before = [count(model) for model in SIMULATION_TABLES]
    fitko = user_by_email("fitko-1@demo.test")
    # What if MV and SH also joined from April, under the Einwohner?
    what_if = cost_sharing.simulate(
        fitko,
        listing_id,
        YEAR,
        participants=[
            {"land": "12", "months": 12},
            {"land": "HE", "months": 12},
            {"land": "MV", "months": 9},
            {"land": "DE-SH", "months": 9},
        ],
        key="population",
    )
    assert what_if.simulated and what_if.problem is None
    assert months_of(what_if) == {"12": 12, "06": 12, "13": 9, "01": 9}
    assert what_if.key == "population" and not what_if.cost_key.decided
    assert sum(what_if.split.cents.values()) == TOTAL
    assert what_if.cents_of("12") < real.cents_of("12")
    # A different total and funding model.
    efa = cost_sharing.simulate(fitko, listing_id, YEAR, funding_model="efa_2024", total_cents=400)
    assert efa.cents_of("bund") == 100 and efa.total_cents == 400
    assert [count(model) for model in SIMULATION_TABLES] == before
    db.session.expire_all()
    again = split_of(listing_id)
    assert again.key == "koenigstein" and dict(again.split.cents) == dict(real.split.cents)


@pytest.mark.parametrize(
    ("arguments", "field", "message"),
    [
        ({"participants": [{"land": "12", "months": 13}]}, "participants", "0 bis 12"),
        ({"participants": [{"land": "XX", "months": 1}]}, "participants", "Unbekanntes Land"),
        (
            {"participants": [{"land": "12"}, {"land": "BB", "months": 3}]},
            "participants",
            "doppelt",
        ),
        (
            {"key": "mixed", "parameters": {"usage": "50", "koenigstein": "40"}},
            "parameters",
            "genau 100",
        ),
        ({"key": "lottery"}, "key", "Unbekannter Schlüssel"),
        ({"total_cents": -5}, "total_cents", "nicht negativ"),
        ({"total_cents": 2**63}, "total_cents", "zu groß"),
    ],
)
def test_simulate_refuses_bad_input(ctx, arguments, field, message):
    listing_id = published()
    own_use(listing_id)
    plan(listing_id)
    before = count(AuditEvent)
    with pytest.raises(Invalid) as refused:
        cost_sharing.simulate(user_by_email("fitko-1@demo.test"), listing_id, YEAR, **arguments)
    assert message in " ".join(refused.value.errors[field])
    assert count(AuditEvent) == before


def test_simulate_follows_the_visibility_of_the_split(ctx):
    listing_id = published()
    own_use(listing_id)
    plan(listing_id)
    with pytest.raises(NotFound):
        cost_sharing.simulate(user_by_email("editor-he@demo.test"), listing_id, YEAR)
    viewer = user_by_email("viewer-bb@demo.test")
    result = cost_sharing.simulate(viewer, listing_id, YEAR, key="equal")
    assert dict(result.split.cents) == {"12": TOTAL}


# the statement of a Land


def test_a_lands_statement(ctx, clock):
    load_key_data()
    # A: Königsteiner Schlüssel among BB and HE; Hessen's contract from 15 March with
    # one-off connection costs of 2,500.00 EUR.
    shared = published("A Geteilte Kosten")
    own_use(shared)
    contract(clock, shared, "he", date(YEAR, 3, 15), connection_cents=250_000)
    plan(shared, 1_200_000)
    decide(shared, "koenigstein")
    # B: efa_2024, Brandenburg alone; Hessen pays its part of the all-Länder pool.
    efa = published("B EfA-Finanzierung")
    own_use(efa)
    plan(efa, 400_000)
    decide(efa, "koenigstein", "efa_2024")
    # C: Hessen takes part, but no usage figure exists: not computable.
    open_listing = published("C Ohne Nutzungszahlen")
    contract(clock, open_listing, "he", date(YEAR, 1, 1))
    plan(open_listing)

    he = user_by_email("viewer-he@demo.test")
    statement = cost_sharing.land_statement(he, "06", YEAR)
    lines = {line.listing.id: line for line in statement.lines}
    assert set(lines) == {shared, efa}
    assert lines[shared].cents == split_of(shared).cents_of("06") > 0
    assert lines[shared].row.months == 10
    efa_row = lines[efa].row
    assert not efa_row.participant and efa_row.participants_cents == 0
    assert efa_row.cents == efa_row.laender_cents == split_of(efa).cents_of("06") > 0
    open_items = {line.listing.id: line.split.problem_field for line in statement.open_items}
    assert open_items.pop(open_listing) == "usage"
    # Hessen's demo reuses run in this year too, without a plan: open items as well.
    assert set(open_items.values()) <= {"plan"}
    (connection,) = statement.connection_costs
    assert (connection.listing.id, connection.cents) == (shared, 250_000)
    assert connection.effective_date == date(YEAR, 3, 15)
    assert statement.shared_cents == lines[shared].cents + lines[efa].cents
    assert statement.total_cents == statement.shared_cents + 250_000
    # The one-off connection costs belong to the year the contract took effect only.
    plan(shared, 1_200_000, YEAR + 1)
    next_year = cost_sharing.land_statement(he, "06", YEAR + 1)
    assert next_year.connection_costs == [] and next_year.connection_cents == 0
    # Hessen still takes part (no key adopted for that year, no usage: an open item).
    assert shared in {line.listing.id for line in next_year.open_items}
    # Brandenburg's statement has its own shares; Hessen cannot open it.
    bb = cost_sharing.land_statement(user_by_email("editor-bb@demo.test"), "12", YEAR)
    assert {line.listing.id: line.cents for line in bb.lines} == {
        shared: split_of(shared).cents_of("12"),
        efa: split_of(efa).cents_of("12"),
    }
    assert bb.connection_costs == []
    assert {line.split.problem_field for line in bb.open_items} <= {"plan"}
    with pytest.raises(NotFound):
        cost_sharing.land_statement(he, "12", YEAR)
    with pytest.raises(NotFound):
        cost_sharing.land_statement(user_by_email("fitko-1@demo.test"), "99", YEAR)
    fitko = cost_sharing.land_statement(user_by_email("fitko-1@demo.test"), "06", YEAR)
    assert fitko.total_cents == statement.total_cents


def test_the_parties_keep_seeing_the_costs_of_a_withdrawn_listing(ctx):
    # Hessen is billed for 2027 whatever happens to the listing afterwards; an outsider
    # still learns nothing.
    from fitstore.errors import NotFound
    from fitstore.services import listings
    from tests.factories import WORKED_EXAMPLE_FULL_YEAR, WORKED_EXAMPLE_YEAR, worked_example

    listing_id = worked_example()
    listings.withdraw_listing(user_by_email("editor-bb@demo.test"), listing_id)
    hessen = cost_sharing.listing_split(
        user_by_email("editor-he@demo.test"), listing_id, WORKED_EXAMPLE_YEAR
    )
    assert hessen.split.cents["06"] == WORKED_EXAMPLE_FULL_YEAR["06"]
    with pytest.raises(NotFound):
        cost_sharing.listing_split(
            user_by_email("editor-by@demo.test"), listing_id, WORKED_EXAMPLE_YEAR
        )
